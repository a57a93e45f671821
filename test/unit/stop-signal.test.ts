import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limitedDownload } from '../../src/endpoints/limited-store.js';
import type { ObjectBody } from '../../src/endpoints/object-store.js';
import { abortSignalOf, AttemptStop } from '../../src/endpoints/stop-signal.js';
import { TokenBucket } from '../../src/endpoints/token-bucket.js';

describe('AttemptStop', () => {
  it('calls each listener once, in order, with the reason set; none added after the abort', () => {
    const stop = new AttemptStop();
    const seen: string[] = [];
    const a = (): void => { seen.push(`a:${String(stop.reason)}`); };
    const b = (): void => { seen.push(`b:${String(stop.aborted)}`); };
    stop.addEventListener('abort', a);
    stop.addEventListener('abort', a); // the same listener twice counts once, as on an EventTarget
    stop.addEventListener('abort', b, { once: true });
    stop.abort('why');
    stop.abort('again');
    stop.addEventListener('abort', () => seen.push('late'));
    expect(seen).toEqual(['a:why', 'b:true']);
    expect(stop.reason).toBe('why');
    expect(() => stop.throwIfAborted()).toThrow('why');
  });

  it('does not call a removed listener; throwIfAborted passes before the abort', () => {
    const stop = new AttemptStop();
    let calls = 0;
    const fn = (): void => { calls++; };
    stop.addEventListener('abort', fn);
    stop.removeEventListener('abort', fn);
    stop.removeEventListener('abort', fn);
    expect(() => stop.throwIfAborted()).not.toThrow();
    stop.abort(new Error('x'));
    expect(calls).toBe(0);
  });

  it('runs every listener when one throws, and the throw reaches the process on the next tick', async () => {
    const stop = new AttemptStop();
    const thrown: unknown[] = [];
    const onUncaught = (err: unknown): void => { thrown.push(err); };
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      let after = false;
      stop.addEventListener('abort', () => { throw new Error('listener'); });
      stop.addEventListener('abort', () => { after = true; });
      stop.abort('r');
      expect(after).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(thrown.map((e) => (e as Error).message)).toEqual(['listener']);
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const l of listeners) process.on('uncaughtException', l);
    }
  });

  it('gives a real AbortSignal that follows it, made before or after the abort', () => {
    const before = new AttemptStop();
    const s1 = before.signal();
    expect(s1).toBeInstanceOf(AbortSignal);
    expect(before.signal()).toBe(s1);
    expect(s1.aborted).toBe(false);
    before.abort('cut');
    expect(s1.aborted).toBe(true);
    expect(s1.reason).toBe('cut');
    const after = new AttemptStop();
    after.abort('late');
    expect(after.signal().aborted).toBe(true);
    expect(after.signal().reason).toBe('late');
  });

  it('abortSignalOf: an AbortSignal is itself; anything else is refused', () => {
    const ac = new AbortController();
    expect(abortSignalOf(ac.signal)).toBe(ac.signal);
    const stop = new AttemptStop();
    expect(abortSignalOf(stop)).toBe(stop.signal());
    const duck = { aborted: false, reason: undefined, addEventListener() {}, removeEventListener() {}, throwIfAborted() {} };
    expect(() => abortSignalOf(duck)).toThrow(TypeError);
  });

  it('behaves as an AbortSignal for any order of add, remove and abort (property)', () => {
    type Step = { op: 'add' | 'remove'; fn: number } | { op: 'abort' };
    const step = fc.oneof(
      fc.record({ op: fc.constantFrom('add' as const, 'remove' as const), fn: fc.integer({ min: 0, max: 3 }) }),
      fc.constant({ op: 'abort' as const }),
    );
    fc.assert(fc.property(fc.array(step, { maxLength: 20 }), (steps: Step[]) => {
      const ours = new AttemptStop();
      const ac = new AbortController();
      const got = { ours: [] as number[], real: [] as number[] };
      const fns = [0, 1, 2, 3].map((i) => ({ ours: () => got.ours.push(i), real: () => got.real.push(i) }));
      for (const s of steps) {
        if (s.op === 'abort') { ours.abort('r'); ac.abort('r'); continue; }
        const f = fns[s.fn]!;
        if (s.op === 'add') { ours.addEventListener('abort', f.ours); ac.signal.addEventListener('abort', f.real); }
        else { ours.removeEventListener('abort', f.ours); ac.signal.removeEventListener('abort', f.real); }
      }
      expect(got.ours).toEqual(got.real);
      expect(ours.aborted).toBe(ac.signal.aborted);
    }));
  });

  it('stops a rate-limited download waiting for tokens when the stop aborts (AbortSignal.any through abortSignalOf)', async () => {
    const bucket = new TokenBucket(1024, 1024); // 1 KiB/s: the second KiB waits ~1 s
    const body: ObjectBody = {
      async *[Symbol.asyncIterator]() { yield Buffer.alloc(4096); },
      destroy: () => {},
    };
    const stop = new AttemptStop();
    const limited = limitedDownload(body, 4096, [bucket], stop);
    const read = (async () => { for await (const _ of limited) { /* drain */ } })();
    setTimeout(() => stop.abort(new Error('deadline')), 50);
    // without the abort reaching the wait, the read would end after ~3 s without an error
    await expect(read).rejects.toThrow('deadline');
  });
});
