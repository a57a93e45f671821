/**
 * S3Store (src/endpoints/store.ts) over both of its clients against a real gateway: the signed
 * data path and the SDK must give the same plain results and the same error facts for every call,
 * since the commands no longer know which one served them. (The CLI always has a region for a
 * custom endpoint, so the e2e suite otherwise only sees the signed path for data calls.)
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { S3Store, type ObjectStore } from '../../src/endpoints/store.js';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { errorFacts } from '../../src/engine/retry-policy.js';
import { silentLogger } from '../../src/logger.js';
import { makeBucket, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
let bucket: string;
let drop: () => Promise<void>;
let ep: Endpoint;
const stores: Record<'signed' | 'sdk', ObjectStore> = {} as Record<'signed' | 'sdk', ObjectStore>;
const signal = new AbortController().signal;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'store'));
  ep = new Endpoint({
    name: 'rgw', url: env.endpoints[0]!, region: env.region, accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey,
    pathStyle: true, weight: 1, breaker: { threshold: 5, cooldownMs: 1000 },
  }, { maxConcurrent: 4, estimator: DEFAULT_ESTIMATOR }, silentLogger);
  expect(ep.http).toBeDefined();
  stores.signed = ep.store;
  stores.sdk = new S3Store({ sdkClient: () => ep.sdkClient(), http: undefined });
});

afterAll(async () => {
  ep?.destroy();
  await drop?.();
});

const md5Hex = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
const md5B64 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('base64');

async function readAll(body: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe.each(['signed', 'sdk'] as const)('S3Store over the %s client', (path) => {
  const prefix = `${path}/`;
  const data = crypto.randomBytes(100_000);

  it('PutObject (bytes and stream), HeadObject, GetObject whole and ranged', async () => {
    const store = stores[path];
    const put = await store.putObject({
      bucket, key: `${prefix}a`, body: data, contentLength: data.length, contentMd5: md5B64(data), contentType: 'application/x-test', metadata: { 's3x-mtime': '123' },
    }, signal);
    expect(put.etag).toBe(`"${md5Hex(data)}"`);
    const streamed = await store.putObject({ bucket, key: `${prefix}b`, body: () => Readable.from([data.subarray(0, 10), data.subarray(10, 20)]), contentLength: 20 }, signal);
    expect(streamed.etag).toBe(`"${md5Hex(data.subarray(0, 20))}"`);

    const head = await store.headObject({ bucket, key: `${prefix}a` }, signal);
    expect(head).toMatchObject({ etag: put.etag, contentLength: data.length, metadata: { 's3x-mtime': '123' } });

    const whole = await store.getObject({ bucket, key: `${prefix}a` }, signal);
    expect(whole).toMatchObject({ etag: put.etag, contentLength: data.length });
    expect(whole.lastModified).toBeInstanceOf(Date);
    expect((await readAll(whole.body)).equals(data)).toBe(true);

    const part = await store.getObject({ bucket, key: `${prefix}a`, range: { start: 2, end: 5 } }, signal);
    expect(part).toMatchObject({ contentLength: 4, contentRange: `bytes 2-5/${data.length}` });
    expect((await readAll(part.body)).equals(data.subarray(2, 6))).toBe(true);
  });

  it('a GET body fails with the signal\'s reason once the call is aborted', async () => {
    const store = stores[path];
    const big = crypto.randomBytes(4 * 1024 * 1024);
    await store.putObject({ bucket, key: `${prefix}big`, body: big, contentLength: big.length }, signal);
    const ac = new AbortController();
    const res = await store.getObject({ bucket, key: `${prefix}big` }, ac.signal);
    const reason = Object.assign(new Error('cut'), { code: 'DeadlineExceeded' });
    const read = (async () => { for await (const _ of res.body) ac.abort(reason); })();
    await expect(read).rejects.toBe(reason);
  });

  it('multipart: create, parts, list uploads and parts, complete; another one aborted', async () => {
    const store = stores[path];
    const key = `${prefix}mp`;
    const p1 = crypto.randomBytes(5 * 1024 * 1024);
    const p2 = crypto.randomBytes(1000);
    const { uploadId } = await store.createMultipartUpload({ bucket, key, contentType: 'application/octet-stream', metadata: { 's3x-mtime': '7' } }, signal);
    expect(uploadId).toBeTruthy();
    const e1 = await store.uploadPart({ bucket, key, uploadId: uploadId!, partNumber: 1, body: p1, contentLength: p1.length, contentMd5: md5B64(p1) }, signal);
    const e2 = await store.uploadPart({ bucket, key, uploadId: uploadId!, partNumber: 2, body: () => Readable.from([p2]), contentLength: p2.length }, signal);
    expect([e1.etag, e2.etag]).toEqual([`"${md5Hex(p1)}"`, `"${md5Hex(p2)}"`]);
    const listed = await store.listMultipartUploads({ bucket, prefix: key }, signal);
    expect(listed.uploads).toContainEqual(expect.objectContaining({ key, uploadId }));
    expect(listed.uploads.find((u) => u.uploadId === uploadId)!.initiated).toBeInstanceOf(Date);
    const parts = await store.listParts({ bucket, key, uploadId: uploadId! }, signal);
    expect(parts).toMatchObject({ parts: [{ partNumber: 1, etag: e1.etag, size: p1.length }, { partNumber: 2, etag: e2.etag, size: p2.length }], isTruncated: false });
    expect((await store.listParts({ bucket, key, uploadId: uploadId!, partNumberMarker: 1 }, signal)).parts).toEqual([{ partNumber: 2, etag: e2.etag, size: p2.length }]);
    await store.completeMultipartUpload({ bucket, key, uploadId: uploadId!, parts: [{ partNumber: 1, etag: e1.etag! }, { partNumber: 2, etag: e2.etag! }] }, signal);
    const head = await store.headObject({ bucket, key }, signal);
    expect(head.etag).toMatch(/-2"$/);
    expect(head.contentLength).toBe(p1.length + p2.length);

    const other = await store.createMultipartUpload({ bucket, key: `${key}2` }, signal);
    await store.abortMultipartUpload({ bucket, key: `${key}2`, uploadId: other.uploadId! }, signal);
    const after = await store.listMultipartUploads({ bucket, prefix: `${key}2` }, signal);
    expect(after).toMatchObject({ uploads: [], isTruncated: false });
  });

  it('ListObjectsV2 pages, DeleteObjects, DeleteObject, ListBuckets', async () => {
    const store = stores[path];
    const lp = `${prefix}list/`;
    for (const k of ['x', 'y', 'z']) await store.putObject({ bucket, key: lp + k, body: Buffer.from(k), contentLength: 1 }, signal);
    const first = await store.listObjectsV2({ bucket, prefix: lp, maxKeys: 2 }, signal);
    expect(first.Contents!.map((o) => o.Key)).toEqual([`${lp}x`, `${lp}y`]);
    expect(first.IsTruncated).toBe(true);
    const second = await store.listObjectsV2({ bucket, prefix: lp, continuationToken: first.NextContinuationToken }, signal);
    expect(second.Contents!.map((o) => [o.Key, o.Size])).toEqual([[`${lp}z`, 1]]);
    const folders = await store.listObjectsV2({ bucket, prefix, delimiter: '/' }, signal);
    expect(folders.CommonPrefixes!.map((p) => p.Prefix)).toContain(lp);

    expect(await store.deleteObjects({ bucket, keys: [`${lp}x`, `${lp}y`, `${lp}never-there`] }, signal)).toEqual({ errors: [] });
    await store.deleteObject({ bucket, key: `${lp}z` }, signal);
    expect((await store.listObjectsV2({ bucket, prefix: lp }, signal)).Contents ?? []).toEqual([]);
    await expect(store.listBuckets(signal)).resolves.toBeUndefined();
  });
});

describe('S3Store: both clients fail alike', () => {
  it.each([
    ['GetObject of a missing key', (s: ObjectStore) => s.getObject({ bucket, key: 'missing/key' }, signal)],
    ['PutObject to a missing bucket', (s: ObjectStore) => s.putObject({ bucket: `${bucket}-missing`, key: 'k', body: Buffer.from('x'), contentLength: 1 }, signal)],
    ['PutObject with a wrong Content-MD5', (s: ObjectStore) => s.putObject({ bucket, key: 'bad-md5', body: Buffer.from('x'), contentLength: 1, contentMd5: md5B64(Buffer.from('y')) }, signal)],
    ['UploadPart of an unknown upload', (s: ObjectStore) => s.uploadPart({ bucket, key: 'k', uploadId: 'no-such-upload', partNumber: 1, body: Buffer.from('x'), contentLength: 1 }, signal)],
  ])('%s: the same code and status', async (_what, call) => {
    const facts = await Promise.all([stores.signed, stores.sdk].map((s) => call(s).then(() => undefined, (e: unknown) => errorFacts(e))));
    expect(facts[0]).toBeDefined();
    expect({ code: facts[1]!.code, status: facts[1]!.status }).toEqual({ code: facts[0]!.code, status: facts[0]!.status });
  });
});
