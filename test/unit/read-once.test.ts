/**
 * Upload's one read of a file or part (src/ops/stored-object.ts readRange, readSmallSync): the
 * bytes asked for, and a file shorter or longer than the walk said is a FileChanged failure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileEntry } from '../../src/fs/walk.js';
import { readRange, readSmallSync } from '../../src/ops/stored-object.js';

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-read-once-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function entry(name: string, bytes: Buffer, walkedSize = bytes.length): FileEntry {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  const st = fs.statSync(p);
  return { path: p, rel: name, size: walkedSize, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

describe('readSmallSync', () => {
  it('reads the whole file', () => {
    expect(readSmallSync(entry('a', bytes)).equals(bytes)).toBe(true);
    expect(readSmallSync(entry('empty', Buffer.alloc(0))).length).toBe(0);
  });
  it('a file that grew or shrank since the walk is FileChanged', () => {
    expect(() => readSmallSync(entry('grew', bytes, 4999))).toThrow(expect.objectContaining({ code: 'FileChanged' }));
    expect(() => readSmallSync(entry('shrank', bytes, 5001))).toThrow(expect.objectContaining({ code: 'FileChanged' }));
  });
  it('a file gone is ENOENT', () => {
    const f = entry('gone', bytes);
    fs.rmSync(f.path);
    expect(() => readSmallSync(f)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('readRange', () => {
  it('reads exactly the range asked for', async () => {
    const f = entry('r', bytes);
    expect((await readRange(f, 0, 5000)).equals(bytes)).toBe(true);
    expect((await readRange(f, 1000, 2000)).equals(bytes.subarray(1000, 3000))).toBe(true);
    expect((await readRange(f, 4000, 0)).length).toBe(0);
  });
  it('a file shorter than the range is FileChanged', async () => {
    const f = entry('short', bytes, 6000);
    await expect(readRange(f, 4000, 2000)).rejects.toMatchObject({ code: 'FileChanged' });
  });
});
