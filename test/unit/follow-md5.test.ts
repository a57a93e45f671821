/**
 * src/fs/follow-md5.ts: the MD5 of a file written front to back, hashed by a worker thread from
 * the file as each write lands, is the MD5 of exactly the bytes written, whatever the sizes of
 * the writes (property); it is computed off the main thread; a file shorter than the writes
 * claimed fails with ShortRead; a worker that dies fails the digest instead of answering.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShortRead } from '../../src/fs/file-range.js';
import { FollowMd5 } from '../../src/fs/follow-md5.js';
import { ReadHashPool } from '../../src/fs/read-hash.js';

let dir: string;
let n = 0;
const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
/** files are kept small and handed over in 16 KiB stretches: the suite's timed unit tests run beside this one */
const STEP = 16 * 1024;

beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-follow-md5-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `bytes` to a new file in pieces of `sizes` (cycled), telling `follow` after each write. */
async function writeFollowed(bytes: Buffer, sizes: number[], pool: ReadHashPool): Promise<{ file: string; hash: FollowMd5 }> {
  const file = path.join(dir, `f${n++}.bin`);
  const fh = await fs.promises.open(file, 'wx');
  const hash = new FollowMd5(file, pool, STEP);
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

  it('a file shorter than the writes it was told of is ShortRead; a missing one keeps its ENOENT', async () => {
    const pool = new ReadHashPool(1);
    try {
      const { file, hash } = await writeFollowed(crypto.randomBytes(1000), [1000], pool);
      fs.truncateSync(file, 10);
      await expect(hash.digest()).rejects.toBeInstanceOf(ShortRead);
      const missing = new FollowMd5(path.join(dir, 'missing.bin'), pool);
      missing.wrote(10);
      await expect(missing.digest()).rejects.toMatchObject({ code: 'ENOENT' });
      // the thread is still there for the next file
      const bytes = crypto.randomBytes(100);
      expect(await (await writeFollowed(bytes, [7], pool)).hash.digest()).toBe(md5(bytes));
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
