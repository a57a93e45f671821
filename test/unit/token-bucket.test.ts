import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { parseBwLimit } from '../../src/config/units.js';
import { DeadlineEstimator } from '../../src/endpoints/estimator.js';
import { limitedBody, limitedDownload } from '../../src/endpoints/limited-store.js';
import type { ObjectBody } from '../../src/endpoints/object-store.js';
import { limitedTransferMs, makeLimits } from '../../src/endpoints/limits.js';
import { TokenBucket, type BucketClock } from '../../src/endpoints/token-bucket.js';

/** A clock that moves only when told; timers fire in time order as it passes them. */
class FakeClock implements BucketClock {
  now = 1000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private ids = 0;
  nowMs(): number { return this.now; }
  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimer(h: unknown): void { this.timers = this.timers.filter((t) => t.id !== h); }
  /** Moves time forward by `ms`, firing due timers (and the promise jobs they start) in order. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const t = this.timers[0];
      if (!t || t.at > end) break;
      this.timers.shift();
      this.now = Math.max(this.now, t.at);
      t.fn();
    }
    this.now = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('TokenBucket.reserve (pure, fast-check)', () => {
  it('never grants more than burst + rate × t, and grants in the order asked', () => {
    fc.assert(fc.property(
      fc.double({ min: 1, max: 1e7, noNaN: true }),
      fc.double({ min: 1, max: 1e6, noNaN: true }),
      fc.array(fc.record({ advanceMs: fc.double({ min: 0, max: 2000, noNaN: true }), n: fc.double({ min: 0.001, max: 2e6, noNaN: true }) }), { maxLength: 60 }),
      (rate, burst, takes) => {
        const clock = new FakeClock();
        const t0 = clock.now;
        const b = new TokenBucket(rate, burst, clock);
        const grants: Array<{ at: number; n: number }> = [];
        for (const t of takes) {
          clock.now += t.advanceMs;
          grants.push({ at: clock.now + b.reserve(t.n), n: t.n });
        }
        let granted = 0;
        let last = -Infinity;
        for (const g of grants) {
          expect(g.at).toBeGreaterThanOrEqual(last - 1e-6); // served in order
          last = g.at;
          granted += g.n;
          // everything granted by g.at (this one and every earlier one) fits in the bucket's allowance
          const allowance = burst + (rate * (g.at - t0)) / 1000;
          expect(granted).toBeLessThanOrEqual(allowance * (1 + 1e-9) + 1e-6);
        }
      },
    ), { numRuns: 500 });
  });

  it('keeps up the rate under continuous demand: back-to-back takes are spaced exactly n ÷ rate', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e8 }), fc.integer({ min: 1, max: 1e6 }), (rate, n) => {
      const clock = new FakeClock();
      const b = new TokenBucket(rate, n, clock);
      expect(b.reserve(n)).toBe(0); // starts full
      for (let k = 1; k <= 5; k++) expect(b.reserve(n)).toBeCloseTo((k * n * 1000) / rate, 6);
    }));
  });
});

describe('TokenBucket.take (fake clock)', () => {
  it('shows the rate: 64 KiB takes for 10 simulated seconds at 20 MiB/s grant 20 MiB/s + one burst', async () => {
    const clock = new FakeClock();
    const rate = 20 * 1024 * 1024;
    const burst = rate / 10;
    const b = new TokenBucket(rate, burst, clock);
    let granted = 0;
    let stop = false;
    // four takers at once, as bodies sharing the run's limit
    const takers = [0, 1, 2, 3].map(async () => {
      while (!stop) {
        await b.take(65536);
        if (!stop) granted += 65536;
      }
    });
    await clock.advance(10_000);
    stop = true;
    await clock.advance(1000);
    await Promise.all(takers);
    const ratio = (granted - burst) / (rate * 10);
    expect(ratio).toBeGreaterThan(0.99);
    expect(ratio).toBeLessThanOrEqual(1.0001);
  });

  it('serves waiters in the order they asked, and an aborted waiter leaves at once without blocking the rest', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(1000, 100, clock);
    await b.take(100); // empties it
    const order: string[] = [];
    const ac = new AbortController();
    const p1 = b.take(100).then(() => order.push('a'));
    const p2 = b.take(100, ac.signal).then(() => order.push('b'), (e: unknown) => order.push(`b aborted: ${(e as Error).message}`));
    const p3 = b.take(50).then(() => order.push('c'));
    const p4 = b.take(100).then(() => order.push('d'));
    ac.abort(new Error('ctrl-c'));
    await flush();
    expect(order).toEqual(['b aborted: ctrl-c']); // no clock time passed
    await clock.advance(1000);
    await Promise.all([p1, p2, p3, p4]);
    expect(order).toEqual(['b aborted: ctrl-c', 'a', 'c', 'd']);
    expect(b.waiting).toBe(0);
  });

  it('rejects at once with an already-aborted signal', async () => {
    const b = new TokenBucket(1, 1, new FakeClock());
    await expect(b.take(1, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});

describe('limited bodies', () => {
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));

  async function collect(s: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const c of s) out.push(Buffer.from(c));
    return Buffer.concat(out);
  }

  it('an upload body (buffer or stream) comes through byte-exact, in takes of at most 64 KiB, only as the clock allows', async () => {
    for (const body of [bytes, () => Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)])]) {
      const clock = new FakeClock();
      const bucket = new TokenBucket(100_000, 65_536, clock);
      const stream = limitedBody(body, bytes.length, [bucket], new AbortController().signal)();
      const got = collect(stream as unknown as AsyncIterable<Buffer>);
      await clock.advance(1000);
      // 64 KiB at once + 100 KB/s for 1 s: not the whole body yet
      let done = false;
      void got.then(() => { done = true; });
      await flush();
      expect(done).toBe(false);
      await clock.advance(2000);
      expect((await got).equals(bytes)).toBe(true);
    }
  });

  it('an upload body waiting for tokens fails at once with the request signal\'s reason', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1000, 65_536, clock);
    const ac = new AbortController();
    const stream = limitedBody(bytes, bytes.length, [bucket], ac.signal)();
    const got = collect(stream as unknown as AsyncIterable<Buffer>);
    await flush();
    ac.abort(new Error('deadline'));
    await expect(got).rejects.toThrow('deadline');
    expect(bucket.waiting).toBe(0);
  });

  it('a download body is read byte-exact as tokens come; destroying it ends the wait', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(100_000, 65_536, clock);
    const src = Readable.from([bytes]);
    const body = limitedDownload({ [Symbol.asyncIterator]: () => src[Symbol.asyncIterator](), destroy: (e?: Error) => src.destroy(e) }, bytes.length, [bucket], new AbortController().signal);
    const got = collect(body);
    await clock.advance(5000);
    expect((await got).equals(bytes)).toBe(true);

    const src2 = Readable.from([bytes]);
    const body2 = limitedDownload({ [Symbol.asyncIterator]: () => src2[Symbol.asyncIterator](), destroy: (e?: Error) => src2.destroy(e) }, bytes.length, [new TokenBucket(1000, 65_536, clock)], new AbortController().signal);
    const got2 = collect(body2);
    await flush();
    body2.destroy(new Error('consumer gave up'));
    await expect(got2).rejects.toThrow();
  });
});

describe('the wait bound the deadline relies on (fake clock)', () => {
  /** A body of `bytes` read from a source handing over pieces of `piece` bytes at once. */
  function source(bytes: number, piece: number): ObjectBody {
    const pieces: Buffer[] = [];
    for (let at = 0; at < bytes; at += piece) pieces.push(Buffer.alloc(Math.min(piece, bytes - at)));
    const it = Readable.from(pieces);
    return { [Symbol.asyncIterator]: () => it[Symbol.asyncIterator](), destroy: (e?: Error) => it.destroy(e) };
  }

