/**
 * src/fs/follow-md5.ts: the MD5 of a file written front to back, hashed by a worker thread from
 * the file as each write lands, is the MD5 of exactly the bytes written, whatever the sizes of
 * the writes (property); it is computed off the main thread; a file shorter than the writes
 * claimed fails with ShortRead; a worker that dies fails the digest instead of answering.
 * PartsMd5: parts written in any interleaving, some tried again (with other bytes), give the MD5
 * of what the file finally holds (property).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShortRead } from '../../src/fs/file-range.js';
import { FollowMd5, PartsMd5 } from '../../src/fs/follow-md5.js';
import { ReadHashPool } from '../../src/fs/read-hash.js';

let dir: string;
let n = 0;
const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
/** files are kept small and handed over in 16 KiB stretches: the suite's timed unit tests run beside this one */
const STEP = 16 * 1024;

beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-follow-md5-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `bytes` to a new file in pieces of `sizes` (cycled), telling `follow` after each write. */
async function writeFollowed(bytes: Buffer, sizes: number[], pool: ReadHashPool, expectedBytes?: number): Promise<{ file: string; hash: FollowMd5 }> {
  const file = path.join(dir, `f${n++}.bin`);
  const fh = await fs.promises.open(file, 'wx');
  const hash = new FollowMd5(file, { pool, stepBytes: STEP, expectedBytes });
  try {
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const len = Math.min(sizes[i % sizes.length]!, bytes.length - at);
      const { bytesWritten } = await fh.write(bytes, at, len, at);
      hash.wrote(bytesWritten);
      at += bytesWritten;
    }
  } finally {
    await fh.close();
  }
  return { file, hash };
}

describe('FollowMd5', () => {
  it('is the MD5 of the bytes written, whatever the sizes of the writes (across the hand-over of a stretch)', async () => {
    const pool = new ReadHashPool(2);
    const content = crypto.randomBytes(5 * STEP + 3);
    try {
      await fc.assert(fc.asyncProperty(
        // a few bytes in writes of a few bytes, or up to 5 stretches in writes of 1/8 to 3 stretches
        fc.oneof(
          fc.tuple(fc.integer({ min: 0, max: 300 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 })),
          fc.tuple(fc.integer({ min: 0, max: content.length }), fc.array(fc.integer({ min: STEP / 8, max: 3 * STEP }), { minLength: 1, maxLength: 6 })),
        ),
        async ([length, sizes]) => {
          const bytes = content.subarray(0, length);
          const { hash } = await writeFollowed(bytes, sizes, pool);
          expect(await hash.digest()).toBe(md5(bytes));
        },
      ), { numRuns: 30 });
    } finally {
      await pool.terminate();
    }
  });

  it('several files followed at once on one thread each get their own MD5', async () => {
    const pool = new ReadHashPool(1);
    const files = [crypto.randomBytes(3 * STEP), crypto.randomBytes(STEP + 1), Buffer.alloc(0), crypto.randomBytes(4 * STEP)];
    try {
      const got = await Promise.all(files.map(async (b) => (await writeFollowed(b, [Math.round(STEP * 0.7)], pool)).hash.digest()));
      expect(got).toEqual(files.map(md5));
    } finally {
      await pool.terminate();
    }
  });

  it('hashes off the main thread: no MD5 is computed here', async () => {
    const pool = new ReadHashPool(1);
    const bytes = crypto.randomBytes(3 * STEP);
    const want = md5(bytes);
    const spy = vi.spyOn(crypto, 'createHash');
    try {
      const { hash } = await writeFollowed(bytes, [STEP], pool);
      expect(await hash.digest()).toBe(want);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      await pool.terminate();
    }
  });

  // expectedBytes small while the thread is not running: hashed here (the second describe)
  it.each([['on the thread', undefined], ['here', 1000]] as const)('%s: a file shorter than the writes it was told of is ShortRead; a missing one keeps its ENOENT', async (_where, expectedBytes) => {
    const pool = new ReadHashPool(1);
    try {
      const { file, hash } = await writeFollowed(crypto.randomBytes(1000), [1000], pool, expectedBytes);
      fs.truncateSync(file, 10);
      await expect(hash.digest()).rejects.toBeInstanceOf(ShortRead);
      const missing = new FollowMd5(path.join(dir, `missing-${n++}.bin`), { pool, expectedBytes });
      missing.wrote(10);
      await expect(missing.digest()).rejects.toMatchObject({ code: 'ENOENT' });
      // the next file is still hashed (on the thread: it is still there)
      const bytes = crypto.randomBytes(100);
      expect(await (await writeFollowed(bytes, [7], pool, expectedBytes)).hash.digest()).toBe(md5(bytes));
    } finally {
      await pool.terminate();
    }
  });

  it('a worker that dies between writes fails the digest; an abandoned hash is forgotten', async () => {
    const pool = new ReadHashPool(1);
    try {
      const first = await writeFollowed(crypto.randomBytes(3 * STEP), [3 * STEP], pool);
      await pool.terminate();
      await expect(first.hash.digest()).rejects.toThrow(/worker thread stopped|was lost/);
      const dropped = await writeFollowed(crypto.randomBytes(3 * STEP), [STEP], pool);
      dropped.hash.abandon();
      const bytes = crypto.randomBytes(2 * STEP + 5);
      expect(await (await writeFollowed(bytes, [STEP], pool)).hash.digest()).toBe(md5(bytes));
    } finally {
      await pool.terminate();
    }
  });
});

