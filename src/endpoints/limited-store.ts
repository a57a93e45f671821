/**
 * `--bwlimit` on the bodies: an ObjectStore around an endpoint's own (./store.ts) whose upload
 * bodies and download bodies pass through token buckets (./token-bucket.ts) in chunks of at most
 * CHUNK_BYTES. It wraps the body itself, not one client, so the signed path (./signed-http.ts
 * writes what the body yields to the socket as it comes, with backpressure) and the SDK path
 * (./sdk-store.ts hands the same stream to the SDK) are limited alike, with no limit code in
 * either. Parts and small files take from the same buckets chunk by chunk, FIFO: a 64 MiB part
 * never books its whole budget at once, so a 4 KiB file waits at most one chunk per body ahead
 * of it. A download body is read from the socket only as tokens come (TCP backpressure slows
 * the server). Control calls (lists, deletes, multipart control) carry no body to limit here;
 * `--tpslimit` counts them in the engine (engine/request.ts).
 */
import { Readable } from 'node:stream';
import type {
  CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CreateMultipartUploadInput, DeleteObjectsOutput, GetObjectInput,
  GetObjectOutput, HeadObjectOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsPage,
  ObjectBody, ObjectStore, PutObjectInput, PutOutput, StoreBody, UploadPartInput,
} from './object-store.js';
import type { BodyLimit } from './limits.js';
import type { TokenBucket } from './token-bucket.js';

/** Largest take: small enough that concurrent bodies interleave finely, large enough to cost little CPU. */
export const CHUNK_BYTES = 64 * 1024;

/** The bytes one body may take at once from `buckets` (smaller for slow limits: ≤ 1/20 s of the slowest). */
export function chunkBytesFor(buckets: readonly TokenBucket[]): number {
  const slowest = Math.min(...buckets.map((b) => b.ratePerSecond));
  return Math.max(1024, Math.min(CHUNK_BYTES, Math.floor(slowest / 20)));
}

/** Takes `n` tokens from every bucket in turn (both limits hold). */
async function takeAll(buckets: readonly TokenBucket[], n: number, signal: AbortSignal): Promise<void> {
  for (const b of buckets) await b.take(n, signal);
}

/** `chunk` cut into slices of at most `size` bytes (no copy). */
function* slices(chunk: Uint8Array, size: number): Generator<Buffer> {
  const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, Math.min(buf.length, at + size));
}

/**
 * A fresh-stream factory yielding `body`'s bytes as tokens allow. The wait ends at once when
 * the request's signal aborts or the consumer destroys the stream (an error answer).
 */
export function limitedBody(body: StoreBody, buckets: readonly TokenBucket[], signal: AbortSignal): () => NodeJS.ReadableStream {
  const size = chunkBytesFor(buckets);
  return () => {
    const closed = new AbortController();
    const stop = AbortSignal.any([signal, closed.signal]);
    const source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array> = Buffer.isBuffer(body) ? [body] : (body() as AsyncIterable<Uint8Array | string>);
    let wake: (() => void) | undefined;
    const out = new Readable({
      read() { const w = wake; wake = undefined; w?.(); },
      destroy(err, cb) { closed.abort(err ?? new Error('request body closed')); wake?.(); cb(err); },
    });
    void (async () => {
      try {
        for await (const chunk of source) {
          for (const s of slices(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, size)) {
            await takeAll(buckets, s.length, stop);
            if (out.destroyed) return;
            if (!out.push(s)) await new Promise<void>((r) => { wake = r; });
            if (out.destroyed) return;
          }
        }
        out.push(null);
      } catch (err) {
        if (!out.destroyed) out.destroy(err as Error);
      } finally {
        // leaving the loop early (abort, error answer) closes the file stream
        if (!Buffer.isBuffer(body)) (source as { destroy?: () => unknown }).destroy?.();
      }
    })();
    return out;
  };
}

/** A download body read only as tokens allow; the wait ends when `signal` aborts or the consumer destroys it. */
export function limitedDownload(body: ObjectBody, buckets: readonly TokenBucket[], signal: AbortSignal): ObjectBody {
  const size = chunkBytesFor(buckets);
  const closed = new AbortController();
  const stop = AbortSignal.any([signal, closed.signal]);
  return {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of body) {
        for (const s of slices(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, size)) {
          await takeAll(buckets, s.length, stop);
          yield s;
        }
      }
    },
    destroy: (err?: Error) => { closed.abort(err ?? new Error('response body closed')); return body.destroy(err); },
  };
}

/** `inner` with every upload and download body limited by the buckets of its direction; every other call passed through. */
export class LimitedStore implements ObjectStore {
  private readonly up: readonly TokenBucket[];
  private readonly down: readonly TokenBucket[];

  constructor(private readonly inner: ObjectStore, up: readonly BodyLimit[], down: readonly BodyLimit[]) {
    this.up = up.map((l) => l.bucket);
    this.down = down.map((l) => l.bucket);
  }

  putObject(p: PutObjectInput, signal: AbortSignal): Promise<PutOutput> {
    return this.inner.putObject(this.up.length ? { ...p, body: limitedBody(p.body, this.up, signal) } : p, signal);
  }

  uploadPart(p: UploadPartInput, signal: AbortSignal): Promise<PutOutput> {
    return this.inner.uploadPart(this.up.length ? { ...p, body: limitedBody(p.body, this.up, signal) } : p, signal);
  }

  async getObject(p: GetObjectInput, signal: AbortSignal): Promise<GetObjectOutput> {
    const res = await this.inner.getObject(p, signal);
    return this.down.length ? { ...res, body: limitedDownload(res.body, this.down, signal) } : res;
  }

  headObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<HeadObjectOutput> { return this.inner.headObject(p, signal); }
  listObjectsV2(p: ListObjectsInput, signal: AbortSignal): Promise<ListObjectsPage> { return this.inner.listObjectsV2(p, signal); }
  deleteObjects(p: { bucket: string; keys: readonly string[] }, signal: AbortSignal): Promise<DeleteObjectsOutput> { return this.inner.deleteObjects(p, signal); }
  deleteObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<void> { return this.inner.deleteObject(p, signal); }
  createMultipartUpload(p: CreateMultipartUploadInput, signal: AbortSignal): Promise<{ uploadId: string | undefined }> { return this.inner.createMultipartUpload(p, signal); }
  completeMultipartUpload(p: CompleteMultipartUploadInput, signal: AbortSignal): Promise<CompleteMultipartUploadOutput> { return this.inner.completeMultipartUpload(p, signal); }
  abortMultipartUpload(p: { bucket: string; key: string; uploadId: string }, signal: AbortSignal): Promise<void> { return this.inner.abortMultipartUpload(p, signal); }
  listMultipartUploads(p: ListMultipartUploadsInput, signal: AbortSignal): Promise<ListMultipartUploadsOutput> { return this.inner.listMultipartUploads(p, signal); }
  listBuckets(signal: AbortSignal): Promise<void> { return this.inner.listBuckets(signal); }
}