  it('every body among `sharers` finishes within limitedTransferMs, whatever the sizes and the socket\'s pieces', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 20_000, max: 2_000_000 }),
      fc.array(fc.record({ bytes: fc.integer({ min: 1, max: 400_000 }), piece: fc.integer({ min: 100, max: 70_000 }), startMs: fc.integer({ min: 0, max: 500 }) }), { minLength: 1, maxLength: 6 }),
      async (rate, bodies) => {
        const clock = new FakeClock();
        const limits = makeLimits({ bytesPerSecond: rate }, 0, 1, bodies.length, clock);
        const buckets = limits.down.map((l) => l.bucket);
        // the bucket starts empty here: the bound must hold without the initial burst
        await buckets[0]!.take(buckets[0]!.burst);
        const took: number[] = [];
        const runs = bodies.map(async (b, i) => {
          await new Promise<void>((r) => clock.setTimer(r, b.startMs));
          const t0 = clock.now;
          let n = 0;
          for await (const c of limitedDownload(source(b.bytes, b.piece), b.bytes, buckets, new AbortController().signal)) n += c.length;
          expect(n).toBe(b.bytes);
          took[i] = clock.now - t0;
        });
        await clock.advance(1e7);
        await Promise.all(runs);
        for (const [i, b] of bodies.entries()) expect(took[i]!).toBeLessThanOrEqual(limitedTransferMs(b.bytes, limits.down) + 2);
      },
    ), { numRuns: 40 });
  });
});

