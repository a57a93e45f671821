/**
 * A file below the multipart threshold as one PutObject with Content-MD5, then the checks of
 * what was stored (./stored-object.ts): its ETag, the file unchanged, --verify. An object that
 * fails them is removed.
 */
import fs from 'node:fs';
import { md5, md5OfFile } from '../fs/md5.js';
import type { FileEntry } from '../fs/walk.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { contentTypeFor } from './content-type.js';
import {
  checkEtag, checkUnchanged, discard, encryption, fileChanged, metadataFor, STREAM_CHUNK_BYTES, verifyObject,
  type SendContext, type Stored,
} from './stored-object.js';

/** Files up to this size are read into memory in one go (cheaper than a stream). */
const BUFFERED_MAX_BYTES = 256 * 1024;
/**
 * Files up to this size are read with readFileSync: one syscall sequence instead of four
 * FileHandle round-trips through the thread pool (~0.1 ms less CPU per file); blocking the loop
 * for ≤ 64 KiB is shorter than that saving.
 */
const SYNC_READ_MAX_BYTES = 64 * 1024;

/** Sends `f` as one PutObject to `target` (or where the pool routes it). Call it inside a slot. */
export async function putFile(ctx: SendContext, f: FileEntry, key: string, target: Endpoint | undefined): Promise<void> {
  const buffered = f.size <= SYNC_READ_MAX_BYTES ? fs.readFileSync(f.path)
    : f.size <= BUFFERED_MAX_BYTES ? await fs.promises.readFile(f.path) : undefined;
  if (buffered && buffered.length !== f.size) throw fileChanged(f);
  // Content-MD5 on every PUT: the server refuses a body that does not match it
  const digest = buffered ? md5(buffered) : await md5OfFile(f.path);
  const stored = await send(ctx, f, key, target, digest, buffered);
  try {
    checkEtag(key, stored.etag, digest.toString('hex'), stored.enc);
    // a buffered file was read once; a streamed one may have changed between its MD5 pass and the send
    if (!buffered) await checkUnchanged(f);
    // the caller already holds a slot: verify in it (asking for a second one can deadlock)
    if (ctx.verify) await verifyObject(ctx, f, key, digest.toString('hex'), stored.ep, false);
  } catch (err) {
    await discard(ctx, key, stored.ep, err);
  }
}

/** The PutObject itself: the buffer, or a fresh stream of the file per attempt. */
function send(ctx: SendContext, f: FileEntry, key: string, target: Endpoint | undefined, digest: Buffer, buffered: Buffer | undefined): Promise<Stored> {
  const { bucket } = ctx;
  const contentMd5 = digest.toString('base64');
  const contentType = contentTypeFor(f.rel);
  const metadata = metadataFor(f);
  return ctx.engine.run({
    op: 'PutObject', key, bytes: f.size, bucket, ...(target && { endpoint: target }),
    send: async (ep, signal): Promise<Stored> => {
      const r = await ep.store.putObject({
        bucket, key, contentLength: f.size, contentType, contentMd5, metadata,
        body: buffered ?? (() => fs.createReadStream(f.path, { highWaterMark: STREAM_CHUNK_BYTES })),
      }, signal);
      return { ep, etag: r.etag, enc: encryption(r.sse, r.sseCustomerAlgorithm) };
    },
  });
}
