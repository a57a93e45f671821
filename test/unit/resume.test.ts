/**
 * --resume (src/ops/resume.ts, src/ops/multipart-upload.ts): which open upload is continued
 * (fitParts, and the lookup against a fake store that keeps open uploads and pages its
 * listings), which parts are kept (only those whose bytes are the file's), and what a stopped
 * run leaves open.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { partRange, planParts } from '../../src/config/multipart.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import type {
  CompleteMultipartUploadInput, CompleteMultipartUploadOutput, HeadObjectOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput,
  ListPartsInput, ListPartsOutput, PutOutput, UploadPartInput,
} from '../../src/endpoints/store.js';
import { Limiter } from '../../src/engine/limiter.js';
import { RequestEngine } from '../../src/engine/request.js';
import type { FileEntry } from '../../src/fs/walk.js';
import { silentLogger } from '../../src/logger.js';
import { MultipartUpload, OpenUploads, type MultipartContext } from '../../src/ops/multipart-upload.js';
import { fitParts } from '../../src/ops/resume.js';
import { bodyBytes } from '../support/body-bytes.js';
import { FakeStore, s3Error, type Call } from '../support/fake-store.js';

const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();
const hex = (b: Buffer): string => md5(b).toString('hex');

interface Open { key: string; uploadId: string; initiated: Date; parts: Map<number, { etag: string; size: number }> }

/** A FakeStore that keeps open uploads and objects, and pages its listings (one upload, one part per page). */
class UploadsStore extends FakeStore {
  readonly open = new Map<string, Open>();
  readonly objects = new Map<string, string>();
  private next = 0;

  /** An open upload of an earlier run, holding `parts` (number → bytes). */
  seed(key: string, initiatedMs: number, parts: Record<number, Buffer>): string {
    const uploadId = `old-${++this.next}`;
    const m = new Map(Object.entries(parts).map(([n, b]) => [Number(n), { etag: `"${hex(b)}"`, size: b.length }]));
    this.open.set(uploadId, { key, uploadId, initiated: new Date(initiatedMs), parts: m });
    return uploadId;
  }

  override async createMultipartUpload(p: { key: string }, signal: AbortSignal): Promise<{ uploadId: string | undefined }> {
    await super.createMultipartUpload(p, signal);
    const uploadId = `new-${++this.next}`;
    this.open.set(uploadId, { key: p.key, uploadId, initiated: new Date(), parts: new Map() });
    return { uploadId };
  }

  override async uploadPart(p: UploadPartInput, signal: AbortSignal): Promise<PutOutput> {
    await super.uploadPart(p, signal);
    const body = await bodyBytes(p.body);
    const u = this.open.get(p.uploadId);
    if (!u) throw s3Error('NoSuchUpload', 404);
    u.parts.set(p.partNumber, { etag: `"${hex(body)}"`, size: body.length });
    return { etag: `"${hex(body)}"` };
  }

  override async completeMultipartUpload(p: CompleteMultipartUploadInput, signal: AbortSignal): Promise<CompleteMultipartUploadOutput> {
    await super.completeMultipartUpload(p, signal);
    const u = this.open.get(p.uploadId);
    if (!u) throw s3Error('NoSuchUpload', 404);
    for (const x of p.parts) if (u.parts.get(x.partNumber)?.etag !== x.etag) throw s3Error('InvalidPart', 400);
    const etag = `"${md5(Buffer.concat(p.parts.map((x) => Buffer.from(x.etag.replace(/"/g, ''), 'hex')))).toString('hex')}-${p.parts.length}"`;
    this.open.delete(p.uploadId);
    this.objects.set(p.key, etag);
    return { etag };
  }

  override async abortMultipartUpload(p: { uploadId: string }, signal: AbortSignal): Promise<void> {
    await super.abortMultipartUpload(p as never, signal);
    this.open.delete(p.uploadId);
  }

  override async headObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<HeadObjectOutput> {
    await super.headObject(p, signal);
    const etag = this.objects.get(p.key);
    if (!etag) throw s3Error('NotFound', 404);
    return { etag };
  }