/** Parts of `size` bytes in `partBytes` ranges. */
function ranges(size: number, partBytes: number): Array<{ start: number; end: number }> {
  const out = [];
  for (let s = 0; s < size; s += partBytes) out.push({ start: s, end: Math.min(size, s + partBytes) - 1 });
  return out;
}

/**
 * Writes `data` to a new file as parts of `partBytes` in chunks of `chunkBytes`, the parts
 * interleaved by `order` (a part index per step); `failAt[i]` = chunks after which part i's first
 * attempt fails, having written junk in place of its bytes (the retry writes the right ones).
 */
async function writeParts(data: Buffer, partBytes: number, chunkBytes: number, order: number[], failAt: Record<number, number>, pool: ReadHashPool): Promise<string> {
  const rs = ranges(data.length, partBytes);
  const file = path.join(dir, `p${n++}.bin`);
  const fh = await fs.promises.open(file, 'wx');
  const h = new PartsMd5(file, rs, pool, STEP);
  try {
    await fh.truncate(data.length);
    const pos = rs.map((r) => r.start);
    const chunksSent = rs.map(() => 0);
    const failed = new Set<number>();
    rs.forEach((_, i) => h.attempt(i));
    for (let step = 0; rs.some((r, i) => pos[i]! <= r.end); step++) {
      let i = order.length > 0 ? order[step % order.length]! % rs.length : step % rs.length;
      while (pos[i]! > rs[i]!.end) i = (i + 1) % rs.length;
      const r = rs[i]!;
      // a first attempt fails only if it has fewer chunks than its part
      const first = failAt[i] !== undefined && !failed.has(i) && failAt[i]! < Math.ceil((r.end + 1 - r.start) / chunkBytes);
      if (first && chunksSent[i] === failAt[i]) {
        failed.add(i);
        h.attempt(i);
        pos[i] = r.start;
        continue;
      }
      const len = Math.min(chunkBytes, r.end + 1 - pos[i]!);
      const bytes = first ? crypto.randomBytes(len) : data.subarray(pos[i], pos[i]! + len);
      await fh.write(bytes, 0, len, pos[i]);
      h.wrote(i, len);
      pos[i]! += len;
      chunksSent[i]!++;
    }
  } finally {
    await fh.close();
  }
  return h.digest();
}

