/**
 * `download`: list bucket/prefix and GET every object into a local directory, in parallel over
 * the endpoints, large objects as ranged GETs whose parts share the same request slots. Every
 * request goes through the RequestEngine as a 'read' (deadline, retry, failover; fallback mode
 * reads each endpoint in order).
 *
 * A file only ever appears under its real name complete: it is written to
 * `<name>.s3x-tmp-<random>` beside it and renamed when every byte is in (and verified); a failure
 * or an interrupt removes the temporary file. Keys that would land outside the directory are
 * refused and named (fs/safe-path.ts); directories are created one level at a time and a
 * symbolic link on the way is refused, so nothing is ever written outside `dir`.
 *
 * Verification: an ETag of 32 hex digits (a single-part upload, no SSE-KMS/SSE-C) is the MD5 of
 * the object; the bytes written are hashed and compared, a mismatch is retried (BadDigest) and
 * named if it persists. Multipart ETags ("…-N") are not an MD5 of the content: those objects are
 * checked by length (and every part's ETag must match the listing, so a mix of two versions is
 * refused).
 *
 * Memory: objects ≤ 256 KiB are buffered inside their slot, larger ones are streamed to disk in
 * ≤ 1 MiB writes, so memory is ~ slots × 1 MiB whatever the number and size of the objects.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { resolveMultipart, type ConnectionOptions } from '../config/options.js';
import { mbps } from '../config/units.js';
import { describeLocalError, UsageError } from '../errors.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { isSelected, selectKeys } from '../fs/key-prefix.js';
import { bareEtag } from '../fs/md5.js';
import { isWithin, resolveInside, safeRelativePath } from '../fs/safe-path.js';
import { describeFatal, preflight } from '../run/context.js';
import { Limiter } from '../engine/limiter.js';
import { listThrough, ListingError, type ListedObject } from './list.js';
import { planParts } from '../config/multipart.js';
import { ObjectRun } from '../run/object-run.js';
import { Interrupted, RequestFailed, type RequestReport } from '../engine/request.js';
import type { RunTotals } from '../run/summary.js';

/** Objects up to this size are read into memory and written in one go. */
const BUFFERED_MAX_BYTES = 256 * 1024;
/** Streamed bodies are written in batches of about this many bytes (one writev each). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Marks temporary files: `<name>.s3x-tmp-<8 hex run id><counter>`. */
export const TMP_MARK = '.s3x-tmp-';

export interface DownloadOptions extends ConnectionOptions {
  bucket: string;
  /** folder rule by default (`logs` = `logs/…`), see fs/key-prefix.ts; '' = the whole bucket */
  prefix?: string;
  /** match the prefix as a plain string; local paths are then relative to its last `/` */
  rawPrefix?: boolean;
  /** local directory; created if missing */
  dir: string;
  /** skip an object when a regular file of the same size is already at its path */
  skipExisting?: boolean;
  /** compare the MD5 of single-part objects with their ETag; default true */
  verify?: boolean;
  /** objects of at least this size are fetched as parallel ranged GETs; default 64 MiB */
  multipartThresholdBytes?: number;
  /** size of one ranged GET; default 16 MiB, 5 MiB – 5 GiB */
  partSizeBytes?: number;
  onReport?: (r: RequestReport) => void;
  /** progress, at most every 100 ms and once at the end */
  onProgress?: (p: DownloadProgress) => void;
}

export interface DownloadProgress {
  filesFound: number;
  bytesFound: number;
  listDone: boolean;
  filesDone: number;
  filesSkipped: number;
  filesFailed: number;
  bytesDone: number;
  elapsedMs: number;
}

export interface FailedObject {
  key: string;
  /** local path (relative to dir) when the key maps to one */
  path?: string;
  error: string;
}

export interface DownloadSummary extends RunTotals {
  bucket: string;
  /** the prefix listed, as sent to the server */
  prefix: string;
  dir: string;
  /** files written */
  files: number;
  bytes: number;
  /** existing files of the same size left alone (skipExisting) */
  skipped: number;
  /** directory markers (keys ending in "/") made into directories */
  directories: number;
  /** objects not downloaded, each with its reason (refused keys included) */
  failed: FailedObject[];
  mbps: number;
}

