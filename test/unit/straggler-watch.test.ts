/**
 * The engine's one timer for small first copies (src/engine/straggler-watch.ts): each copy still
 * waiting past its time is handed on once, never before it, and a settled one never; one timer
 * armed at a time, not one per copy.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StragglerWatch, type Watched } from '../../src/engine/straggler-watch.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class Copy implements Watched {
  settled = false;
  straggledAt: number[] = [];
  constructor(readonly dueAt: number) {}
  straggled(): void { this.straggledAt.push(performance.now()); }
}

afterEach(() => { vi.restoreAllMocks(); });

describe('StragglerWatch', () => {
  it('hands on each copy still waiting past its time, once and never early; a settled copy never', async () => {
    const watch = new StragglerWatch();
    const now = performance.now();
    const copies = Array.from({ length: 60 }, (_, i) => new Copy(now + 20 + (i % 3) * 15));
    for (const c of copies) watch.add(c);
    await sleep(5);
    copies.forEach((c, i) => { if (i % 4 !== 0) c.settled = true; });
    await sleep(90);
    for (const [i, c] of copies.entries()) {
      if (i % 4 !== 0) expect(c.straggledAt).toEqual([]);
      else {
        expect(c.straggledAt).toHaveLength(1);
        expect(c.straggledAt[0]!).toBeGreaterThanOrEqual(c.dueAt);
      }
    }
    expect(watch.size).toBe(0);
  });

  it('arms one timer for many copies, not one per copy', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const watch = new StragglerWatch();
    const now = performance.now();
    // 200 copies sent over 2 ms, all answered before their time (30 ms)
    for (let i = 0; i < 200; i++) watch.add(new Copy(now + 30 + i / 100));
    const armed = spy.mock.calls.length;
    expect(armed).toBe(1);
  });

  // A turn of the event loop that reads many answers can take tens of ms on a loaded machine; a
  // look deferred past it (setImmediate, e75f52a) cut the proxy's stragglers in bench H3 past 3x
  // the median (up to 16 in a rep, against 0 looking at once: docs/benchmarks.md, run 80).
  it('looks when its timer fires, before the answers waiting on sockets are read', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      const order: string[] = [];
      socket.on('data', () => order.push('answer read'));
      const [serverSide] = await Promise.all([accepted, new Promise<void>((r) => socket.once('connect', r))]);
      const watch = new StragglerWatch();
      const copy = new Copy(performance.now() + 5);
      copy.straggled = () => { order.push('straggler handed on'); };
      watch.add(copy);
      // the answer is written to the socket at once; it arrives and the copy falls due while the
      // loop is busy, so both wait for the loop's next turn
      serverSide.write('answer');
      const busyUntil = performance.now() + 40;
      while (performance.now() < busyUntil) { /* busy */ }
      await sleep(20);
      expect(order).toEqual(['straggler handed on', 'answer read']);
      serverSide.destroy();
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
