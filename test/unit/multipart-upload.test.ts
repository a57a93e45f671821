/**
 * The multipart unit (src/ops/multipart-upload.ts) against a scripted fake store
 * (test/support/fake-store.ts) that also keeps what a store would: part ETags as the MD5 of the
 * body, the composite ETag on Complete (stored before the answer, so a cut answer leaves the
 * object there), HEAD and DELETE of that object. Parts and Complete in order, the abort only
 * after every part in flight settled, Complete cut then NoSuchUpload resolved by HEAD, and the
 * removal of an object that fails its check after Complete.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import type {
  CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CreateMultipartUploadInput, HeadObjectOutput, PutOutput, UploadPartInput,
} from '../../src/endpoints/store.js';
import { headersPlan } from '../../src/config/header-rules.js';
import { SseCustomerKey } from '../../src/config/object-headers.js';
import { Limiter } from '../../src/engine/limiter.js';
import { RequestEngine, RequestFailed } from '../../src/engine/request.js';
import { FileRange } from '../../src/fs/file-range.js';
import { readHashPool } from '../../src/fs/read-hash.js';
import type { FileEntry } from '../../src/fs/walk.js';
import { silentLogger } from '../../src/logger.js';
import { MultipartUpload, OpenUploads, type MultipartContext } from '../../src/ops/multipart-upload.js';
import { bodyBytes } from '../support/body-bytes.js';
import { FakeStore, s3Error, type Call } from '../support/fake-store.js';

const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();
const hex = (b: Buffer): string => b.toString('hex');
const hashOf = async (p: string, start: number, len: number): Promise<Buffer> => md5((await fs.promises.readFile(p)).subarray(start, start + len));
const composite = (parts: Buffer[]): string => `${hex(md5(Buffer.concat(parts.map(md5))))}-${parts.length}`;

/** A FakeStore that also keeps objects: the scripted step (delay, error, hang) runs first, as in FakeStore. */
class KeepingStore extends FakeStore {
  readonly objects = new Map<string, { etag: string; bytes: number }>();
  private readonly partBytes = new Map<string, number>();
  /** Complete answers this ETag instead of the object's (a store gone wrong) */
  completeEtag: string | undefined;

  override async uploadPart(p: UploadPartInput, signal: AbortSignal): Promise<PutOutput> {
    await super.uploadPart(p, signal);
    const body = await bodyBytes(p.body);
    // as a store does: bytes that do not match the Content-MD5 are refused
    if (p.contentMd5 !== undefined && p.contentMd5 !== md5(body).toString('base64')) throw s3Error('BadDigest', 400);
    this.partBytes.set(`${p.uploadId}/${p.partNumber}`, body.length);
    return { etag: `"${hex(md5(body))}"` };
  }

  override async completeMultipartUpload(p: CompleteMultipartUploadInput, signal: AbortSignal): Promise<CompleteMultipartUploadOutput> {
    // the store completes, then answers: an answer cut on the way leaves the object there
    const etag = `"${hex(md5(Buffer.concat(p.parts.map((x) => Buffer.from(x.etag.replace(/"/g, ''), 'hex')))))}-${p.parts.length}"`;
    const bytes = p.parts.reduce((n, x) => n + (this.partBytes.get(`${p.uploadId}/${x.partNumber}`) ?? 0), 0);
    this.objects.set(p.key, { etag, bytes });
    await super.completeMultipartUpload(p, signal);
    return { etag: this.completeEtag ?? etag };
  }

  override async headObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<HeadObjectOutput> {
    await super.headObject(p, signal);
    const o = this.objects.get(p.key);
    if (!o) throw s3Error('NotFound', 404);
    return { etag: o.etag, contentLength: o.bytes };
  }