export async function download(opts: DownloadOptions): Promise<DownloadSummary> {
  const bucket = opts.bucket;
  if (!bucket) throw new UsageError('a bucket name is required');
  if (!opts.dir) throw new UsageError('a local directory is required');
  const { partSizeBytes, thresholdBytes } = resolveMultipart(opts.partSizeBytes, opts.multipartThresholdBytes);
  const verify = opts.verify ?? true;
  const sel = selectKeys(opts.prefix, opts.rawPrefix);
  const root = await prepareDir(opts.dir);

  const run = new ObjectRun(opts, bucket, opts.onReport);
  const { logger, engine } = run;
  const progress: DownloadProgress = { filesFound: 0, bytesFound: 0, listDone: false, filesDone: 0, filesSkipped: 0, filesFailed: 0, bytesDone: 0, elapsedMs: 0 };
  let lastTick = 0;
  const tick = (force = false): void => {
    const now = performance.now();
    if (!opts.onProgress || (!force && now - lastTick < 100)) return;
    lastTick = now;
    opts.onProgress({ ...progress, elapsedMs: run.wallMs });
  };
  const failed: FailedObject[] = [];
  let notAttempted = 0;
  let directories = 0;
  let filesBytes = 0;
  const dirs = new DirMaker(root);
  /** temporary files not yet renamed or removed */
  const temps = new Set<string>();

  const fail = (o: ListedObject, rel: string | undefined, err: unknown): void => {
    if (err instanceof Interrupted) { notAttempted++; return; }
    run.stopIfFatal(err);
    const error = err instanceof RequestFailed ? err.message : describeLocalError(err);
    failed.push({ key: o.key, ...(rel !== undefined && { path: rel }), error });
    progress.filesFailed++;
    logger.warn({ key: o.key, path: rel, error }, 'not downloaded');
  };

  const slots = new Limiter(run.conn.concurrency);

  /** One GET attempt of the whole object into memory, checked for length and MD5. */
  const getBuffered = async (ep: Endpoint, signal: AbortSignal, o: ListedObject): Promise<{ data: Buffer; lastModified?: Date }> => {
    const res = await ep.store.getObject({ bucket, key: o.key }, signal);
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      // memory stays bounded even if the object was replaced by a large one since the listing
      if ((res.contentLength ?? 0) > BUFFERED_MAX_BYTES) throw objectChanged(o.key, `it is now ${res.contentLength} bytes, was ${o.bytes}`);
      for await (const c of res.body) {
        const b = toBuffer(c);
        n += b.length;
        if (n > BUFFERED_MAX_BYTES) throw objectChanged(o.key, `it sent more than ${BUFFERED_MAX_BYTES} bytes, was ${o.bytes}`);
        chunks.push(b);
      }
    } finally {
      res.body.destroy();
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
    checkLength(o.key, n, res.contentLength);
    if (verify) checkMd5(o.key, md5FromEtag(res.etag, res.sse, res.sseCustomerAlgorithm), crypto.createHash('md5').update(data).digest('hex'));
    return { data, ...(res.lastModified && { lastModified: res.lastModified }) };
  };

  /** One GET attempt of the whole object streamed into `fh` from offset 0; progress is taken back if it fails. */
  const getStreamed = async (ep: Endpoint, signal: AbortSignal, o: ListedObject, fh: fs.promises.FileHandle): Promise<Date | undefined> => {
    const res = await ep.store.getObject({ bucket, key: o.key }, signal);
    const hash = verify ? crypto.createHash('md5') : undefined;
    let written = 0;
    try {
      const n = await drainTo(res.body, fh, 0, hash, res.contentLength ?? Number.MAX_SAFE_INTEGER, o.key, (d) => { written += d; progress.bytesDone += d; });
      checkLength(o.key, n, res.contentLength);
      await fh.truncate(n); // an earlier, longer attempt must not leave bytes behind
      if (hash) checkMd5(o.key, md5FromEtag(res.etag, res.sse, res.sseCustomerAlgorithm), hash.digest('hex'));
      return res.lastModified;
    } catch (err) {
      progress.bytesDone -= written;
      throw err;
    } finally {
      res.body.destroy();
    }
  };

  const downloadOne = async (o: ListedObject, segments: string[]): Promise<void> => {
    const target = resolveInside(root, segments);
    if (target === undefined) throw refusedError('would resolve outside the directory');
    await dirs.ensure(path.dirname(target));
    if (opts.skipExisting) {
      const st = await fs.promises.lstat(target).catch(() => undefined);
      if (st?.isFile() && st.size === o.bytes) {
        progress.filesSkipped++;
        return;
      }
    }
    const tmp = tempPathFor(target);
    temps.add(tmp);
    let renamed = false;
    try {
      let lastModified: Date | undefined;
      if (o.bytes >= thresholdBytes) {
        // A part corrupted in transit only shows in the MD5 of the whole file (an ETag has no
        // per-part digest): the object is then fetched again, up to `retries` times.
        for (let round = 0; ; round++) {
          try {
            lastModified = await getRanged(o, tmp);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'BadDigest' || round >= run.conn.retry.retries || run.signal.aborted) throw err;
            logger.info({ key: o.key, round: round + 1, error: (err as Error).message }, 'MD5 mismatch after ranged GETs: fetching the object again');
            run.retries++;
            await fs.promises.unlink(tmp);
          }
        }
      } else if (o.bytes <= BUFFERED_MAX_BYTES) {
        const got = await slots.run(() => engine.run({
          op: 'GetObject', key: o.key, bytes: o.bytes, kind: 'read', bucket,
          send: (ep, signal) => getBuffered(ep, signal, o),
        }));
        // Async even for tiny files: creating a file can wait on the file system's journal (0.8 ms
        // per open was seen here while Ceph wrote to the same disk), and a sync call would stall
        // every socket meanwhile; sync writes measured no faster here (A/B, 3 × 2,000 files).
        await fs.promises.writeFile(tmp, got.data, { flag: 'wx' });
        lastModified = got.lastModified;
        progress.bytesDone += got.data.length;
        filesBytes += got.data.length;
      } else {
        await slots.run(async () => {
          const fh = await fs.promises.open(tmp, 'wx');
          try {
            lastModified = await engine.run({
              op: 'GetObject', key: o.key, bytes: o.bytes, kind: 'read', bucket,
              send: (ep, signal) => getStreamed(ep, signal, o, fh),
            });
          } finally {
            await fh.close();
          }
        });
        filesBytes += o.bytes;
      }
      const mtime = lastModified ?? o.lastModified;
      if (mtime) await fs.promises.utimes(tmp, mtime, mtime);
      await fs.promises.rename(tmp, target);
      renamed = true;
      progress.filesDone++;
    } finally {
      temps.delete(tmp);
      if (!renamed) await fs.promises.unlink(tmp).catch(() => {});
    }
  };

  /** Parallel ranged GETs into a preallocated temporary file; every part in its own slot. */
  const getRanged = async (o: ListedObject, tmp: string): Promise<Date | undefined> => {
    const plan = planParts(o.bytes, partSizeBytes);
    const fh = await fs.promises.open(tmp, 'wx+'); // read back for the MD5 check
    let lastModified: Date | undefined;
    let bytesBefore = 0;
    try {
      await fh.truncate(o.bytes);
      const wantEtag = bareEtag(o.etag);
      let firstEtag: string | undefined;
      let partFailed = false;
      await Promise.all(Array.from({ length: plan.count }, (_, i) => slots.run(async () => {
        if (partFailed || run.signal.aborted) throw run.signal.aborted ? new Interrupted() : new Error('another part failed');
        const start = i * plan.partSizeBytes;
        const end = Math.min(o.bytes, start + plan.partSizeBytes) - 1;
        const len = end - start + 1;
        await engine.run({
          op: 'GetObject', key: o.key, part: i + 1, bytes: len, kind: 'read', bucket,
          send: async (ep, signal) => {
            const res = await ep.store.getObject({ bucket, key: o.key, range: { start, end } }, signal);
            let written = 0;
            try {
              checkRange(o.key, res.contentRange, start, end, o.bytes);
              const etag = bareEtag(res.etag);
              const expected = wantEtag ?? firstEtag;
              if (etag !== undefined && expected !== undefined && etag !== expected) throw objectChanged(o.key, `its ETag is now ${etag}, was ${expected}`);
              firstEtag ??= etag;
              lastModified ??= res.lastModified;
              const n = await drainTo(res.body, fh, start, undefined, len, o.key, (d) => { written += d; progress.bytesDone += d; });
              checkLength(o.key, n, len);
            } catch (err) {
              progress.bytesDone -= written;
              throw err;
            } finally {
              res.body.destroy();
            }
          },
        }).catch((err: unknown) => { partFailed = true; throw err; });
        bytesBefore += len;
        tick();
      }, 'high')));
      if (verify) {
        const md5 = md5FromEtag(o.etag);
        if (md5 !== undefined) checkMd5(o.key, md5, await fileMd5(fh, o.bytes));
      }
    } catch (err) {
      progress.bytesDone -= bytesBefore;
      throw err;
    } finally {
      await fh.close();
    }
    filesBytes += o.bytes;
    return lastModified;
  };

  const gate = new Limiter(run.conn.concurrency * 2);
  const inProgress = new Set<Promise<void>>();
  try {
    await preflight(engine, run.pool, bucket, logger);
    try {
      for await (const page of listThrough(engine, bucket, sel.prefix)) {
        for (const o of page.objects) {
          if (!isSelected(sel, o.key)) {
            logger.warn({ key: o.key, prefix: sel.prefix }, 'the server listed a key outside the prefix: ignored');
            continue;
          }
          const rel = o.key.slice(sel.base.length);
          const mapped = safeRelativePath(rel);
          if (!mapped.ok) {
            fail(o, undefined, refusedError(mapped.reason));
            continue;
          }
          if (mapped.directory) {
            if (mapped.segments.length > 0) {
              try {
                await dirs.ensure(resolveInside(root, mapped.segments)!);
                directories++;
              } catch (err) {
                fail(o, rel, err);
              }
            }
            continue;
          }
          progress.filesFound++;
          progress.bytesFound += o.bytes;
          if (run.signal.aborted) { notAttempted++; continue; }
          await gate.acquire();
          if (run.signal.aborted) { gate.release(); notAttempted++; continue; }
          const p = downloadOne(o, mapped.segments)
            .catch((err: unknown) => fail(o, rel, err))
            .finally(() => { gate.release(); inProgress.delete(p); tick(); });
          inProgress.add(p);
        }
        tick();
        if (run.signal.aborted) break;
      }
      progress.listDone = true;
    } catch (err) {
      if (!(err instanceof Interrupted)) {
        if (err instanceof RequestFailed) run.stop(`listing s3://${bucket}/${sel.prefix} failed: ${describeFatal(err, bucket, err.endpoint.label)}`);
        else if (err instanceof ListingError) run.stop(`listing s3://${bucket}/${sel.prefix} failed: ${err.message}`);
        else throw err;
      }
    }
    await Promise.all(inProgress);
    tick(true);
  } finally {
    await Promise.allSettled(inProgress);
    // last resort (every path above removes its own): no temporary file outlives the run
    for (const t of temps) fs.rmSync(t, { force: true });
    run.close();
  }

  const wallMs = run.wallMs;
  return {
    bucket, prefix: sel.prefix, dir: opts.dir, files: progress.filesDone, bytes: filesBytes, skipped: progress.filesSkipped,
    directories, failed, notAttempted, wallMs, mbps: mbps(filesBytes, wallMs), objectsPerSec: progress.filesDone / (wallMs / 1000),
    requests: run.requests, retries: run.retries, interrupted: run.interrupted,
    ...(run.fatal !== undefined && { fatal: run.fatal }),
    endpoints: run.endpoints(),
  };
}

