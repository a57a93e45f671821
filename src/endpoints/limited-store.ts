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
  GetObjectOutput, HeadObjectInput, HeadObjectOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsPage,
  ListPartsInput, ListPartsOutput, ObjectBody, ObjectStore, PutObjectInput, PutOutput, StoreBody, UploadPartInput,
} from './object-store.js';
import { bodyStream } from './signed-http.js';
import { chunkBytesFor, type BodyLimit } from './limits.js';
import type { TokenBucket } from './token-bucket.js';
import { abortSignalOf, type StopSignal } from './stop-signal.js';

/** `chunk` cut into slices of at most `size` bytes (no copy). */
function* slices(chunk: Uint8Array | string, size: number): Generator<Buffer> {
  const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, Math.min(buf.length, at + size));
}

/**
 * One body's passage through the buckets. Tokens are taken a whole chunk at a time (or what is
 * left of the body's length, when known), however small the pieces the socket or the file
 * hands over: a body of b bytes takes ⌈b ÷ chunk⌉ times, the count ./limits.ts
 * `limitedTransferMs` bounds its wait with.
 */
class Pacer {
  readonly size: number;
  /** tokens taken and not yet spent */
  private credit = 0;

  constructor(private readonly buckets: readonly TokenBucket[], private readonly signal: StopSignal, private remaining: number) {
    this.size = chunkBytesFor(buckets);
  }

  /** Resolves once `n` more bytes (n ≤ size) may pass. */
  async pass(n: number): Promise<void> {
    if (this.credit < n) {
      const want = Math.max(n - this.credit, Math.min(this.size, this.remaining - this.credit));
      for (const b of this.buckets) await b.take(want, this.signal);
      this.credit += want;
    }
    this.credit -= n;
    this.remaining -= n;
  }
}

/**
 * A fresh-stream factory yielding `body`'s `contentLength` bytes as tokens allow. The wait ends
 * at once when the request's signal aborts or the consumer destroys the stream (an error answer).
 */
export function limitedBody(body: StoreBody, contentLength: number, buckets: readonly TokenBucket[], signal: StopSignal): () => NodeJS.ReadableStream {
  return () => {
    const closed = new AbortController();
    const pacer = new Pacer(buckets, AbortSignal.any([abortSignalOf(signal), closed.signal]), contentLength);
    const source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array> = Buffer.isBuffer(body) ? [body] : (bodyStream(body) as AsyncIterable<Uint8Array | string>);
    let wake: (() => void) | undefined;
    const out = new Readable({
      read() { const w = wake; wake = undefined; w?.(); },
      destroy(err, cb) { closed.abort(err ?? new Error('request body closed')); wake?.(); cb(err); },
    });
    void (async () => {
      try {
        for await (const chunk of source) {
          for (const s of slices(chunk, pacer.size)) {
            await pacer.pass(s.length);
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

/** A download body (`contentLength` bytes, when known) read only as tokens allow; the wait ends when `signal` aborts or the consumer destroys it. */
export function limitedDownload(body: ObjectBody, contentLength: number | undefined, buckets: readonly TokenBucket[], signal: StopSignal): ObjectBody {
  const closed = new AbortController();
  const pacer = new Pacer(buckets, AbortSignal.any([abortSignalOf(signal), closed.signal]), contentLength ?? 0);
  return {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of body) {
        for (const s of slices(chunk, pacer.size)) {
          await pacer.pass(s.length);
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

  putObject(p: PutObjectInput, signal: StopSignal): Promise<PutOutput> {
    return this.inner.putObject(this.up.length ? { ...p, body: limitedBody(p.body, p.contentLength, this.up, signal) } : p, signal);
  }

  uploadPart(p: UploadPartInput, signal: StopSignal): Promise<PutOutput> {
    return this.inner.uploadPart(this.up.length ? { ...p, body: limitedBody(p.body, p.contentLength, this.up, signal) } : p, signal);
  }

  async getObject(p: GetObjectInput, signal: StopSignal): Promise<GetObjectOutput> {
    const res = await this.inner.getObject(p, signal);
    return this.down.length ? { ...res, body: limitedDownload(res.body, res.contentLength, this.down, signal) } : res;
  }

  headObject(p: HeadObjectInput, signal: StopSignal): Promise<HeadObjectOutput> { return this.inner.headObject(p, signal); }
  listObjectsV2(p: ListObjectsInput, signal: StopSignal): Promise<ListObjectsPage> { return this.inner.listObjectsV2(p, signal); }
  deleteObjects(p: { bucket: string; keys: readonly string[] }, signal: StopSignal): Promise<DeleteObjectsOutput> { return this.inner.deleteObjects(p, signal); }
  deleteObject(p: { bucket: string; key: string }, signal: StopSignal): Promise<void> { return this.inner.deleteObject(p, signal); }
  createMultipartUpload(p: CreateMultipartUploadInput, signal: StopSignal): Promise<{ uploadId: string | undefined }> { return this.inner.createMultipartUpload(p, signal); }
  completeMultipartUpload(p: CompleteMultipartUploadInput, signal: StopSignal): Promise<CompleteMultipartUploadOutput> { return this.inner.completeMultipartUpload(p, signal); }
  abortMultipartUpload(p: { bucket: string; key: string; uploadId: string }, signal: StopSignal): Promise<void> { return this.inner.abortMultipartUpload(p, signal); }
  listMultipartUploads(p: ListMultipartUploadsInput, signal: StopSignal): Promise<ListMultipartUploadsOutput> { return this.inner.listMultipartUploads(p, signal); }
  listParts(p: ListPartsInput, signal: StopSignal): Promise<ListPartsOutput> { return this.inner.listParts(p, signal); }
  getBucketVersioning(p: { bucket: string }, signal: StopSignal): Promise<{ status: string | undefined }> { return this.inner.getBucketVersioning(p, signal); }
  listBuckets(signal: StopSignal): Promise<void> { return this.inner.listBuckets(signal); }
}
