/**
 * What upload checks of an object it stored, and what it does when a check fails: the ETag
 * against the file's MD5 (unless encryption makes the ETag no MD5), the file unchanged since the
 * walk, --verify's read-back, and the removal of a stored object that failed a check. Shared by
 * the single PUT (./put-object.ts) and the multipart unit (./multipart-upload.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { etagIsNotMd5, md5FromEtag, md5OfFile } from '../fs/md5.js';
import { ShortRead } from '../fs/file-range.js';
import { readHashPool } from '../fs/read-hash.js';
import type { FileEntry } from '../fs/walk.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { Interrupted, RequestFailed, type RequestEngine } from '../engine/request.js';
import { errorFacts } from '../engine/retry-policy.js';
import type { Limiter } from '../engine/limiter.js';
import type { Logger } from '../logger.js';
import type { HeadersFor } from '../config/header-rules.js';
import type { SseCustomerKey } from '../config/object-headers.js';
import type { StoredHeaders } from '../endpoints/store.js';
import { contentTypeFor } from './content-type.js';

/** User metadata key holding the file's mtime (ms since the epoch) at upload. */
export const MTIME_METADATA = 's3x-mtime';
/**
 * `len` bytes of the file from `start`, read once into one buffer: what is hashed for
 * Content-MD5 is what is sent, on every attempt. A file shorter than the walk said has changed.
 */
