/**
 * The pure parts of `sync s3://… <dir>`: the outer merge of the sorted walk with the listing
 * (src/ops/key-join.ts outerJoinByKey) against a Map-based answer; the direction chosen from the
 * arguments (src/cli/commands/sync.ts syncRoute); the comparison flags; and the check right
 * before a local file is deleted (src/ops/sync-down.ts deleteWalkedFile).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { comparisonOf } from '../../src/cli/commands/sync-down.js';
import { syncRoute } from '../../src/cli/commands/sync.js';
import { compareKeys } from '../../src/fs/key-order.js';
import type { FileEntry } from '../../src/fs/walk.js';
import { outerJoinByKey } from '../../src/ops/key-join.js';
import type { ListedObject } from '../../src/ops/list.js';
import { deleteWalkedFile } from '../../src/ops/sync-down.js';

const key = fc.array(fc.constantFrom('a', 'b', '-', '/', '0', 'é', '😀', '\ue000'), { minLength: 1, maxLength: 5 }).map((cs) => cs.join(''));
async function* batches<T>(items: readonly T[], size: number): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

describe('outerJoinByKey', () => {
  it('yields every key of either side once, in key order, with what each side holds', async () => {
    await fc.assert(fc.asyncProperty(fc.uniqueArray(key), fc.uniqueArray(key), fc.integer({ min: 1, max: 4 }), async (localKeys, remoteKeys, size) => {
      const l = [...localKeys].sort(compareKeys);
      const r = [...remoteKeys].sort(compareKeys);
      const got: Array<[string, string | undefined, string | undefined]> = [];
      const remote = batches(r.map((k): ListedObject => ({ key: k, bytes: 0 })), size);
      for await (const p of outerJoinByKey(batches(l.map((k) => ({ k, v: `L${k}` })), size + 1), remote)) got.push([p.key, p.local, p.remote?.key]);
      const all = [...new Set([...l, ...r])].sort(compareKeys);
      expect(got).toEqual(all.map((k) => [k, l.includes(k) ? `L${k}` : undefined, r.includes(k) ? k : undefined]));
    }));
  });

  it('throws on a local side out of key order', async () => {
    const pairs = outerJoinByKey(batches([{ k: 'b', v: 1 }, { k: 'a', v: 2 }], 1), batches<ListedObject>([], 1));
    await expect((async () => { for await (const _ of pairs) void _; })()).rejects.toThrow(/not in key order/);
  });
});

describe('syncRoute', () => {
  it('s3:// first downloads, s3:// second or a bucket name uploads', () => {
    expect(syncRoute('s3://bkt/p/q', './out', undefined)).toEqual({ direction: 'down', bucket: 'bkt', prefix: 'p/q', dir: './out' });
    expect(syncRoute('s3://bkt', 'out', undefined)).toEqual({ direction: 'down', bucket: 'bkt', prefix: '', dir: 'out' });
    expect(syncRoute('./build', 's3://bkt/x', undefined)).toEqual({ direction: 'up', dir: './build', bucket: 'bkt', prefix: 'x' });
    expect(() => syncRoute('s3://B_ad/x', './out', undefined)).toThrow(/not a valid bucket name/);
    expect(syncRoute('build', 'bucket', 'pre')).toEqual({ direction: 'up', dir: 'build', bucket: 'bucket', prefix: 'pre' });
  });

  it('two s3:// URLs, two local paths, or a third argument after s3:// … <dir>: a usage error', () => {
    expect(() => syncRoute('s3://abc/x', 's3://bkt/y', undefined)).toThrow(/two s3:\/\/ URLs/);
    expect(() => syncRoute('./a', './b', undefined)).toThrow(/both local paths/);
    expect(() => syncRoute('a', '.', undefined)).toThrow(/both local paths/);
    expect(() => syncRoute('s3://bkt/p', 'dir', 'extra')).toThrow(/one too many/);
  });
});

describe('comparisonOf', () => {
  it('one flag at most', () => {
    expect(comparisonOf({})).toBe('size-mtime');
    expect(comparisonOf({ sizeOnly: true })).toBe('size');
    expect(comparisonOf({ exactTimestamps: true })).toBe('exact-timestamps');
    expect(comparisonOf({ checksum: true })).toBe('checksum');
    expect(() => comparisonOf({ checksum: true, sizeOnly: true })).toThrow(/contradict/);
    expect(() => comparisonOf({ sizeOnly: true, exactTimestamps: true })).toThrow(/contradict/);
  });
});

describe('deleteWalkedFile', () => {
  const temps: string[] = [];
  afterAll(() => { for (const t of temps) fs.rmSync(t, { recursive: true, force: true }); });
  function setup(): { root: string; outside: string; walked: (rel: string) => FileEntry } {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 's3x-dwf-')));
    const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 's3x-dwf-out-')));
    temps.push(root, outside);
    const walked = (rel: string): FileEntry => {
      const st = fs.lstatSync(path.join(root, rel));
      return { path: path.join(root, rel), rel, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
    };
    return { root, outside, walked };
  }

  it('deletes the file the walk saw', async () => {
    const { root, walked } = setup();
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd/f'), 'x');
    await deleteWalkedFile(root, walked('d/f'));
    expect(fs.existsSync(path.join(root, 'd/f'))).toBe(false);
    expect(fs.statSync(path.join(root, 'd')).isDirectory()).toBe(true); // the directory stays
  });

  it('keeps a file replaced or rewritten since the walk, and one now a symlink', async () => {
    const { root, outside, walked } = setup();
    fs.writeFileSync(path.join(root, 'f'), 'x');
    const seen = walked('f');
    fs.writeFileSync(path.join(root, 'f'), 'longer now');
    await expect(deleteWalkedFile(root, seen)).rejects.toThrow(/changed since it was read/);
    fs.writeFileSync(path.join(outside, 't'), 'target');
    fs.rmSync(path.join(root, 'f'));
    fs.symlinkSync(path.join(outside, 't'), path.join(root, 'f'));
    await expect(deleteWalkedFile(root, seen)).rejects.toThrow(/no longer a regular file/);
    expect(fs.readFileSync(path.join(outside, 't'), 'utf8')).toBe('target');
  });

  it('never deletes through a directory swapped for a symlink', async () => {
    const { root, outside, walked } = setup();
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd/f'), 'x');
    const seen = walked('d/f');
    fs.writeFileSync(path.join(outside, 'f'), 'x');
    fs.rmSync(path.join(root, 'd'), { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'd'));
    await expect(deleteWalkedFile(root, seen)).rejects.toThrow(/replaced by a symbolic link/);
    expect(fs.existsSync(path.join(outside, 'f'))).toBe(true);
  });

  it('refuses a relative path that leaves the root', async () => {
    const { root, walked } = setup();
    fs.writeFileSync(path.join(root, 'f'), 'x');
    await expect(deleteWalkedFile(root, { ...walked('f'), rel: '../f' })).rejects.toThrow(/outside/);
  });
});