/**
 * The MD5 (lower-case hex) an ETag stands for, or undefined when it is not one: multipart ETags
 * ("<hex>-<parts>"), SSE-KMS and SSE-C objects (whose ETag is not the MD5 of the plaintext), or
 * anything that is not 32 hex digits.
 */
export function md5FromEtag(etag: string | undefined, sse?: string, sseCustomerAlgorithm?: string): string | undefined {
  if (etag === undefined) return undefined;
  if (sseCustomerAlgorithm || (sse !== undefined && sse.startsWith('aws:kms'))) return undefined;
  const e = bareEtag(etag)!;
  return /^[0-9a-f]{32}$/.test(e) ? e : undefined;
}

/** An error the retry table reads by its code. */
function coded(code: string, message: string): Error {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.name = code;
  e.code = code;
  return e;
}

function objectChanged(key: string, how: string): Error {
  return coded('ObjectChanged', `${key} changed while being downloaded: ${how} (run again)`);
}

function refusedError(reason: string): Error {
  return coded('Refused', `refused: the key ${reason}; s3x never writes outside the directory`);
}

function checkMd5(key: string, want: string | undefined, got: string): void {
  if (want !== undefined && want !== got) throw coded('BadDigest', `${key}: MD5 of the bytes received is ${got}, the ETag says ${want}`);
}

