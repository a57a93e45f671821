/**
 * writeNewFile: one new file with its bytes and mtime, renamed into place when asked, on a worker
 * thread (on the main thread while that thread boots: both ways pass the same tests); an existing
 * name is refused and left alone; a failed rename leaves the target as it was.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeNewFile, writeNewFileHere, writersOnline, type NewFileOptions } from '../../src/fs/new-file.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-newfile-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
/** a directory of its own per test (the same names in both describe.each rounds) */
let dir = root;
beforeEach(() => { dir = fs.mkdtempSync(path.join(root, 't-')); });

describe('writeNewFile while its thread boots', () => {
  // first in this file: the writer thread is not started yet
  it('the first file is written on the main thread; once the thread runs, on the thread', async () => {
    const open = vi.spyOn(fs.promises, 'open');
    try {
      await writeNewFile(path.join(dir, 'first.bin'), Buffer.from('first'));
      expect(open).toHaveBeenCalledTimes(1);
      await writersOnline();
      await writeNewFile(path.join(dir, 'second.bin'), Buffer.from('second'));
      expect(open).toHaveBeenCalledTimes(1);
      expect(fs.readFileSync(path.join(dir, 'first.bin'), 'utf8') + fs.readFileSync(path.join(dir, 'second.bin'), 'utf8')).toBe('firstsecond');
    } finally {
      open.mockRestore();
    }
  });
});

type Write = (file: string, data: Buffer, opts?: NewFileOptions) => Promise<void>;
const onThread: Write = async (file, data, opts) => { await writersOnline(); return writeNewFile(file, data, opts); };

describe.each([['on the writer thread', onThread], ['on the main thread', writeNewFileHere as Write]])('writeNewFile %s', (_, writeNewFile) => {
  it('writes the bytes and sets the mtime', async () => {
    const f = path.join(dir, 'a.bin');
    const data = Buffer.from('hello, small object');
    const mtime = new Date('2024-05-06T07:08:09Z');
    await writeNewFile(f, data, { mtime });
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

  it('renamed into place when asked: the target holds the bytes and the mtime, the temporary name is gone', async () => {
    const tmp = path.join(dir, '.r.tmp');
    const target = path.join(dir, 'r.bin');
    fs.writeFileSync(target, 'an older copy');
    const mtime = new Date('2023-01-02T03:04:05Z');
    // a view into a larger buffer: only its own bytes are written
    const pool = Buffer.from('xxxxpayloadyyyy');
    await writeNewFile(tmp, pool.subarray(4, 11), { mtime, renameTo: target });
    expect(fs.readFileSync(target, 'utf8')).toBe('payload');
    expect(fs.statSync(target).mtime.getTime()).toBe(mtime.getTime());
    expect(fs.existsSync(tmp)).toBe(false);
    // the caller's buffer is still whole (a copy went to the worker)
    expect(pool.toString()).toBe('xxxxpayloadyyyy');
  });

  it('a rename that fails rejects with its code and syscall; the target is left as it was', async () => {
    const tmp = path.join(dir, '.d.tmp');
    const target = path.join(dir, 'a-dir');
    fs.mkdirSync(path.join(target, 'inside'), { recursive: true });
    await expect(writeNewFile(tmp, Buffer.from('x'), { renameTo: target })).rejects.toMatchObject({ syscall: 'rename' });
    expect(fs.readdirSync(target)).toEqual(['inside']);
    // the temporary file is the caller's to remove
    expect(fs.readFileSync(tmp, 'utf8')).toBe('x');
  });

  it('the directory is checked right before the open: one no longer at its real path gets nothing, and the caller\'s refusal', async () => {
    const elsewhere = fs.mkdtempSync(path.join(dir, 'elsewhere-'));
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    const checked = fs.realpathSync(sub);
    const refuse = (now: string | undefined): Error => Object.assign(new Error(`swapped, now ${now}`), { code: 'Refused' });
    await writeNewFile(path.join(sub, 'ok.bin'), Buffer.from('ok'), { dir: { real: checked, refuse } });
    expect(fs.readFileSync(path.join(sub, 'ok.bin'), 'utf8')).toBe('ok');
    // the checked directory replaced by a link to another one
    fs.rmSync(sub, { recursive: true });
    fs.symlinkSync(elsewhere, sub);
    await expect(writeNewFile(path.join(sub, 'no.bin'), Buffer.from('no'), { renameTo: path.join(sub, 'no2.bin'), dir: { real: checked, refuse } }))
      .rejects.toMatchObject({ code: 'Refused', message: `swapped, now ${fs.realpathSync(elsewhere)}` });
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    // gone: refused with no real path (not the open's ENOENT)
    fs.rmSync(sub);
    await expect(writeNewFile(path.join(sub, 'gone.bin'), Buffer.from('x'), { dir: { real: checked, refuse } })).rejects.toMatchObject({ message: 'swapped, now undefined' });
  });
});

describe('writeNewFile on its thread', () => {
  it('the syscalls run off the main thread: none of its fs calls is made for the file', async () => {
    const spies = [vi.spyOn(fs.promises, 'open'), vi.spyOn(fs, 'openSync'), vi.spyOn(fs, 'renameSync')];
    try {
      await onThread(path.join(dir, '.w.tmp'), Buffer.from('w'), { mtime: new Date(), renameTo: path.join(dir, 'w.bin') });
      for (const s of spies) expect(s).not.toHaveBeenCalled();
      expect(fs.readFileSync(path.join(dir, 'w.bin'), 'utf8')).toBe('w');
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});