export async function readRange(f: FileEntry, start: number, len: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafeSlow(len);
  const fh = await fs.promises.open(f.path, 'r');
  try {
    for (let got = 0; got < len;) {
      const { bytesRead } = await fh.read(buf, got, len - got, start + got);
      if (bytesRead === 0) throw fileChanged(f);
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}

/**
 * The MD5 of `len` bytes of `f` from `start`, hashed on a worker thread (../fs/read-hash.ts):
 * the main thread sends meanwhile. A file that shrank is fileChanged.
 */
export async function hashRange(f: FileEntry, start: number, len: number): Promise<Buffer> {
  try {
    return await readHashPool.hashRange(f.path, start, len);
  } catch (err) {
    throw err instanceof ShortRead ? fileChanged(f) : err;
  }
}

/**
 * One attempt of a request whose body is a FileRange (read again to be sent): a file that
 * ended early, or bytes the server found not to match the hash (BadDigest) in a file changed
 * since the walk, fail as fileChanged, not retried.
 */
export async function sendingRange<T>(f: FileEntry, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    const { code } = errorFacts(err);
    if (code === 'BodyLengthMismatch') throw fileChanged(f);
    if (code === 'BadDigest') await checkUnchanged(f);
    throw err;
  }
}

/**
 * A small file read whole with three blocking calls (open, read, close: no fstat, no thread
 * pool round trip). One byte more is asked for, so a file that grew since the walk is seen.
 */
export function readSmallSync(f: FileEntry): Buffer {
  const buf = Buffer.allocUnsafe(f.size + 1);
  const fd = fs.openSync(f.path, 'r');
  let got = 0;
  try {
    for (let n = -1; n !== 0 && got <= f.size;) {
      n = fs.readSync(fd, buf, got, f.size + 1 - got, null);
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (got !== f.size) throw fileChanged(f);
  return buf.subarray(0, got);
}

/** What sending one file needs from its run. */
export interface SendContext {
  /** the run's engine: its requests stop with the run */
  engine: RequestEngine;
  /** never interrupted, few retries: aborts and deletes still go out after the run stopped */
  cleanup: RequestEngine;
  /** one slot per request in flight, shared by small files and parts */
  slots: Limiter;
  bucket: string;
  logger: Logger;
  /** --verify: read every object back after upload */
  verify: boolean;
  /** each file's object headers (flags and config rules); none when absent */
  headersFor?: HeadersFor;
}

/** What a new object is sent with: PutObject's or CreateMultipartUpload's fields, and the SSE-C key its other requests need. */
export interface ObjectFields {
  contentType: string;
  metadata: Record<string, string>;
  headers: StoredHeaders | undefined;
  sseC: SseCustomerKey | undefined;
}

/**
 * The headers of f's object: Content-Type from a rule or --content-type, else the extension;
 * the user's metadata with s3x's mtime set last (checked at load never to be a user key).
 */
export function objectFields(ctx: Pick<SendContext, 'headersFor'>, f: FileEntry): ObjectFields {
  const h = ctx.headersFor?.(f.rel);
  if (!h) return { contentType: contentTypeFor(f.rel), metadata: metadataFor(f), headers: undefined, sseC: undefined };
  const { contentType, metadata, ...headers } = h;
  return { contentType: contentType ?? contentTypeFor(f.rel), metadata: { ...metadata, ...metadataFor(f) }, headers, sseC: h.sseC };
}

/** x-amz-server-side-encryption and x-amz-server-side-encryption-customer-algorithm of an answer */
export interface Encryption { sse?: string; sseCustomerAlgorithm?: string }
/** What a PUT, part or Complete answered: where, the ETag, and the encryption that decides what that ETag means. */
export interface Stored { ep: Endpoint; etag: string | undefined; enc: Encryption }

export function encryption(sse: string | undefined, sseCustomerAlgorithm?: string): Encryption {
  return { ...(sse && { sse }), ...(sseCustomerAlgorithm && { sseCustomerAlgorithm }) };
}

/** SSE-KMS and SSE-C objects have ETags that are not the MD5 of the body (src/fs/md5.ts). */
export function isEncrypted(enc: Encryption): boolean {
  return etagIsNotMd5(enc.sse, enc.sseCustomerAlgorithm);
}

/**
 * A single-part ETag that is an MD5 must be the body's MD5. Other ETags (SSE-KMS, SSE-C, some
 * gateways) are not checked: the server already checked Content-MD5.
 */
export function checkEtag(key: string, etag: string | undefined, md5Hex: string, enc: Encryption): void {
  const etagMd5 = md5FromEtag(etag, enc.sse, enc.sseCustomerAlgorithm);
  if (etagMd5 !== undefined && etagMd5 !== md5Hex) throw etagMismatch(key, etagMd5, md5Hex);
}

export function fileChanged(f: FileEntry): Error {
  const e = new Error(`${f.rel} changed while it was being uploaded (size, mtime, ctime, inode or content differ from the walk); upload it again`) as NodeJS.ErrnoException;
  e.code = 'FileChanged';
  return e;
}

export function etagMismatch(key: string, got: string | undefined, want: string, how = 'ETag'): Error {
  const e = new Error(`${key}: ${how} ${got ?? '(none)'} does not match the file's MD5 ${want}`) as NodeJS.ErrnoException;
  e.code = 'ETagMismatch';
  return e;
}

/** What S3 records with every object: the file's mtime, so a later sync can compare. */
export function metadataFor(f: FileEntry): Record<string, string> {
  return { [MTIME_METADATA]: String(Math.round(f.mtimeMs)) };
}

/**
 * The file must still be what was walked (same inode, size, mtime and ctime), or what was
 * sent may mix old and new bytes. ctime cannot be set back by hand, unlike mtime.
 */
export async function checkUnchanged(f: FileEntry): Promise<void> {
  const st = await fs.promises.stat(f.path);
  if (st.size !== f.size || st.mtimeMs !== f.mtimeMs || st.ctimeMs !== f.ctimeMs || st.ino !== f.ino || st.dev !== f.dev) throw fileChanged(f);
}

/**
 * --verify: read the object back and compare its MD5 with the file's. `takeSlot` false when
 * the caller already holds a slot (asking for a second one can deadlock).
 */
export async function verifyObject(ctx: SendContext, f: FileEntry, key: string, expectedHex: string | undefined, pinned: Endpoint | undefined, takeSlot: boolean): Promise<void> {
  const { engine, bucket } = ctx;
  const want = expectedHex ?? (await md5OfFile(f.path)).toString('hex');
  const read = (): Promise<string> => engine.run({
    op: 'GetObject', key, bytes: f.size, bucket, kind: 'read', ...(pinned && { endpoint: pinned }), hedge: true,
    send: async (ep, signal) => {
      const hash = crypto.createHash('md5');
      const res = await ep.store.getObject({ bucket, key, sseC: ctx.headersFor?.(f.rel).sseC }, signal);
      for await (const chunk of res.body) hash.update(chunk);
      return hash.digest('hex');
    },
  });
  const got = takeSlot ? await ctx.slots.run(read, 'high') : await read();
  if (got !== want) throw etagMismatch(key, got, want, 'read back');
}

/**
 * An object stored but failing a later check (ETag, file changed, --verify) is deleted, so no
 * later --skip-existing or sync takes it for the file; if it cannot be, the failure names it.
 */
export async function discard(ctx: SendContext, key: string, ep: Endpoint, err: unknown): Promise<never> {
  if (err instanceof Interrupted) throw err;
  const { bucket } = ctx;
  const note = await ctx.cleanup.run({
    op: 'DeleteObject', key, bytes: 0, bucket, endpoint: ep,
    send: (e, signal) => e.store.deleteObject({ bucket, key }, signal),
  }).then(
    () => '; the stored object was removed',
    (delErr: unknown) => `; THE STORED OBJECT s3://${bucket}/${key} COULD NOT BE REMOVED (${delErr instanceof RequestFailed ? delErr.facts.code : errorFacts(delErr).code}): do not trust it, delete it or upload again`,
  );
  ctx.logger.warn({ key, note }, 'object failed its check after upload');
  if (err instanceof Error) {
    err.message += note;
    throw err;
  }
  throw new Error(String(err) + note);
}