describe('FollowMd5 while the MD5 thread is not running', () => {
  it('a small file is hashed here without starting the thread; the fifth starts it; a large one always goes to the thread', async () => {
    const pool = new ReadHashPool(1);
    const spy = vi.spyOn(crypto, 'createHash');
    try {
      for (let i = 0; i < 4; i++) {
        const bytes = crypto.randomBytes(3 * STEP + i);
        const want = md5(bytes);
        spy.mockClear();
        expect(await (await writeFollowed(bytes, [STEP], pool, bytes.length)).hash.digest()).toBe(want);
        expect(spy).toHaveBeenCalledTimes(1); // here
      }
      expect(pool.ready()).toBe(false);
      const fifth = crypto.randomBytes(100);
      expect(await (await writeFollowed(fifth, [7], pool, 100)).hash.digest()).toBe(md5(fifth));
      for (let i = 0; i < 500 && !pool.ready(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(pool.ready()).toBe(true);
      const later = crypto.randomBytes(2 * STEP);
      const want = md5(later);
      spy.mockClear();
      expect(await (await writeFollowed(later, [STEP], pool, later.length)).hash.digest()).toBe(want);
      expect(spy).not.toHaveBeenCalled(); // the thread runs now: there
    } finally {
      spy.mockRestore();
      await pool.terminate();
    }
  });
});

describe('PartsMd5', () => {
  it('property: any interleaving, part and chunk size, and parts tried again give the MD5 of what the file holds', async () => {
    const pool = new ReadHashPool(1);
    try {
      await fc.assert(fc.asyncProperty(
        // parts of 512 B or more: at most 128 per file (1-byte parts made a run of 65,536 parts, whose
        // interleaving loop is quadratic: one fresh-clone CI timed the property out at 120 s)
        fc.integer({ min: 1, max: 4 * STEP }), fc.integer({ min: 512, max: 2 * STEP }), fc.integer({ min: 100, max: STEP }),
        fc.array(fc.nat(20), { maxLength: 30 }), fc.dictionary(fc.constantFrom('0', '1', '2', '3'), fc.nat(4)),
        async (size, partBytes, chunkBytes, order, fails) => {
          const data = crypto.randomBytes(size);
          const failAt = Object.fromEntries(Object.entries(fails).map(([k, v]) => [Number(k), v]));
          expect(await writeParts(data, partBytes, chunkBytes, order, failAt, pool)).toBe(md5(data));
        },
      ), { numRuns: 60 });
    } finally {
      await pool.terminate();
    }
  });

  it('a part tried again after its first bytes were hashed: the whole file is hashed again, so corrupted first bytes cannot pass', async () => {
    const pool = new ReadHashPool(1);
    const file = path.join(dir, `p${n++}.bin`);
    const fh = await fs.promises.open(file, 'wx');
    try {
      const data = crypto.randomBytes(3 * STEP);
      const h = new PartsMd5(file, ranges(data.length, 2 * STEP), pool, STEP);
      h.attempt(0);
      h.attempt(1);
      await fh.write(crypto.randomBytes(STEP), 0, STEP, 0); // part 0's first attempt: junk, a whole stretch
      h.wrote(0, STEP);
      await pool.hashRange(file, 0, 1); // the one thread has read the junk by now (jobs run in order)
      h.attempt(0); // the retry writes the right bytes
      await fh.write(data, 0, 2 * STEP, 0);
      h.wrote(0, 2 * STEP);
      await fh.write(data, 2 * STEP, STEP, 2 * STEP);
      h.wrote(1, STEP);
      expect(await h.digest()).toBe(md5(data));
    } finally {
      await fh.close();
      await pool.terminate();
    }
  });

  it('digest before every part is in is refused', async () => {
    const h = new PartsMd5(path.join(dir, 'never.bin'), ranges(2000, 1000));
    h.wrote(1, 1000);
    await expect(h.digest()).rejects.toThrow(/before every part is complete/);
    h.abandon();
  });
});