  /** One upload per page, in key then initiation order, as S3 lists them. */
  override async listMultipartUploads(p: ListMultipartUploadsInput, signal: AbortSignal): Promise<ListMultipartUploadsOutput> {
    await super.listMultipartUploads(p, signal);
    const all = [...this.open.values()].filter((u) => u.key.startsWith(p.prefix ?? ''))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime()));
    const from = p.uploadIdMarker === undefined ? 0 : all.findIndex((u) => u.uploadId === p.uploadIdMarker) + 1;
    const page = all.slice(from, from + 1);
    const truncated = from + 1 < all.length;
    return {
      uploads: page.map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated })), isTruncated: truncated,
      ...(truncated && { nextKeyMarker: page[0]!.key, nextUploadIdMarker: page[0]!.uploadId }),
    };
  }

  /** One part per page. */
  override async listParts(p: ListPartsInput, signal: AbortSignal): Promise<ListPartsOutput> {
    await super.listParts(p, signal);
    const u = this.open.get(p.uploadId);
    if (!u) throw s3Error('NoSuchUpload', 404);
    const all = [...u.parts.entries()].sort((a, b) => a[0] - b[0]).filter(([n]) => n > (p.partNumberMarker ?? 0));
    const [first] = all;
    return {
      parts: first ? [{ partNumber: first[0], etag: first[1].etag, size: first[1].size }] : [], isTruncated: all.length > 1,
      ...(all.length > 1 && { nextPartNumberMarker: first![0] }),
    };
  }
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-resume-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

/** A file of `parts` parts of PART bytes, the last one shorter, each with other bytes. */
const PART = 4;
function file(name: string, parts: number): { f: FileEntry; parts: Buffer[] } {
  const chunks = Array.from({ length: parts }, (_, i) => Buffer.from(i === parts - 1 ? `p${i}` : `pt-${i}`.padEnd(PART, '.')));
  const p = path.join(dir, name);
  fs.writeFileSync(p, Buffer.concat(chunks));
  const st = fs.statSync(p);
  return { f: { path: p, rel: name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev }, parts: chunks };
}

function setup(store: FakeStore, resume = true): MultipartContext {
  const ep = new Endpoint({
    name: store.name, url: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: DEFAULT_ESTIMATOR }, silentLogger, store);
  const pool = new EndpointPool([ep], { mode: 'pool', strategy: 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const retry: RetryConfig = { retries: 1, backoffBaseMs: 1, backoffCapMs: 5 };
  const signal = new AbortController().signal;
  return {
    engine: new RequestEngine(pool, retry, signal, silentLogger),
    cleanup: new RequestEngine(pool, retry, new AbortController().signal, silentLogger),
    slots: new Limiter(8), bucket: 'b', logger: silentLogger, verify: false,
    signal, startedWallMs: 0, deadlineBoundsMs: { minMs: 500, maxMs: 600_000 }, sharedStorage: true, uploads: new OpenUploads(resume),
  };
}

const of = (store: FakeStore, op: Call['op']): Call[] => store.calls.filter((c) => c.op === op);
const sentParts = (store: FakeStore): number[] => of(store, 'uploadPart').map((c) => (c.input as UploadPartInput).partNumber).sort((a, b) => a - b);
const composite = (parts: Buffer[]): string => `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-${parts.length}"`;

describe('fitParts', () => {
  const plan = planParts(10, 4); // parts of 4, 4, 2 bytes
  it('takes parts where the plan puts them, the short last one included', () => {
    const fit = fitParts([{ partNumber: 1, etag: '"a"', size: 4 }, { partNumber: 3, etag: '"c"', size: 2 }], plan, 10);
    expect(fit).toEqual({ ok: true, parts: new Map([[1, { etag: '"a"', sizeBytes: 4 }], [3, { etag: '"c"', sizeBytes: 2 }]]) });
  });
  it('refuses another part size, a part beyond the file, a part of the wrong size, a part without ETag or size', () => {
    expect(fitParts([{ partNumber: 1, etag: '"a"', size: 5 }], plan, 10)).toEqual({ ok: false, reason: 'part size 5 B, not 4 B' });
    expect(fitParts([{ partNumber: 4, etag: '"a"', size: 4 }], plan, 10)).toEqual({ ok: false, reason: 'part 4 is beyond the 3 parts of 4 B this file makes' });
    expect(fitParts([{ partNumber: 3, etag: '"a"', size: 4 }], plan, 10)).toEqual({ ok: false, reason: 'part 3 is 4 B, not 2 B' });
    expect(fitParts([{ partNumber: 2, etag: '"a"', size: 3 }], plan, 10)).toEqual({ ok: false, reason: 'part 2 is 3 B, not 4 B' });
    expect(fitParts([{ partNumber: 1, size: 4 }], plan, 10).ok).toBe(false);
    expect(fitParts([{ partNumber: 1, etag: '"a"' }], plan, 10).ok).toBe(false);
    expect(fitParts([{ partNumber: 1.5, etag: '"a"', size: 4 }], plan, 10).ok).toBe(false);
  });
  it('property: every part it keeps is exactly one of the plan\'s byte ranges within the file', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 50 }),
      fc.array(fc.record({ partNumber: fc.integer({ min: -1, max: 12 }), size: fc.integer({ min: 0, max: 60 }) }), { maxLength: 8 }),
      (fileBytes, partBytes, listed) => {
        const p = planParts(fileBytes, partBytes);
        const fit = fitParts(listed.map((x) => ({ ...x, etag: '"e"' })), p, fileBytes);
        if (!fit.ok) return;
        for (const [n, kept] of fit.parts) {
          expect(n >= 1 && n <= p.count).toBe(true);
          const r = partRange(p, fileBytes, n - 1);
          expect(r.start).toBeLessThan(fileBytes);
          expect(kept.sizeBytes).toBe(r.end - r.start + 1);
        }
      },
    ));
  });
  it('property: the parts of the plan itself, any of them, always fit', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 999 }), fc.array(fc.nat(), { maxLength: 10 }), (fileBytes, partBytes, picks) => {
      const p = planParts(fileBytes, partBytes);
      const listed = picks.map((k) => {
        const i = k % p.count;
        const r = partRange(p, fileBytes, i);
        return { partNumber: i + 1, etag: '"e"', size: r.end - r.start + 1 };
      });
      expect(fitParts(listed, p, fileBytes).ok).toBe(true);
    }));
  });
});

