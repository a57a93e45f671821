/**
 * A file below the multipart threshold as one PutObject with Content-MD5, then the checks of
 * what was stored (./stored-object.ts): its ETag, the file unchanged, --verify. An object that
 * fails them is removed.
 */
import { FileRange } from '../fs/file-range.js';
import { md5 } from '../fs/md5.js';
import type { FileEntry } from '../fs/walk.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import {
  checkEtag, checkUnchanged, discard, encryption, hashRange, objectFields, readRange, readSmallSync, sendingRange, verifyObject,
  type SendContext, type Stored,
} from './stored-object.js';

/**
 * Files up to this size are read with blocking calls (./stored-object.ts readSmallSync): no
 * FileHandle round-trips through the thread pool (~0.1 ms less CPU per file); blocking the loop
 * for ≤ 64 KiB is shorter than that saving.
 */
const SYNC_READ_MAX_BYTES = 64 * 1024;
/**
 * Files from this size are hashed on a worker thread (../fs/read-hash.ts) and sent by reading
 * them again (../fs/file-range.ts): an MD5 inline blocks every other send for ~2 ms per MiB;
 * below it, the round trip costs more, and the file is read once into a buffer.
 */
const OFF_THREAD_MIN_BYTES = 1024 * 1024;

/**
 * Sends `f` as one PutObject to `target` (or where the pool routes it). Call it inside a slot.
 * A file under 1 MiB is read once into a buffer that is hashed and sent, the same bytes on every
 * attempt; a larger one is hashed first and read afresh for every copy sent. Either is then
 * checked unchanged since the walk.
 */
export async function putFile(ctx: SendContext, f: FileEntry, key: string, target: Endpoint | undefined): Promise<void> {
  const readAtOnce = f.size <= SYNC_READ_MAX_BYTES;
  const buffered = readAtOnce ? readSmallSync(f) : f.size < OFF_THREAD_MIN_BYTES ? await readRange(f, 0, f.size) : undefined;
  // Content-MD5 on every PUT: the server refuses a body that does not match it
  const digest = buffered ? md5(buffered) : await hashRange(f, 0, f.size);
  const stored = await send(ctx, f, key, target, digest, buffered);
  try {
    checkEtag(key, stored.etag, digest.toString('hex'), stored.enc);
    // a file read again may have changed between its hash and the send, a buffered one while it
    // was read (a small one is read in one blocking call, as before: not stat'ed again)
    if (!readAtOnce) await checkUnchanged(f);
    // the caller already holds a slot: verify in it (asking for a second one can deadlock)
    if (ctx.verify) await verifyObject(ctx, f, key, digest.toString('hex'), stored.ep, false);
  } catch (err) {
    await discard(ctx, key, stored.ep, err);
  }
}

/** The PutObject itself: the buffer, or the file read afresh per attempt. */
function send(ctx: SendContext, f: FileEntry, key: string, target: Endpoint | undefined, digest: Buffer, buffered: Buffer | undefined): Promise<Stored> {
  const { bucket } = ctx;
  const contentMd5 = digest.toString('base64');
  const { contentType, metadata, headers } = objectFields(ctx, f);
  return ctx.engine.run({
    op: 'PutObject', key, bytes: f.size, bucket, endpoint: target,
    // the same buffer, or the file read afresh, per copy: two copies at once store one object
    hedge: true,
    send: async (ep, signal, progress): Promise<Stored> => {
      const put = (body: Buffer | FileRange) => ep.store.putObject({
        bucket, key, contentLength: f.size, contentType, contentMd5, metadata, headers, onBodySent: progress.bodySent, body,
      }, signal);
      const r = await (buffered ? put(buffered) : sendingRange(f, () => put(new FileRange(f.path, 0, f.size))));
      return { ep, etag: r.etag, enc: encryption(r.sse, r.sseCustomerAlgorithm) };
    },
  });
}
