/** writeNewFile: one new file with its bytes and mtime; an existing name is refused and left alone. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNewFile } from '../../src/fs/new-file.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-newfile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('writeNewFile', () => {
  it('writes the bytes and sets the mtime', async () => {
    const f = path.join(dir, 'a.bin');
    const data = Buffer.from('hello, small object');
    const mtime = new Date('2024-05-06T07:08:09Z');
    await writeNewFile(f, data, mtime);
    expect(fs.readFileSync(f)).toEqual(data);
    expect(fs.statSync(f).mtime.getTime()).toBe(mtime.getTime());
  });

  it('an empty body makes an empty file; without an mtime the file keeps the current time', async () => {
    const f = path.join(dir, 'empty');
    await writeNewFile(f, Buffer.alloc(0));
    expect(fs.statSync(f).size).toBe(0);
    expect(Math.abs(fs.statSync(f).mtimeMs - Date.now())).toBeLessThan(60_000);
  });

  it('refuses a name that exists (O_EXCL): the file there is left as it was', async () => {
    const f = path.join(dir, 'taken');
    fs.writeFileSync(f, 'mine');
    await expect(writeNewFile(f, Buffer.from('theirs'))).rejects.toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(fs.readFileSync(f, 'utf8')).toBe('mine');
    fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'link'));
    await expect(writeNewFile(path.join(dir, 'link'), Buffer.from('x'))).rejects.toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(fs.existsSync(path.join(dir, 'elsewhere'))).toBe(false);
  });
});