  override async deleteObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<void> {
    await super.deleteObject(p, signal);
    this.objects.delete(p.key);
  }
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-mpu-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

/** A file of `parts` parts of PART bytes (the last one shorter), each with other bytes. */
const PART = 4;
function file(name: string, parts: number): { f: FileEntry; parts: Buffer[] } {
  const chunks = Array.from({ length: parts }, (_, i) => Buffer.from(i === parts - 1 ? `p${i}` : `pt-${i}`.padEnd(PART, '.')));
  const p = path.join(dir, name);
  fs.writeFileSync(p, Buffer.concat(chunks));
  const st = fs.statSync(p);
  return { f: { path: p, rel: name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev }, parts: chunks };
}

/** One fake store behind one endpoint, the run's engine, the cleanup engine and the slots. */
function setup(store: KeepingStore, deadlineBoundsMs = { minMs: 500, maxMs: 600_000 }) {
  const ep = new Endpoint({
    name: store.name, url: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: DEFAULT_ESTIMATOR }, silentLogger, store);
  const pool = new EndpointPool([ep], { mode: 'pool', strategy: 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const retry: RetryConfig = { retries: 3, backoffBaseMs: 1, backoffCapMs: 5 };
  const signal = new AbortController().signal;
  const ctx: MultipartContext = {
    engine: new RequestEngine(pool, retry, signal, silentLogger),
    cleanup: new RequestEngine(pool, { ...retry, retries: 2 }, new AbortController().signal, silentLogger),
    slots: new Limiter(8), bucket: 'b', logger: silentLogger, verify: false,
    signal, startedWallMs: Date.now(), deadlineBoundsMs, sharedStorage: true, uploads: new OpenUploads(),
  };
  return { ctx, ep };
}

const ops = (store: FakeStore): string[] => store.calls.map((c) => c.op);
const of = (store: FakeStore, op: Call['op']): Call[] => store.calls.filter((c) => c.op === op);

describe('MultipartUpload', () => {
  it('object headers: Create carries them; every part, Complete and the HEAD after Complete carry the SSE-C key', async () => {
    const store = new KeepingStore();
    store.completeEtag = ''; // as Ceph RGW answers: the composite ETag is asked with HEAD
    const { ctx } = setup(store);
    const sseC = new SseCustomerKey(Buffer.alloc(32, 1));
    ctx.headersFor = headersPlan({ cacheControl: 'no-cache', contentType: 'text/x-test', metadata: { a: '1' }, sseC }, []);
    const { f } = file('headers.bin', 3);
    await new MultipartUpload(ctx, f, 'k/headers.bin', undefined, PART).run();

    const create = of(store, 'createMultipartUpload')[0]!.input as CreateMultipartUploadInput;
    expect(create).toMatchObject({ contentType: 'text/x-test', metadata: { a: '1', 's3x-mtime': String(Math.round(f.mtimeMs)) }, headers: { cacheControl: 'no-cache' } });
    expect(create.headers!.sseC).toBe(sseC);
    const withKey = (op: Call['op']): unknown[] => of(store, op).map((c) => (c.input as { sseC?: unknown }).sseC);
    expect(withKey('uploadPart')).toEqual([sseC, sseC, sseC]);
    expect(withKey('completeMultipartUpload')).toEqual([sseC]);
    expect(withKey('headObject')).toEqual([sseC]);
  });

  it('creates, sends every part with its Content-MD5, then completes with the parts in order: the composite ETag', async () => {
    const store = new KeepingStore();
    const { ctx } = setup(store);
    const { f, parts } = file('in-order.bin', 3);
    await new MultipartUpload(ctx, f, 'k/in-order.bin', undefined, PART).run();

    expect(ops(store)[0]).toBe('createMultipartUpload');
    const sent = of(store, 'uploadPart').map((c) => c.input as UploadPartInput).sort((a, b) => a.partNumber - b.partNumber);
    expect(sent.map((p) => [p.partNumber, p.contentLength, p.contentMd5])).toEqual(parts.map((b, i) => [i + 1, b.length, md5(b).toString('base64')]));
    const [complete] = of(store, 'completeMultipartUpload');
    expect(complete).toBeDefined();
    // Complete only once every part has ended, with the parts in order and their ETags
    for (const c of of(store, 'uploadPart')) expect(complete!.startedMs).toBeGreaterThanOrEqual(c.endedMs!);
    expect((complete!.input as CompleteMultipartUploadInput).parts).toEqual(parts.map((b, i) => ({ partNumber: i + 1, etag: `"${hex(md5(b))}"` })));
    expect(store.objects.get('k/in-order.bin')?.etag).toBe(`"${composite(parts)}"`);
    expect(ops(store)).not.toContain('abortMultipartUpload');
    expect(ops(store)).not.toContain('deleteObject');
  });

  it('a failed part: its error is thrown, and the abort goes out only after the other parts in flight settled', async () => {
    const store = new KeepingStore().script(
      { op: 'uploadPart', afterMs: 5, error: s3Error('InvalidDigest', 400) },
      { op: 'uploadPart', afterMs: 80 },
      { op: 'uploadPart', afterMs: 80 },
    );
    const { ctx } = setup(store);
    const { f } = file('part-fails.bin', 3);
    const err = await new MultipartUpload(ctx, f, 'k/part-fails.bin', undefined, PART).run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestFailed);
    expect((err as RequestFailed).facts.code).toBe('InvalidDigest');
    const parts = of(store, 'uploadPart');
    expect(parts).toHaveLength(3);
    const aborts = of(store, 'abortMultipartUpload');
    expect(aborts).toHaveLength(1);
    const lastPartEndMs = Math.max(...parts.map((c) => c.endedMs!));
    expect(lastPartEndMs - parts[0]!.startedMs).toBeGreaterThanOrEqual(70);
    expect(aborts[0]!.startedMs).toBeGreaterThanOrEqual(lastPartEndMs);
    expect(ops(store)).not.toContain('completeMultipartUpload');
    expect(ctx.uploads.isOpen((aborts[0]!.input as { uploadId: string }).uploadId)).toBe(false);
  });

  it('Complete cut by its deadline, then NoSuchUpload: HEAD shows the composite ETag, so the upload is done', async () => {
    const store = new KeepingStore().script(
      { op: 'completeMultipartUpload', hang: 'reason' },
      { op: 'completeMultipartUpload', error: s3Error('NoSuchUpload', 404) },
    );
    // --max-deadline-ms 50: Complete's first attempt is cut after 50 ms
    const { ctx } = setup(store, { minMs: 20, maxMs: 50 });
    const { f, parts } = file('complete-cut.bin', 3);
    await new MultipartUpload(ctx, f, 'k/complete-cut.bin', undefined, PART).run();

    const completes = of(store, 'completeMultipartUpload');
    expect(completes).toHaveLength(2);
    expect((completes[0]!.abortReason as Error).name).toBe('DeadlineExceeded');
    expect(completes[1]!.outcome).toBe('error');
    expect(of(store, 'headObject')).toHaveLength(1);
    expect(store.objects.get('k/complete-cut.bin')?.etag).toBe(`"${composite(parts)}"`);
    expect(ops(store)).not.toContain('abortMultipartUpload');
    expect(ops(store)).not.toContain('deleteObject');
  });

  it('an object whose ETag does not match the parts after Complete is deleted, and the failure says so', async () => {
    const store = new KeepingStore();
    store.completeEtag = `"${'0'.repeat(32)}-3"`;
    const { ctx } = setup(store);
    const { f } = file('mismatch.bin', 3);
    const err = await new MultipartUpload(ctx, f, 'k/mismatch.bin', undefined, PART).run().catch((e: unknown) => e) as NodeJS.ErrnoException;
    expect(err.code).toBe('ETagMismatch');
    expect(err.message).toContain('the stored object was removed');
    const [del] = of(store, 'deleteObject');
    expect(del?.input).toEqual({ bucket: 'b', key: 'k/mismatch.bin' });
    expect(store.objects.has('k/mismatch.bin')).toBe(false);
    // completed, so nothing to abort
    expect(ops(store)).not.toContain('abortMultipartUpload');
  });
  it('each part is hashed once off the main thread (src/fs/read-hash.ts) and sent as its range of the file, with that MD5 as Content-MD5', async () => {
    const hash = vi.spyOn(readHashPool, 'hashRange');
    cleanups.push(() => hash.mockRestore());
    const store = new KeepingStore();
    const { ctx } = setup(store);
    const { f, parts } = file('off-thread.bin', 3);
    await new MultipartUpload(ctx, f, 'k/off-thread.bin', undefined, PART).run();

    expect(hash.mock.calls.map(([, start, len]) => [start, len]).sort((a, b) => a[0]! - b[0]!)).toEqual(parts.map((b, i) => [i * PART, b.length]));
    const sent = of(store, 'uploadPart').map((c) => c.input as UploadPartInput);
    expect(sent).toHaveLength(3);
    for (const input of sent) {
      const i = input.partNumber - 1;
      expect(input.body).toEqual(new FileRange(f.path, i * PART, parts[i]!.length));
      expect(input.contentMd5).toBe(md5(parts[i]!).toString('base64'));
      expect((await bodyBytes(input.body)).equals(parts[i]!)).toBe(true);
    }
  });

  it('a part whose bytes change after they were hashed (the server answers BadDigest): FileChanged at once, not retried, the upload aborted', async () => {
    const store = new KeepingStore();
    const { ctx } = setup(store);
    const { f } = file('rewritten.bin', 3);
    const hash = vi.spyOn(readHashPool, 'hashRange').mockImplementation(async (p, start, len) => {
      const digest = await hashOf(p, start, len);
      if (start === PART) fs.writeFileSync(p, crypto.randomBytes(f.size)); // same size, new bytes, new ctime
      return digest;
    });
    cleanups.push(() => hash.mockRestore());
    const err = await new MultipartUpload(ctx, f, 'k/rewritten.bin', undefined, PART).run().catch((e: unknown) => e);
    expect(err).toMatchObject({ facts: { code: 'FileChanged' } });
    expect(ops(store)).not.toContain('completeMultipartUpload');
    expect(of(store, 'abortMultipartUpload')).toHaveLength(1);
    // no part was sent twice: a changed file is not retried
    const numbers = of(store, 'uploadPart').map((c) => (c.input as UploadPartInput).partNumber);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('a file shorter than walked when its part is read: FileChanged, no Complete, the upload aborted', async () => {
    const store = new KeepingStore();
    const { ctx } = setup(store);
    const { f } = file('shrank.bin', 3);
    const walked = { ...f, size: f.size + PART };
    const err = await new MultipartUpload(ctx, walked, 'k/shrank.bin', undefined, PART).run().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FileChanged' });
    expect(ops(store)).not.toContain('completeMultipartUpload');
    expect(of(store, 'abortMultipartUpload')).toHaveLength(1);
  });
});