describe('MultipartUpload with resume', () => {
  it('keeps the stored parts whose bytes are the file\'s, sends the missing and the different ones, completes with all', async () => {
    const store = new UploadsStore();
    const { f, parts } = file('a.bin', 4);
    // part 2 was stored with other bytes (the file changed since)
    const old = store.seed('k/a.bin', 1000, { 1: parts[0]!, 2: Buffer.from('XXXX'), 3: parts[2]! });
    const ctx = setup(store);
    await new MultipartUpload(ctx, f, 'k/a.bin', undefined, PART).run();
    expect(of(store, 'createMultipartUpload')).toHaveLength(0);
    expect(sentParts(store)).toEqual([2, 4]);
    const [complete] = of(store, 'completeMultipartUpload');
    expect((complete!.input as CompleteMultipartUploadInput).uploadId).toBe(old);
    expect((complete!.input as CompleteMultipartUploadInput).parts.map((x) => x.partNumber)).toEqual([1, 2, 3, 4]);
    expect(store.objects.get('k/a.bin')).toBe(composite(parts));
    expect(ctx.uploads.resumed).toMatchObject({ uploads: 1, partsKept: 2, passed: [] });
    // the listings were paged: 1 upload and 1 part per page
    expect(of(store, 'listParts').length).toBe(3);
  });

  it('several open uploads of the key: the newest that fits; those passed over are named; a longer key is never taken', async () => {
    const store = new UploadsStore();
    const { f, parts } = file('b.bin', 3);
    store.seed('k/b.bin.part', 5000, { 1: parts[0]! });
    const older = store.seed('k/b.bin', 1000, { 1: parts[0]! });
    const newer = store.seed('k/b.bin', 2000, { 2: parts[1]! });
    const foreign = store.seed('k/b.bin', 3000, { 1: Buffer.from('12345') });
    const ctx = setup(store);
    await new MultipartUpload(ctx, f, 'k/b.bin', undefined, PART).run();
    const [complete] = of(store, 'completeMultipartUpload');
    expect((complete!.input as CompleteMultipartUploadInput).uploadId).toBe(newer);
    expect(sentParts(store)).toEqual([1, 3]);
    expect(store.objects.get('k/b.bin')).toBe(composite(parts));
    expect(ctx.uploads.resumed.passed).toEqual([
      { key: 'k/b.bin', uploadId: foreign, reason: 'part size 5 B, not 4 B' },
      { key: 'k/b.bin', uploadId: older, reason: 'a newer open upload of the key was continued' },
    ]);
    // passed over, not aborted
    expect([...store.open.keys()].sort()).toEqual([older, foreign, 'old-1'].sort());
    expect(of(store, 'abortMultipartUpload')).toHaveLength(0);
  });

  it('nothing fits: a fresh upload, every part sent', async () => {
    const store = new UploadsStore();
    const { f, parts } = file('c.bin', 3);
    const stale = store.seed('k/c.bin', 1000, { 4: Buffer.from('pt-3') });
    const ctx = setup(store);
    await new MultipartUpload(ctx, f, 'k/c.bin', undefined, PART).run();
    expect(of(store, 'createMultipartUpload')).toHaveLength(1);
    expect(sentParts(store)).toEqual([1, 2, 3]);
    expect(store.objects.get('k/c.bin')).toBe(composite(parts));
    expect(ctx.uploads.resumed.passed).toEqual([{ key: 'k/c.bin', uploadId: stale, reason: 'part 4 is beyond the 3 parts of 4 B this file makes' }]);
    expect(store.open.has(stale)).toBe(true);
  });

  it('an upload gone between the two listings (NoSuchUpload) is skipped, not named; one whose parts cannot be listed is named', async () => {
    const store = new UploadsStore().script(
      { op: 'listParts', error: s3Error('NoSuchUpload', 404) },
      { op: 'listParts', error: s3Error('AccessDenied', 403) },
    );
    const { f } = file('g.bin', 3);
    store.seed('k/g.bin', 1000, {});
    const unreadable = store.seed('k/g.bin', 2000, {});
    store.seed('k/g.bin', 3000, {});
    const ctx = setup(store);
    await new MultipartUpload(ctx, f, 'k/g.bin', undefined, PART).run();
    // newest gone, next unreadable, the oldest continued
    expect(ctx.uploads.resumed.passed).toEqual([{ key: 'k/g.bin', uploadId: unreadable, reason: 'its parts could not be listed' }]);
    expect(ctx.uploads.resumed.uploads).toBe(1);
    expect(of(store, 'createMultipartUpload')).toHaveLength(0);
  });

  it('the lookup refused (AccessDenied): a fresh upload; without resume no lookup at all', async () => {
    const store = new UploadsStore().script({ op: 'listMultipartUploads', error: s3Error('AccessDenied', 403) });
    const { f, parts } = file('d.bin', 3);
    await new MultipartUpload(setup(store), f, 'k/d.bin', undefined, PART).run();
    expect(of(store, 'createMultipartUpload')).toHaveLength(1);
    expect(store.objects.get('k/d.bin')).toBe(composite(parts));

    const plain = new UploadsStore();
    plain.seed('k/d.bin', 1000, { 1: parts[0]! });
    await new MultipartUpload(setup(plain, false), f, 'k/d.bin', undefined, PART).run();
    expect(of(plain, 'listMultipartUploads')).toHaveLength(0);
    expect(sentParts(plain)).toEqual([1, 2, 3]);
  });

  it('a Create attempt unanswered: the open upload passed over (named as left open) is not aborted as its orphan', async () => {
    const store = new UploadsStore().script({ op: 'createMultipartUpload', error: s3Error('InternalError', 500) });
    const { f, parts } = file('o.bin', 3);
    // initiated now: within the window in which an unanswered Create's orphans are looked for
    const foreign = store.seed('k/o.bin', Date.now(), { 1: Buffer.from('12345') });
    const ctx = setup(store);
    await new MultipartUpload(ctx, f, 'k/o.bin', undefined, PART).run();
    expect(of(store, 'createMultipartUpload')).toHaveLength(2);
    expect(store.objects.get('k/o.bin')).toBe(composite(parts));
    // the orphan search ran, and left the upload it had named alone
    expect(of(store, 'listMultipartUploads').length).toBeGreaterThan(1);
    expect(of(store, 'abortMultipartUpload')).toHaveLength(0);
    expect(store.open.has(foreign)).toBe(true);
  });

  it('the file changes while a resumed upload runs: the file fails and the upload is aborted', async () => {
    const store = new UploadsStore().script({ op: 'uploadPart', afterMs: 100 });
    const { f, parts } = file('e.bin', 3);
    const old = store.seed('k/e.bin', 1000, { 1: parts[0]! });
    const ctx = setup(store);
    const running = new MultipartUpload(ctx, f, 'k/e.bin', undefined, PART).run().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    fs.appendFileSync(f.path, 'more');
    const err = await running as NodeJS.ErrnoException;
    expect(err.code).toBe('FileChanged');
    expect(of(store, 'completeMultipartUpload')).toHaveLength(0);
    expect((of(store, 'abortMultipartUpload')[0]?.input as { uploadId: string }).uploadId).toBe(old);
    expect(store.open.has(old)).toBe(false);
  });
});

