/**
 * src/fs/file-range.ts: a RangePump writes exactly the range's bytes, in order, whatever the
 * range (a property over file sizes and ranges); never more than two chunks await their write's
 * callback, and a chunk is reused only after its callback; a file cut short is ShortRead; stop()
 * ends it with nothing written after; a write that calls back with an error stops it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRange, RANGE_CHUNK_BYTES, RangePump, ShortRead } from '../../src/fs/file-range.js';

let dir: string;
let file: string;
const bytes = crypto.randomBytes(3 * RANGE_CHUNK_BYTES + 1234);
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-file-range-'));
  file = path.join(dir, 'f.bin');
  fs.writeFileSync(file, bytes);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A sink that copies each chunk and calls back `delayMs` later; it records chunks awaiting a callback. */
function sink(delayMs = 1): { write: (c: Buffer, done: (err?: Error | null) => void) => void; got: Buffer[]; maxPending: number; reusedPending: number } {
  const pending = new Set<ArrayBufferLike>();
  const s = {
    got: [] as Buffer[], maxPending: 0, reusedPending: 0,
    write: (c: Buffer, done: (err?: Error | null) => void): void => {
      if (pending.has(c.buffer)) s.reusedPending++;
      pending.add(c.buffer);
      s.maxPending = Math.max(s.maxPending, pending.size);
      s.got.push(Buffer.from(c));
      setTimeout(() => { pending.delete(c.buffer); done(); }, delayMs);
    },
  };
  return s;
}

describe('RangePump', () => {
  it('writes exactly the range, in order, for any range of the file (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: bytes.length }).chain((start) => fc.tuple(fc.constant(start), fc.integer({ min: 0, max: bytes.length - start }))),
      async ([start, len]) => {
        const s = sink();
        const pump = new RangePump(new FileRange(file, start, len), s.write);
        await pump.run();
        expect(pump.finished).toBe(true);
        expect(Buffer.concat(s.got).equals(bytes.subarray(start, start + len))).toBe(true);
      },
    ), { numRuns: 25, examples: [[[0, bytes.length]], [[RANGE_CHUNK_BYTES - 1, 2 * RANGE_CHUNK_BYTES + 2]]] });
  });

  it('reads one chunk ahead of a slow socket, no more, and reuses no chunk a write still holds', async () => {
    for (let run = 0; run < 2; run++) { // the second run takes its chunks from the first one's
      const s = sink(25); // far longer than a read of a chunk
      await new RangePump(new FileRange(file, 0, bytes.length), s.write).run();
      expect(Buffer.concat(s.got).equals(bytes)).toBe(true);
      expect(s.maxPending).toBe(2);
      expect(s.reusedPending).toBe(0);
    }
  });

  it('a file that ends before the range: ShortRead, not finished', async () => {
    const s = sink();
    const pump = new RangePump(new FileRange(file, bytes.length - 100, 200), s.write);
    await expect(pump.run()).rejects.toBeInstanceOf(ShortRead);
    expect(pump.finished).toBe(false);
  });

  it('stop(): no chunk is written after it, and run() resolves unfinished', async () => {
    let writes = 0;
    let pump: RangePump | undefined;
    pump = new RangePump(new FileRange(file, 0, bytes.length), (_c, done) => {
      writes++;
      pump!.stop();
      setImmediate(done);
    });
    await pump.run();
    expect(writes).toBe(1);
    expect(pump.finished).toBe(false);
  });

  it('a write that calls back with an error stops it', async () => {
    let writes = 0;
    const pump = new RangePump(new FileRange(file, 0, bytes.length), (_c, done) => { writes++; setImmediate(() => done(new Error('socket gone'))); });
    await pump.run();
    expect(pump.finished).toBe(false);
    expect(writes).toBeLessThanOrEqual(2);
  });

  it('stream(): the same bytes, for senders that take a stream', async () => {
    const chunks: Buffer[] = [];
    for await (const c of new FileRange(file, 10, RANGE_CHUNK_BYTES + 7).stream()) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes.subarray(10, 10 + RANGE_CHUNK_BYTES + 7))).toBe(true);
  });
});
