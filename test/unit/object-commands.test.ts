/**
 * Pure logic of ls / delete-prefix / download / presign: key → path safety, prefix selection,
 * paging, ETag → MD5, the DeleteObjects per-key deadline, Content-MD5 on DeleteObjects, presigning.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { DeleteObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { isSelected, selectKeys } from '../../src/fs/key-prefix.js';
import { resolveInside, safeRelativePath } from '../../src/fs/safe-path.js';
import { mergeByKey, pages, type PageAnswer } from '../../src/ops/list.js';
import { bareEtag, md5FromEtag } from '../../src/fs/md5.js';
import { PerKeyTime } from '../../src/ops/delete.js';
import { withContentMd5 } from '../../src/endpoints/sdk-store.js';
import { MAX_PRESIGN_EXPIRES_SEC, checkExpires, presign } from '../../src/ops/presign.js';

describe('key → local path (download never writes outside its directory)', () => {
  it.each([
    ['../evil.txt', /"\.\." segment/],
    ['a/../../evil.txt', /"\.\." segment/],
    ['a/..', /"\.\." segment/],
    ['..', /"\.\." segment/],
    ['./a.txt', /"\." segment/],
    ['a/./b', /"\." segment/],
    ['/etc/passwd', /absolute path/],
    ['//x', /absolute path/],
    ['a//b', /empty path segment/],
    ['a\\..\\..\\x', /backslash/],
    ['C:\\Windows\\x', /backslash/],
    ['nul\0byte', /NUL/],
    ['a/b\0/c', /NUL/],
  ])('refuses %j', (rel, reason) => {
    const r = safeRelativePath(rel);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it.each([
    ['a.txt', ['a.txt'], false],
    ['a/b/c.txt', ['a', 'b', 'c.txt'], false],
    ['...', ['...'], false],
    ['..a/b..', ['..a', 'b..'], false],
    ['sp ace/ünï cødé 文件.txt', ['sp ace', 'ünï cødé 文件.txt'], false],
    ['ctl\u0001char', ['ctl\u0001char'], false],
    ['C:x', ['C:x'], false],
    ['dir/', ['dir'], true],
    ['a/b/', ['a', 'b'], true],
    ['', [], true],
  ])('maps %j', (rel, segments, directory) => {
    expect(safeRelativePath(rel)).toEqual({ ok: true, segments, directory });
  });

  it('resolveInside keeps every accepted mapping strictly under the root', () => {
    const root = path.resolve('/tmp/dl-root');
    expect(resolveInside(root, ['a', 'b.txt'])).toBe(path.join(root, 'a', 'b.txt'));
    expect(resolveInside(root, ['..', 'x'])).toBeUndefined();
    expect(resolveInside(root, ['/etc'])).toBeUndefined();
    expect(resolveInside(root, [])).toBeUndefined(); // the root itself is not a file
    expect(resolveInside('/tmp/dl', ['..', 'dl-root', 'x'])).toBeUndefined(); // sibling with a common prefix
  });
});

describe('prefix selection', () => {
  it('names a folder by default: "logs" selects logs/…, not logs-old/… or logs.txt', () => {
    for (const p of ['logs', 'logs/', '/logs/', '//logs']) {
      const sel = selectKeys(p);
      expect(sel).toEqual({ prefix: 'logs/', base: 'logs/' });
      expect(isSelected(sel, 'logs/a.txt')).toBe(true);
      expect(isSelected(sel, 'logs-old/a.txt')).toBe(false);
      expect(isSelected(sel, 'logs.txt')).toBe(false);
      expect(isSelected(sel, 'logs')).toBe(false);
    }
  });
  it('raw: a plain, literal string prefix; download paths are relative to its last "/"', () => {
    const sel = selectKeys('data/logs', true);
    expect(sel).toEqual({ prefix: 'data/logs', base: 'data/' });
    expect(isSelected(sel, 'data/logs-old/x')).toBe(true);
    expect(isSelected(sel, 'data/log')).toBe(false);
    expect(selectKeys('a*', true).prefix).toBe('a*'); // never a glob
    expect(isSelected(selectKeys('a*', true), 'ab')).toBe(false);
  });
  it('empty means the whole bucket', () => {
    expect(selectKeys('')).toEqual({ prefix: '', base: '' });
    expect(selectKeys('/')).toEqual({ prefix: '', base: '' });
    expect(selectKeys(undefined, true)).toEqual({ prefix: '', base: '' });
  });
});

describe('listing pages', () => {
  const obj = (k: string) => ({ Key: k, Size: 1, ETag: '"e"' });
  it('follows continuation tokens through short truncated pages, and stops when not truncated', async () => {
    const answers: Record<string, PageAnswer> = {
      start: { Contents: [obj('a')], IsTruncated: true, NextContinuationToken: 't1' },
      t1: { Contents: [], CommonPrefixes: [{ Prefix: 'b/' }], IsTruncated: true, NextContinuationToken: 't2' }, // empty but truncated
      t2: { Contents: [obj('c'), obj('d')], IsTruncated: false },
    };
    const asked: (string | undefined)[] = [];
    const keys: string[] = [];
    for await (const p of pages(async (t) => { asked.push(t); return answers[t ?? 'start']!; })) {
      keys.push(...p.objects.map((o) => o.key), ...p.prefixes);
    }
    expect(asked).toEqual([undefined, 't1', 't2']);
    expect(keys).toEqual(['a', 'b/', 'c', 'd']);
  });
  it('refuses to loop on a truncated page without a token or with the same token', async () => {
    const noToken = pages(async () => ({ Contents: [obj('a')], IsTruncated: true }));
    await expect((async () => { for await (const _ of noToken) { /* drain */ } })()).rejects.toThrow(/no continuation token/);
    const same = pages(async () => ({ Contents: [obj('a')], IsTruncated: true, NextContinuationToken: 'x' }));
    await expect((async () => { for await (const _ of same) { /* drain */ } })()).rejects.toThrow(/same continuation token/);
  });
  it('merges objects and prefixes of a page in key order', () => {
    const merged = mergeByKey({
      objects: [{ key: 'p/a', bytes: 1 }, { key: 'p/c', bytes: 1 }],
      prefixes: ['p/b/', 'p/d/'],
    });
    expect(merged.map((e) => (e.type === 'object' ? e.key : e.prefix))).toEqual(['p/a', 'p/b/', 'p/c', 'p/d/']);
  });
});

