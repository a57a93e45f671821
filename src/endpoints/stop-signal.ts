/**
 * What stops a store call: an AbortSignal fits, and so does an attempt's AttemptStop, which the
 * request engine makes for every attempt. Why not an AbortController per attempt: on Node 20 its
 * signal, with a listener added and removed, cost 2,000 small PUTs ~190-220 ms of client CPU
 * (8-9% of the run; two rounds of 8 alternating runs, docs/benchmarks.md), though a loop of the
 * same calls alone takes ~12 µs each.
 * A real AbortSignal is made only for an API that needs one, with abortSignalOf(): the SDK
 * (./sdk-store.ts) and AbortSignal.any under limits (./limited-store.ts); the HTTP clients of
 * ./signed-http.ts, ./lean-http.ts and ./raw-get.ts only add and remove a listener.
 */

/** The part of AbortSignal a store call uses (a real AbortSignal is one). */
export interface StopSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  throwIfAborted(): void;
}

/** An attempt's stop, controller and signal in one object; listeners are called once, on abort. */
export class AttemptStop implements StopSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;
  /** made on the first call of signal(): it follows this stop */
  private controller: AbortController | undefined;

  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.aborted) return; // as an AbortSignal: its event has been dispatched already
    const list = (this.listeners ??= []);
    if (!list.includes(listener)) list.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const list = this.listeners;
    const at = list ? list.indexOf(listener) : -1;
    if (at >= 0) list!.splice(at, 1);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Aborts once: listeners in the order added; one that throws does so on the next tick (as EventTarget's do) and the others still run. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    const list = this.listeners;
    this.listeners = undefined;
    for (const listener of list ?? []) {
      try {
        listener();
      } catch (err) {
        process.nextTick(() => { throw err; });
      }
    }
  }

  /** A real AbortSignal that aborts with this stop (already aborted if it has). */
  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}

/** An AbortSignal for an API that takes nothing else. */
export function abortSignalOf(stop: StopSignal): AbortSignal {
  if (stop instanceof AbortSignal) return stop;
  if (stop instanceof AttemptStop) return stop.signal();
  throw new TypeError('abortSignalOf: an AbortSignal or an AttemptStop is needed');
}
