/**
 * src/fs/read-hash.ts: the MD5 of a range, hashed on a worker thread, is the MD5 of exactly those
 * bytes; a file that ends before the range is ShortRead, a missing one keeps
 * its ENOENT; a worker that dies fails its pending jobs and the next job gets a fresh one; the
 * work happens off the main thread (the main thread's crypto is never asked for an MD5).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShortRead } from '../../src/fs/file-range.js';
import { ReadHashPool } from '../../src/fs/read-hash.js';

let dir: string;
let file: string;
const bytes = crypto.randomBytes(3 * 1024 * 1024 + 17);
const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-read-hash-'));
  file = path.join(dir, 'f.bin');
  fs.writeFileSync(file, bytes);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ReadHashPool', () => {
  it('hashes exactly the range asked for, on every thread (ranges across the worker\'s 1 MiB reads)', async () => {
    const pool = new ReadHashPool(2);
    const ranges: Array<[number, number]> = [[0, bytes.length], [1000, 2_000_000], [bytes.length - 5, 5], [7, 0], [1024 * 1024, 1024 * 1024], [1024 * 1024 - 1, 1024 * 1024 + 2]];
    const got = await Promise.all(ranges.map(([s, n]) => pool.hashRange(file, s, n)));
    got.forEach((digest, i) => {
      const [s, n] = ranges[i]!;
      expect(digest.equals(md5(bytes.subarray(s, s + n))), `md5 of ${s}+${n}`).toBe(true);
    });
    await pool.terminate();
  });

  it('hashes off the main thread: no MD5 is computed here for the range', async () => {
    const pool = new ReadHashPool(1);
    const spy = vi.spyOn(crypto, 'createHash');
    try {
      const digest = await pool.hashRange(file, 0, bytes.length);
      expect(spy).not.toHaveBeenCalled();
      expect(digest.equals(md5(bytes))).toBe(true);
    } finally {
      spy.mockRestore();
      await pool.terminate();
    }
  });

  it('a file shorter than the range is ShortRead; a missing file keeps its ENOENT', async () => {
    const pool = new ReadHashPool(1);
    await expect(pool.hashRange(file, bytes.length - 10, 20)).rejects.toBeInstanceOf(ShortRead);
    await expect(pool.hashRange(path.join(dir, 'missing'), 0, 10)).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
    // the thread is still there for the next job
    expect((await pool.hashRange(file, 0, 10)).equals(md5(bytes.subarray(0, 10)))).toBe(true);
    await pool.terminate();
  });

  it('a thread that dies fails its pending job; the next job starts a fresh thread', async () => {
    const pool = new ReadHashPool(1);
    await pool.hashRange(file, 0, 10); // the thread is up
    const pending = pool.hashRange(file, 0, bytes.length);
    const stopped = pool.terminate();
    await expect(pending).rejects.toThrow(/worker thread stopped/);
    await stopped;
    const again = await pool.hashRange(file, 5, 100);
    expect(again.equals(md5(bytes.subarray(5, 105)))).toBe(true);
    await pool.terminate();
  });
});