describe('OpenUploads when the run stops', () => {
  /** Two open uploads, one holding a part; the run stops: which are aborted, which kept. */
  async function stopped(resume: boolean): Promise<{ aborted: string[]; kept: Array<{ key: string; uploadId: string }> }> {
    const aborted: string[] = [];
    const ep = { store: { abortMultipartUpload: async (p: { uploadId: string }) => { aborted.push(p.uploadId); } } } as unknown as Endpoint;
    const uploads = new OpenUploads(resume);
    uploads.add({ key: 'k/with-parts', uploadId: 'u1', endpoint: ep, deadlineMs: 1 });
    uploads.add({ key: 'k/empty', uploadId: 'u2', endpoint: ep, deadlineMs: 1 });
    uploads.partStored('u1');
    const cleanup = { run: (spec: { send: (e: Endpoint, s: AbortSignal) => Promise<unknown> }) => spec.send(ep, new AbortController().signal) };
    await uploads.abortAll(cleanup as unknown as RequestEngine, 'b', silentLogger);
    return { aborted: aborted.sort(), kept: uploads.resumed.keptOpen };
  }
  it('with resume, an upload holding parts is left open (and listed), one without parts aborted; without, both aborted', async () => {
    expect(await stopped(true)).toEqual({ aborted: ['u2'], kept: [{ key: 'k/with-parts', uploadId: 'u1' }] });
    expect(await stopped(false)).toEqual({ aborted: ['u1', 'u2'], kept: [] });
  });
});