describe('--bwlimit values (rclone syntax)', () => {
  const MiB = 1024 * 1024;
  it.each([
    ['10M', { bytesPerSecond: 10 * MiB }],
    ['512k', { bytesPerSecond: 512 * 1024 }],
    ['1G', { bytesPerSecond: 1024 * MiB }],
    ['50MiB/s', { bytesPerSecond: 50 * MiB }],
    ['50MB/s', { bytesPerSecond: 50e6 }],
    ['1.5M', { bytesPerSecond: 1.5 * MiB }],
    ['100', { bytesPerSecond: 100 * 1024 }],
    ['2048B', { bytesPerSecond: 2048 }],
    ['off', {}],
    ['0', {}],
    ['10M:off', { upBytesPerSecond: 10 * MiB }],
    ['off:512k', { downBytesPerSecond: 512 * 1024 }],
    ['10M:1M', { upBytesPerSecond: 10 * MiB, downBytesPerSecond: MiB }],
  ])('%s', (text, want) => {
    expect(parseBwLimit(text, '--bwlimit')).toEqual(want);
  });

  it.each(['fast', '', '10 Mbit', '08:00,512k', '1M:2M:3M', '-1M', '10X', '100B', '0.5'])('refuses %j with one line naming the flag', (text) => {
    expect(() => parseBwLimit(text, '--bwlimit')).toThrow(/^--bwlimit: '/);
  });
});

describe('the deadline of a limited body', () => {
  it('is never below fraction × the time the limit imposes, even past maxMs; unchanged without a limit', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 5 * 1024 ** 3 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1024, max: 1e9 }), fc.integer({ min: 1, max: 1024 }),
      (bytes, attempt, concurrency, rate, sharers) => {
        const e = new DeadlineEstimator(DEFAULT_ESTIMATOR);
        const limits = makeLimits({ bytesPerSecond: rate }, 0, 1, sharers);
        const limitedMs = limitedTransferMs(bytes, limits.up);
        expect(limitedMs).toBeGreaterThanOrEqual(((bytes * 1000) / rate) * (1 - 1e-12));
        const d = e.deadlineMs(bytes, attempt, concurrency, limitedMs);
        const plain = e.deadlineMs(bytes, attempt, concurrency);
        expect(d).toBeGreaterThanOrEqual(plain);
        expect(d).toBeGreaterThanOrEqual(DEFAULT_ESTIMATOR.fraction * limitedMs * DEFAULT_ESTIMATOR.backoff ** attempt * (1 - 1e-12));
        expect(e.deadlineMs(bytes, attempt, concurrency, 0)).toBe(plain);
      },
    ));
  });
});