describe('ETag → MD5 (download verification)', () => {
  const md5 = crypto.createHash('md5').update('x').digest('hex');
  it.each([
    [`"${md5}"`, undefined, undefined, md5],
    [md5.toUpperCase(), undefined, undefined, md5],
    [`W/"${md5}"`, undefined, undefined, md5],
    [`"${md5}-3"`, undefined, undefined, undefined], // multipart: not an MD5 of the content
    [`"${md5}"`, 'aws:kms', undefined, undefined], // SSE-KMS: ETag is not the plaintext MD5
    [`"${md5}"`, undefined, 'AES256', undefined], // SSE-C
    [`"${md5}"`, 'AES256', undefined, md5], // SSE-S3 keeps the MD5
    ['""', undefined, undefined, undefined],
    [undefined, undefined, undefined, undefined],
  ])('%j (sse %j, sse-c %j) → %j', (etag, sse, ssec, want) => {
    expect(md5FromEtag(etag, sse, ssec)).toBe(want);
  });
});

describe('ETag normaliser (the one every comparison uses)', () => {
  it.each([
    ['"0CC175B9C0F1B6A831C399E269772661"', '0cc175b9c0f1b6a831c399e269772661'], // quotes, case
    ['W/"abc-2"', 'abc-2'], // weak mark
    ['abc', 'abc'], // already bare
    ['""', ''],
    [undefined, undefined],
  ])('%j → %j', (etag, want) => {
    expect(bareEtag(etag)).toBe(want);
  });
});

