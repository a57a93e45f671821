/**
 * src/fs/chunk-pool.ts: a lent buffer returns to its pool only once its owner retired it and every
 * retained slice was released (a property over any order of retains, releases and retires, over
 * two slice objects); a release without its retain, or a stale retire, does nothing, not even to
 * a later lending of the same buffer; other buffers are left alone. And its user: drainTo releases
 * a chunk only after its write.
 */
import type fs from 'node:fs';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkPool, LentChunk, releaseSlice, retainSlice } from '../../src/fs/chunk-pool.js';
import { drainTo } from '../../src/ops/drain-to.js';

describe('ChunkPool and lent buffers', () => {
  it('a lent buffer returns only when retired with every retained slice released, whatever the order (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom('retain', 'release', 'retire'), fc.integer({ min: 0, max: 1 })), { maxLength: 30 }),
      (steps) => {
        const pool = new ChunkPool(1024, 4);
        const lending = new LentChunk(pool);
        const slices = [lending.buf.subarray(10, 20), lending.buf.subarray(500, 600)];
        const held = [0, 0];
        let retired = false;
        for (const [op, i] of steps) {
          if (op === 'retain') { retainSlice(slices[i]!); held[i]!++; }
          if (op === 'release') { releaseSlice(slices[i]!); held[i] = Math.max(0, held[i]! - 1); } // a release too many: nothing
          if (op === 'retire') { lending.retire(); retired = true; }
          const back = pool.freeCount === 1;
          expect(back).toBe(retired && held[0] === 0 && held[1] === 0);
          if (back) return;
        }
      },
    ), { numRuns: 300 });
  });

  it('a stale retire or release does not touch a later lending of the same buffer; other buffers are left alone', () => {
    const pool = new ChunkPool(64, 1);
    const mine = Buffer.alloc(64);
    retainSlice(mine); releaseSlice(mine);
    expect(pool.freeCount).toBe(0);
    const first = new LentChunk(pool);
    const oldSlice = first.buf.subarray(0, 8);
    retainSlice(oldSlice);
    releaseSlice(oldSlice);
    first.retire();
    expect(pool.freeCount).toBe(1);
    const second = new LentChunk(pool);
    expect(second.buf).toBe(first.buf); // the same memory, lent again
    const live = second.buf.subarray(0, 8);
    retainSlice(live);
    first.retire(); // stale
    releaseSlice(oldSlice); // stale
    second.retire();
    expect(pool.freeCount).toBe(0); // `live` still holds it
    releaseSlice(live);
    expect(pool.freeCount).toBe(1);
  });

  it('drainTo releases each chunk once, only once its write is done (a chunk another holder retained stays out)', async () => {
    const pool = new ChunkPool(256 * 1024, 8);
    const lendings = [new LentChunk(pool), new LentChunk(pool), new LentChunk(pool)];
    const bufs = lendings.map((l) => l.buf);
    for (const l of lendings) { l.buf.fill(7); retainSlice(l.buf); l.retire(); } // as raw-get: pushed, then retired
    let writeDone: (() => void) | undefined;
    const fh = { writev: (w: Buffer[]) => new Promise<{ bytesWritten: number }>((r) => { writeDone = () => r({ bytesWritten: w.reduce((n, b) => n + b.length, 0) }); }) };
    retainSlice(bufs[0]!); // a second holder of the first chunk
    const drained = drainTo(Readable.from(bufs), { fh: fh as unknown as fs.promises.FileHandle, position: 0, maxBytes: 1 << 30, onBytes: () => {}, tooLong: () => new Error('long') });
    for (let i = 0; i < 50 && !writeDone; i++) await new Promise((r) => setImmediate(r));
    expect(pool.freeCount).toBe(0); // the write holds them
    writeDone!();
    await drained;
    expect(pool.freeCount).toBe(2);
    releaseSlice(bufs[0]!);
    expect(pool.freeCount).toBe(3);
  });
});
