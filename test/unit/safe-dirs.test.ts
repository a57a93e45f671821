/** SafeDirs: directories checked once, then re-checked by real path before each file; a swap mid-run is refused. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SafeDirs } from '../../src/fs/safe-dirs.js';

const temps: string[] = [];
/** A fresh parent holding `out` (the download root, real path) and `outside`. */
function setup(): { root: string; outside: string } {
  const parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 's3x-safedirs-')));
  temps.push(parent);
  const root = path.join(parent, 'out');
  const outside = path.join(parent, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  return { root, outside };
}
afterEach(() => { for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true }); });

describe('SafeDirs', () => {
  it('creates every level once; recheck passes while nothing changed', async () => {
    const { root } = setup();
    const dirs = new SafeDirs(root);
    const deep = path.join(root, 'a', 'b', 'c');
    await Promise.all([dirs.ensure(deep), dirs.ensure(deep), dirs.ensure(path.join(root, 'a'))]);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(() => dirs.recheck(deep)).not.toThrow();
    expect(() => dirs.recheck(root)).not.toThrow();
    expect(() => dirs.recheck(path.join(root, 'never'))).toThrow(/never ensured/);
  });

  it('refuses a symbolic link already on the way, and anything outside the root', async () => {
    const { root, outside } = setup();
    fs.symlinkSync(outside, path.join(root, 'link'));
    const dirs = new SafeDirs(root);
    await expect(dirs.ensure(path.join(root, 'link', 'x'))).rejects.toMatchObject({ code: 'Refused', message: expect.stringMatching(/link is a symbolic link/) });
    await expect(dirs.ensure(outside)).rejects.toMatchObject({ code: 'Refused' });
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('a checked directory replaced by a link during the run is refused at the next file', async () => {
    const { root, outside } = setup();
    const dirs = new SafeDirs(root);
    const sub = path.join(root, 'sub');
    await dirs.ensure(sub);
    fs.rmdirSync(sub);
    fs.symlinkSync(outside, sub);
    expect(() => dirs.recheck(sub)).toThrow(/refused: the directory sub was replaced by a symbolic link during the run/);
    await dirs.ensure(sub); // the cache still says checked: recheck is what guards
    expect(() => dirs.recheck(sub)).toThrow(expect.objectContaining({ code: 'Refused' }));
  });

  it('an upper level moved outside and linked back (same inodes below) is refused too', async () => {
    const { root, outside } = setup();
    const dirs = new SafeDirs(root);
    const deep = path.join(root, 'a', 'b');
    await dirs.ensure(deep);
    fs.renameSync(path.join(root, 'a'), path.join(outside, 'a'));
    fs.symlinkSync(path.join(outside, 'a'), path.join(root, 'a'));
    expect(fs.statSync(deep).isDirectory()).toBe(true); // still reachable, now outside
    expect(() => dirs.recheck(deep)).toThrow(/refused: the directory a\/b was replaced by a symbolic link/);
  });

  it('a checked directory removed during the run: refused as gone', async () => {
    const { root } = setup();
    const dirs = new SafeDirs(root);
    const sub = path.join(root, 'sub');
    await dirs.ensure(sub);
    fs.rmdirSync(sub);
    expect(() => dirs.recheck(sub)).toThrow(/sub is gone during the run/);
  });
});
