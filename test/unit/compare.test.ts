/**
 * The pure parts of upload's file selection: the sync comparison (src/ops/compare.ts), --shard
 * (src/ops/shard.ts) and the remote-only keys sync --delete may remove (src/ops/remote-only.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIB } from '../../src/config/multipart.js';
import { UsageError } from '../../src/errors.js';
import type { FileEntry } from '../../src/fs/walk.js';
import { classifier, localEtag } from '../../src/ops/compare.js';
import type { ListedObject } from '../../src/ops/list.js';
import { remoteOnlyKeys, unreadSubtrees } from '../../src/ops/remote-only.js';
import { parseShard, shardFilter } from '../../src/ops/shard.js';

const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();
const composite = (parts: Buffer[]): string => `${md5(Buffer.concat(parts.map(md5))).toString('hex')}-${parts.length}`;

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-compare-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, data: Buffer, mtimeMs = Date.UTC(2024, 0, 1)): FileEntry {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  fs.utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
  const st = fs.statSync(p);
  return { path: p, rel: name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

const obj = (o: Partial<ListedObject>): ListedObject => ({ key: 'k', bytes: 5, ...o });

describe('classifier', () => {
  const small = Buffer.from('hello');
  const at = Date.UTC(2024, 0, 1);

  it('no object: new; another size, or replicas that differ: changed, whatever the comparison', async () => {
    const f = file('a.txt', small, at);
    for (const c of ['size', 'size-mtime', 'checksum'] as const) {
      const classify = classifier(c, 16 * MIB);
      expect(await classify(f, undefined)).toBe('new');
      expect(await classify(f, obj({ bytes: 6, lastModified: new Date(at + 1000) }))).toBe('changed');
      expect(await classify(f, obj({ replicasDiffer: true, etag: `"${md5(small).toString('hex')}"`, lastModified: new Date(at + 1000) }))).toBe('changed');
    }
  });

  it('size: the same size is unchanged, however new the file', async () => {
    const f = file('b.txt', small, at + 60_000);
    expect(await classifier('size', 16 * MIB)(f, obj({ lastModified: new Date(at), etag: '"x"' }))).toBe('unchanged');
  });

  it('size-mtime: changed only when the file is newer than LastModified', async () => {
    const classify = classifier('size-mtime', 16 * MIB);
    expect(await classify(file('c.txt', small, at + 1000), obj({ lastModified: new Date(at) }))).toBe('changed');
    expect(await classify(file('c.txt', small, at), obj({ lastModified: new Date(at) }))).toBe('unchanged');
    expect(await classify(file('c.txt', small, at - 1000), obj({ lastModified: new Date(at) }))).toBe('unchanged');
    expect(await classify(file('c.txt', small, at + 1000), obj({}))).toBe('unchanged');
  });

  it("checksum: the file's MD5 against a plain ETag (quotes and case ignored)", async () => {
    const classify = classifier('checksum', 16 * MIB);
    const f = file('d.txt', small);
    expect(await classify(f, obj({ etag: `"${md5(small).toString('hex').toUpperCase()}"` }))).toBe('unchanged');
    expect(await classify(f, obj({ etag: `"${md5(Buffer.from('hellp')).toString('hex')}"` }))).toBe('changed');
  });

  it("checksum: a composite ETag is recomputed with s3x's part size, or the part size its part count implies", async () => {
    const data = crypto.randomBytes(3 * MIB + 1);
    const f = file('e.bin', data);
    const slices = (ps: number): Buffer[] => Array.from({ length: Math.ceil(data.length / ps) }, (_, i) => data.subarray(i * ps, (i + 1) * ps));
    // s3x's part size (1 MiB here): 4 parts
    expect(await classifier('checksum', MIB)({ ...f }, obj({ bytes: f.size, etag: `"${composite(slices(MIB))}"` }))).toBe('unchanged');
    // uploaded with 2 MiB parts by someone else: "-2" says so, whatever s3x's part size
    expect(await localEtag(f, 16 * MIB, composite(slices(2 * MIB)))).toBe(composite(slices(2 * MIB)));
    expect(await classifier('checksum', 16 * MIB)(f, obj({ bytes: f.size, etag: `"${composite(slices(2 * MIB))}"` }))).toBe('unchanged');
    expect(await classifier('checksum', 16 * MIB)(f, obj({ bytes: f.size, etag: `"${'0'.repeat(32)}-2"` }))).toBe('changed');
    // a plain ETag: the whole file's MD5, even above the multipart threshold
    expect(await localEtag(f, MIB, md5(data).toString('hex'))).toBe(md5(data).toString('hex'));
  });
});

describe('--shard', () => {
  it('parseShard reads k/n and refuses what is not 1 ≤ k ≤ n ≤ 100000', () => {
    expect(parseShard(' 2/5 ')).toEqual({ index: 2, count: 5 });
    for (const bad of ['0/3', '4/3', '1/0', '1/100001', 'a/b', '2', '-1/3']) expect(() => parseShard(bad), bad).toThrow(UsageError);
  });

  it('shardFilter: the shards of n partition every key; no shard takes all; library objects are checked the same way', () => {
    const keys = Array.from({ length: 600 }, (_, i) => `p/${i % 7}/${i}.txt`);
    const filters = [1, 2, 3].map((index) => shardFilter({ index, count: 3 }));
    for (const k of keys) expect(filters.filter((inShard) => inShard(k))).toHaveLength(1);
    for (const inShard of filters) expect(keys.filter(inShard).length).toBeGreaterThan(100);
    expect(keys.every(shardFilter(undefined))).toBe(true);
    for (const bad of [{ index: 0, count: 3 }, { index: 4, count: 3 }, { index: 1, count: 100_001 }, { index: 1.5, count: 3 }]) {
      expect(() => shardFilter(bad), JSON.stringify(bad)).toThrow(UsageError);
    }
  });
});

describe('remote-only keys', () => {
  it('unreadSubtrees: the key of an unread path and everything under it, not its siblings; "." is everything', () => {
    const unread = unreadSubtrees('p', ['a', 'x/y']);
    expect(['p/a', 'p/a/b', 'p/x/y/z'].map(unread)).toEqual([true, true, true]);
    expect(['p/ab', 'p/x/yz', 'p/x'].map(unread)).toEqual([false, false, false]);
    expect(unreadSubtrees('', ['.'])('anything')).toBe(true);
  });

  it('only keys under the prefix that the filters and the shard select, outside unread paths', () => {
    const inShard = (k: string): boolean => !k.endsWith('other-shard.txt');
    const keys = ['p/keep.txt', 'p/d/keep.txt', 'q/outside.txt', 'p/skip.log', 'p/unread/x.txt', 'p/other-shard.txt'];
    expect(remoteOnlyKeys(keys, { prefix: 'p', dir, exclude: ['*.log'], unreadRels: ['unread'], inShard })).toEqual(['p/keep.txt', 'p/d/keep.txt']);
    expect(remoteOnlyKeys(keys, { prefix: 'p', dir, include: ['d/**'], unreadRels: [], inShard })).toEqual(['p/d/keep.txt']);
  });
});