function checkLength(key: string, got: number, want: number | undefined): void {
  if (want !== undefined && got !== want) throw coded('IncompleteBody', `${key}: received ${got} bytes, expected ${want}`);
}

/** A ranged answer must be exactly the range asked for, of an object of the listed size. */
function checkRange(key: string, contentRange: string | undefined, start: number, end: number, total: number): void {
  const m = contentRange !== undefined ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim()) : null;
  if (!m) throw coded('UnexpectedRange', `${key}: the server did not answer the range ${start}-${end} (Content-Range: ${contentRange ?? 'none'})`);
  if (m[3] !== '*' && Number(m[3]) !== total) throw objectChanged(key, `its size is now ${m[3]} bytes, was ${total}`);
  if (Number(m[1]) !== start || Number(m[2]) !== end) throw coded('UnexpectedRange', `${key}: asked for bytes ${start}-${end}, got ${m[1]}-${m[2]}`);
}

function toBuffer(c: Uint8Array | string): Buffer {
  return typeof c === 'string' ? Buffer.from(c) : Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/**
 * Writes `body` into `fh` from `position`, in ~1 MiB writev batches, hashing as it goes. Rejects
 * (IncompleteBody) as soon as more than `maxBytes` arrive; returns the number of bytes written.
 */
async function drainTo(
  body: AsyncIterable<Uint8Array | string>, fh: fs.promises.FileHandle, position: number, hash: crypto.Hash | undefined,
  maxBytes: number, key: string, onBytes: (n: number) => void,
): Promise<number> {
  let pos = position;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    let bufs = batch;
    let left = batchBytes;
    batch = [];
    batchBytes = 0;
    while (left > 0) {
      const { bytesWritten } = await fh.writev(bufs, pos);
      pos += bytesWritten;
      left -= bytesWritten;
      onBytes(bytesWritten);
      if (left > 0) bufs = [Buffer.concat(bufs).subarray(bufs.reduce((s, b) => s + b.length, 0) - left)];
    }
  };
  for await (const c of body) {
    const b = toBuffer(c);
    hash?.update(b);
    batch.push(b);
    batchBytes += b.length;
    if (pos - position + batchBytes > maxBytes) throw coded('IncompleteBody', `${key}: the server sent more than the expected ${maxBytes} bytes`);
    if (batchBytes >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
  return pos - position;
}

/** MD5 of the first `bytes` of an open file, read sequentially. */
async function fileMd5(fh: fs.promises.FileHandle, bytes: number): Promise<string> {
  const hash = crypto.createHash('md5');
  const buf = Buffer.allocUnsafe(Math.min(bytes, 4 * 1024 * 1024) || 1);
  for (let pos = 0; pos < bytes;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}

/** Random per process, then a counter: unique names without a random draw per file (opened with O_EXCL anyway). */
const TMP_RUN_ID = crypto.randomBytes(4).toString('hex');
let tmpCounter = 0;

/** `<name>.s3x-tmp-<run id><n>` beside `target` (a short `.s3x-tmp-…` when the name is near the 255-byte limit). */
function tempPathFor(target: string): string {
  const base = path.basename(target);
  const unique = `${TMP_RUN_ID}${(tmpCounter++).toString(36)}`;
  return path.join(path.dirname(target), Buffer.byteLength(base) > 200 ? `${TMP_MARK}${unique}` : `${base}${TMP_MARK}${unique}`);
}

/** Creates `dir` if needed; returns its real path. */
async function prepareDir(dir: string): Promise<string> {
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'EEXIST' || code === 'ENOTDIR' ? `'${dir}' is not a directory` : `cannot create directory '${dir}': ${code}`);
  }
  const real = await fs.promises.realpath(dir);
  const st = await fs.promises.stat(real);
  if (!st.isDirectory()) throw new UsageError(`'${dir}' is not a directory`);
  try {
    await fs.promises.access(real, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new UsageError(`cannot write to directory '${dir}': permission denied`);
  }
  return real;
}

/**
 * Creates directories under `root` one level at a time, refusing to pass through anything that is
 * not a real directory (a symbolic link could lead outside `root`). Each directory is checked once.
 */
class DirMaker {
  private readonly done = new Map<string, Promise<void>>();

  constructor(private readonly root: string) {}

  ensure(dir: string): Promise<void> {
    if (dir === this.root) return Promise.resolve();
    let p = this.done.get(dir);
    if (!p) {
      p = this.make(dir);
      this.done.set(dir, p);
    }
    return p;
  }

  private async make(dir: string): Promise<void> {
    if (!isWithin(this.root, dir)) throw refusedError('would resolve outside the directory');
    await this.ensure(path.dirname(dir));
    let st = await fs.promises.lstat(dir).catch(() => undefined);
    if (!st) {
      try {
        await fs.promises.mkdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      st = await fs.promises.lstat(dir);
    }
    if (st.isSymbolicLink()) throw coded('Refused', `refused: ${path.relative(this.root, dir)} is a symbolic link; s3x never writes through one`);
    if (!st.isDirectory()) throw coded('ENOTDIR', `${path.relative(this.root, dir)} exists and is not a directory`);
  }
}