describe('DeleteObjects', () => {
  it('deadline grows with the batch and learns per-key time', () => {
    const t = new PerKeyTime({ fraction: 3, minMs: 500, maxMs: 600_000, alpha: 0.2 });
    expect(t.deadlineMs(1000)).toBe(30_000); // prior 10 ms/key × 3
    expect(t.deadlineMs(1)).toBe(500); // the floor
    t.record(1000, 3000); // 3 ms/key measured: first sample replaces the prior
    expect(t.deadlineMs(1000)).toBeCloseTo(9000);
    t.record(1000, 3000);
    expect(t.deadlineMs(1000)).toBeCloseTo(9000);
  });

  it('sends a correct Content-MD5 (beside the SDK\'s CRC32) on the wire', async () => {
    let seen: Record<string, string> = {};
    let body = '';
    const s3 = new S3Client({
      endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: {
        handle: async (req: { headers: Record<string, string>; body: string }) => {
          seen = req.headers;
          body = req.body;
          const { Readable } = await import('node:stream');
          return { response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('<DeleteResult></DeleteResult>')]) } };
        },
      } as never,
    });
    await s3.send(withContentMd5(new DeleteObjectsCommand({ Bucket: 'b', Delete: { Objects: [{ Key: 'a' }, { Key: 'ü & <b>' }], Quiet: true } })));
    expect(seen['content-md5']).toBe(crypto.createHash('md5').update(body).digest('base64'));
    expect(seen['x-amz-checksum-crc32']).toBeDefined();
    expect(seen.authorization).toMatch(/SignedHeaders=.*content-md5/);
    s3.destroy();
  });
});

describe('presign', () => {
  const base = {
    bucket: 'bkt', endpointUrls: ['http://127.0.0.1:7480'], region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    now: new Date('2026-01-02T03:04:05Z'),
  };
  it('signs a path-style GET with only host signed and S3 key encoding', async () => {
    const r = await presign({ ...base, key: 'dir/ünï cødé+(1).txt' });
    const u = new URL(r.url);
    expect(u.origin).toBe('http://127.0.0.1:7480');
    expect(r.url).toContain('/bkt/dir/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%2B%281%29.txt?');
    expect(u.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(u.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(u.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20260102/us-east-1/s3/aws4_request');
    expect(u.searchParams.get('X-Amz-Date')).toBe('20260102T030405Z');
    expect(u.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(u.searchParams.has('X-Amz-Content-Sha256')).toBe(false);
    expect(r.expiresAt.toISOString()).toBe('2026-01-02T04:04:05.000Z');
    // deterministic for a pinned time; PUT signs differently
    expect((await presign({ ...base, key: 'dir/ünï cødé+(1).txt' })).url).toBe(r.url);
    expect((await presign({ ...base, key: 'dir/ünï cødé+(1).txt', method: 'PUT' })).url).not.toBe(r.url);
  });
  it('AWS itself: virtual-hosted https URL', async () => {
    const r = await presign({ ...base, endpointUrls: [], region: 'eu-west-1', key: 'k' });
    expect(r.url.startsWith('https://bkt.s3.eu-west-1.amazonaws.com/k?')).toBe(true);
  });
  it('caps the lifetime at 7 days with a clear message', async () => {
    expect(checkExpires(MAX_PRESIGN_EXPIRES_SEC)).toBe(604_800);
    expect(() => checkExpires(604_801)).toThrow(/604801 is more than 7 days \(604800 s\)/);
    expect(() => checkExpires(0)).toThrow(/≥ 1/);
    await expect(presign({ ...base, key: 'k', expiresInSec: 604_801 })).rejects.toThrow(/more than 7 days/);
  });
});
