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
 * symbolic link on the way is refused, so nothing is ever written outside `dir`; a directory is
 * checked once, then its real path is compared again right before each file is created in it
 * (fs/safe-dirs.ts: a directory replaced by a link during the run is refused).
 *
 * Verification: an ETag of 32 hex digits (a single-part upload, no SSE-KMS/SSE-C) is the MD5 of
 * the object; the bytes are hashed from the file as they are written, on a worker thread (ranged
 * parts in file order: fs/follow-md5.ts), and compared; a mismatch is retried (BadDigest) and
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
import type { SseCustomerKey } from '../config/object-headers.js';
import { mbps } from '../config/units.js';
import { describeLocalError, UsageError } from '../errors.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { StopSignal } from '../endpoints/stop-signal.js';
import { selectKeys, type KeySelection, type PrefixOptions } from '../fs/key-prefix.js';
import { bareEtag, etagIsNotMd5, md5FromEtag } from '../fs/md5.js';
import { writeNewFile } from '../fs/new-file.js';
import { FollowMd5, PartsMd5 } from '../fs/follow-md5.js';
import { CopyFiles } from '../fs/copy-files.js';
import { BUFFERED_MAX_BYTES, fetchMode, verifiedThreshold } from './fetch-mode.js';
import { drainTo, readWhole, toBuffer } from './drain-to.js';
import { refusedError, SafeDirs } from '../fs/safe-dirs.js';
import { resolveInside, safeRelativePath } from '../fs/safe-path.js';
import type { Dispatch } from '../run/dispatch.js';
import type { ProgressTicker } from '../run/progress.js';
import { keptBySelection, listThrough, stopOnListingFailure, type ListedObject, type ListPage } from './list.js';
import { listAfterPreflight, PreflightFailed } from './preflight-listing.js';
import { partRange, planParts } from '../config/multipart.js';
import { Run } from '../run/run.js';
import { Interrupted, RequestFailed, type AttemptProgress, type RequestReport } from '../engine/request.js';
import type { RunTotals } from '../run/summary.js';

/**
 * Ranged parts up to this size are hedged: a hedge of a part reads it into memory (only the
 * winner's bytes may reach the file), and hedges are few (engine/hedge-policy.ts's budget).
 */
const HEDGE_PART_MAX_BYTES = 64 * 1024 * 1024;
/**
 * GETs of at least this many bytes (a streamed object or a ranged part) are read over a socket of
 * their own where the endpoint allows (endpoints/raw-get.ts): a TCP connect per GET is nothing
 * next to the CPU node:http spends per 64 KiB of a large body. Not below, for now: with 4 MiB,
 * 5 MiB parts through the fault proxy hit their 500 ms deadline in 2 of 3 runs at load ~10 (an
 * extra retry in test/e2e/download.test.ts), 0 of 4 over node:http; at load ~5, 0 of 7 either way.
 */
const BULK_MIN_BYTES = 8 * 1024 * 1024;
/** Marks temporary files: `<name>.s3x-tmp-<8 hex run id><counter>`. */
export const TMP_MARK = '.s3x-tmp-';

export interface DownloadOptions extends ConnectionOptions, PrefixOptions {
  /** local directory, created if missing; local paths are relative to the prefix (rawPrefix: to its last `/`) */
  dir: string;
  /** skip an object when a regular file of the same size is already at its path */
  skipExisting?: boolean;
  /** compare the MD5 of single-part objects with their ETag; default true */
  verify?: boolean;
  /**
   * objects of at least this size are fetched as parallel ranged GETs; default 64 MiB, and
   * 256 MiB for objects whose MD5 is checked (one stream hashes as it writes: ops/fetch-mode.ts)
   */
  multipartThresholdBytes?: number;
  /** size of one ranged GET; default 16 MiB, 5 MiB – 5 GiB */
  partSizeBytes?: number;
  onReport?: (r: RequestReport) => void;
  /** progress, at most every 100 ms and once at the end */
  onProgress?: (p: DownloadProgress) => void;
  /** the SSE-C key of the objects (--sse-c AES256 --sse-c-key …): sent with every GET */
  sseC?: SseCustomerKey;
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

/** Downloads every object under bucket/prefix into `dir`. Throws UsageError / FatalRunError before any GET. */
export async function download(opts: DownloadOptions): Promise<DownloadSummary> {
  const bucket = opts.bucket;
  if (!bucket) throw new UsageError('a bucket name is required');
  if (!opts.dir) throw new UsageError('a local directory is required');
  const { partSizeBytes, thresholdBytes } = resolveMultipart(opts.partSizeBytes, opts.multipartThresholdBytes);
  const sel = selectKeys(opts.prefix, opts.rawPrefix);
  const local = await plannedDir(opts.dir);
  const run = Run.open(opts, bucket, { onReport: opts.onReport });
  const verifiedThresholdBytes = verifiedThreshold(opts.multipartThresholdBytes);
  const d = new Downloader(run, opts, { root: local.root, sel, verify: opts.verify ?? true, partSizeBytes, thresholdBytes, verifiedThresholdBytes });
  try {
    // the first page is asked for during the preflight; no GET, and no directory made, before it passed
    await d.listAndStart(madeAfterFirstPage(listAfterPreflight(run, bucket, sel.prefix), local));
    await d.drain();
  } finally {
    await d.settle();
    run.close();
  }
  return d.summary();
}

/** The pages, once the first has come (the preflight passed, the listing works) and `local` is made. */
async function* madeAfterFirstPage(pages: AsyncGenerator<ListPage>, local: PlannedDir): AsyncGenerator<ListPage> {
  const first = await pages.next();
  try {
    await local.make();
  } catch (err) {
    await pages.return(undefined);
    throw new PreflightFailed(err); // thrown as it is, not as a listing failure
  }
  if (first.done === true) return;
  yield first.value;
  yield* pages;
}

/** What `download` resolved from its options before the run starts. */
export interface DownloadPlan {
  /** real path of the local directory */
  root: string;
  sel: KeySelection;
  verify: boolean;
  partSizeBytes: number;
  thresholdBytes: number;
  /** the threshold for objects whose MD5 is checked (ops/fetch-mode.ts); default thresholdBytes */
  verifiedThresholdBytes?: number;
}

/**
 * One download run: the listing feeds it objects, each fetched into a temporary file (whole,
 * streamed or as ranged parts) and renamed into place; it keeps the counts the summary reports.
 */
export class Downloader {
  private readonly bucket: string;
  private readonly progress: DownloadProgress = { filesFound: 0, bytesFound: 0, listDone: false, filesDone: 0, filesSkipped: 0, filesFailed: 0, bytesDone: 0, elapsedMs: 0 };
  private readonly ticker: ProgressTicker<DownloadProgress>;
  private readonly failed: FailedObject[] = [];
  private directories = 0;
  private filesBytes = 0;
  private readonly dirs: SafeDirs;
  /** temporary files not yet renamed or removed */
  private readonly temps = new Set<string>();
  /** objects started and not finished: at most 2 × concurrency, so the listing waits */
  private readonly dispatch: Dispatch;

  constructor(private readonly run: Run, private readonly opts: DownloadOptions, private readonly plan: DownloadPlan) {
    this.bucket = run.bucket;
    this.ticker = run.ticker(this.progress, opts.onProgress);
    this.dirs = new SafeDirs(plan.root);
    this.dispatch = run.dispatch(run.conn.concurrency * 2);
  }

  private tick(force = false): void { this.ticker.tick(force); }

  /**
   * Lists the prefix page by page (`pages`: the listing, by default asked for now) and starts
   * every object; a listing failure stops the run, a failed preflight is thrown as it was.
   */
  async listAndStart(pages?: AsyncGenerator<ListPage>): Promise<void> {
    const { run, plan: { sel } } = this;
    try {
      for await (const page of pages ?? listThrough(run.engine, this.bucket, sel.prefix)) {
        for (const o of page.objects) if (keptBySelection(sel, o.key, run.logger)) await this.take(o);
        this.tick();
        if (run.signal.aborted) break;
      }
      this.progress.listDone = true;
    } catch (err) {
      if (err instanceof PreflightFailed) throw err.error;
      stopOnListingFailure(run, err, sel.prefix);
    }
  }

  /** One listed object: refused, made a directory, or started (waiting for a place); sync-down.ts feeds it too. */
  async take(o: ListedObject): Promise<void> {
    const rel = o.key.slice(this.plan.sel.base.length);
    const mapped = safeRelativePath(rel);
    if (!mapped.ok) return this.fail(o, undefined, refusedError(mapped.reason));
    if (mapped.directory) return this.makeDirectory(o, rel, mapped.segments);
    this.progress.filesFound++;
    this.progress.bytesFound += o.bytes;
    await this.dispatch.take(() => this.downloadOne(o, mapped.segments)
      .catch((err: unknown) => this.fail(o, rel, err))
      .finally(() => this.tick()));
  }

  /** A directory marker (key ending in "/") becomes a directory. */
  private async makeDirectory(o: ListedObject, rel: string, segments: string[]): Promise<void> {
    if (segments.length === 0) return;
    try {
      await this.dirs.ensure(resolveInside(this.plan.root, segments)!);
      this.directories++;
    } catch (err) {
      this.fail(o, rel, err);
    }
  }

  /** An object not downloaded: named in the summary (cut by an interrupt: only counted); a fatal error stops the run. */
  private fail(o: ListedObject, rel: string | undefined, err: unknown): void {
    if (err instanceof Interrupted) { this.run.notAttempted++; return; }
    this.run.stopIfFatal(err);
    const error = err instanceof RequestFailed ? err.message : describeLocalError(err);
    this.failed.push({ key: o.key, ...(rel !== undefined && { path: rel }), error });
    this.progress.filesFailed++;
    this.run.logger.warn({ key: o.key, path: rel, error }, 'not downloaded');
  }

  /** Waits for the started objects, then reports the final progress. */
  async drain(): Promise<void> {
    await this.dispatch.drain();
    this.tick(true);
  }

  /** Waits for the started objects whatever happened, and removes any temporary file left. */
  async settle(): Promise<void> {
    await this.dispatch.settle();
    // last resort (every path above removes its own): no temporary file outlives the run
    for (const t of this.temps) fs.rmSync(t, { force: true });
  }

  /** One object into its path: skipped if already there, else fetched to a temporary file and renamed. */
  private async downloadOne(o: ListedObject, segments: string[]): Promise<void> {
    const target = resolveInside(this.plan.root, segments);
    if (target === undefined) throw refusedError('would resolve outside the directory');
    await this.dirs.ensure(path.dirname(target));
    if (this.opts.skipExisting && await sameSizeFileAt(target, o.bytes)) {
      this.progress.filesSkipped++;
      return;
    }
    const tmp = tempPathFor(target);
    this.temps.add(tmp);
    // the file written: `tmp`, or a hedged streamed GET's winning copy's own (fetchStreamed)
    let written = tmp;
    let renamed = false;
    try {
      const got = await this.fetchTo(o, tmp, target);
      written = got.path;
      if (!got.renamed) {
        if (got.mtime) await fs.promises.utimes(written, got.mtime, got.mtime);
        // one syscall, kept inline (40–60 µs a file in S6s profiles)
        fs.renameSync(written, target);
      }
      renamed = true;
      this.progress.filesDone++;
    } finally {
      this.temps.delete(tmp);
      this.temps.delete(written);
      if (!renamed) {
        await fs.promises.unlink(tmp).catch(() => {});
        if (written !== tmp) await fs.promises.unlink(written).catch(() => {});
      }
    }
  }

  /**
   * Fetches the object the way its size calls for, into `tmp` (a streamed GET: into a file of
   * its own beside `target`); returns that file and the mtime still to set (the GET's
   * Last-Modified, else the listing's), undefined when there is none or it is set already;
   * `renamed`: the file is at `target` already (a small object: written and renamed in one job).
   */
  private async fetchTo(o: ListedObject, tmp: string, target: string): Promise<{ path: string; mtime: Date | undefined; renamed?: true }> {
    const mode = fetchMode(o.bytes, o.etag, { ...this.plan, sseC: this.opts.sseC !== undefined });
    if (mode === 'buffered') {
      await this.fetchBuffered(o, tmp, target);
      return { path: tmp, mtime: undefined, renamed: true };
    }
    if (mode === 'ranged') return { path: tmp, mtime: await this.getRangedChecked(o, tmp) ?? o.lastModified };
    const got = await this.fetchStreamed(o, target);
    return { path: got.path, mtime: got.lastModified ?? o.lastModified };
  }

  /**
   * Ranged GETs, fetched again when the whole file's MD5 is wrong: a part corrupted in transit
   * only shows there (an ETag has no per-part digest), up to `retries` times.
   */
  private async getRangedChecked(o: ListedObject, tmp: string): Promise<Date | undefined> {
    const { run } = this;
    for (let round = 0; ; round++) {
      try {
        return await this.getRanged(o, tmp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'BadDigest' || round >= run.conn.retry.retries || run.signal.aborted) throw err;
        run.logger.info({ key: o.key, round: round + 1, error: (err as Error).message }, 'MD5 mismatch after ranged GETs: fetching the object again');
        run.refetches++;
        await fs.promises.unlink(tmp);
      }
    }
  }

  /** A small object: read into memory in its slot, then written to `tmp` in one go, its mtime with it, and renamed to `target`. */
  private async fetchBuffered(o: ListedObject, tmp: string, target: string): Promise<void> {
    const got = await this.run.slots.run(() => this.run.engine.run({
      op: 'GetObject', key: o.key, bytes: o.bytes, kind: 'read', bucket: this.bucket,
      // into memory, written once by the caller: a hedge's copy never reaches the file
      hedge: true,
      send: (ep, signal) => this.getBuffered(ep, signal, o),
    }));
    // on a worker thread, which checks the directory again right before the open (fs/new-file.ts)
    const dir = path.dirname(tmp);
    await writeNewFile(tmp, got.data, {
      mtime: got.lastModified ?? o.lastModified, renameTo: target,
      dir: { real: this.dirs.checkedReal(dir), refuse: (now) => this.dirs.swapped(dir, now) },
    });
    this.progress.bytesDone += got.data.length;
    this.filesBytes += got.data.length;
  }

  /**
   * A larger object below the threshold: one GET streamed to disk inside its slot. Every attempt
   * and hedge streams into a temporary file of its own beside `target` (fs/copy-files.ts): the
   * winner's is returned, every other one is removed.
   */
  private async fetchStreamed(o: ListedObject, target: string): Promise<{ path: string; lastModified: Date | undefined }> {
    // the directory is checked again right before each copy's file is created in it
    const copies = new CopyFiles(() => { this.dirs.recheck(path.dirname(target)); return tempPathFor(target); }, this.temps);
    let got: { path: string; lastModified: Date | undefined };
    try {
      // a directory swapped before the object starts is refused here, as one error, no GET sent
      got = await this.run.slots.run(async () => {
        this.dirs.recheck(path.dirname(target));
        return this.run.engine.run({
          op: 'GetObject', key: o.key, bytes: o.bytes, kind: 'read', bucket: this.bucket,
          // each copy writes only its own file: the loser's never reaches the one renamed
          hedge: true,
          send: (ep, signal, progress) => this.getStreamed(ep, signal, o, copies, progress),
        });
      });
    } catch (err) {
      await copies.close();
      throw err;
    }
    await copies.keep(got.path);
    this.filesBytes += o.bytes;
    return got;
  }

  /** One GET attempt of the whole object into memory, checked for length and MD5. */
  private async getBuffered(ep: Endpoint, signal: StopSignal, o: ListedObject): Promise<{ data: Buffer; lastModified?: Date }> {
    const res = await ep.store.getObject({ bucket: this.bucket, key: o.key, sseC: this.opts.sseC }, signal);
    let data: Buffer;
    try {
      // memory stays bounded even if the object was replaced by a large one since the listing
      if ((res.contentLength ?? 0) > BUFFERED_MAX_BYTES) throw objectChanged(o.key, `it is now ${res.contentLength} bytes, was ${o.bytes}`);
      data = await readWhole(res.body, BUFFERED_MAX_BYTES, () => objectChanged(o.key, `it sent more than ${BUFFERED_MAX_BYTES} bytes, was ${o.bytes}`));
    } finally {
      res.body.destroy();
    }
    checkLength(o.key, data.length, res.contentLength);
    const want = this.plan.verify ? md5FromEtag(res.etag, res.sse, res.sseCustomerAlgorithm) : undefined;
    if (want !== undefined) checkMd5(o.key, want, crypto.hash('md5', data, 'hex'));
    return { data, ...(res.lastModified && { lastModified: res.lastModified }) };
  }

  /**
   * One copy of the GET of the whole object, streamed into a new file of its own (removed if the
   * copy fails); its progress is taken back if it fails. Returns the file and the Last-Modified.
   */
  private async getStreamed(ep: Endpoint, signal: StopSignal, o: ListedObject, copies: CopyFiles, progress: AttemptProgress): Promise<{ path: string; lastModified: Date | undefined }> {
    // the file first: a refused directory costs no GET
    const file = await copies.open();
    let written = 0;
    let res: GetAnswer | undefined;
    let hash: FollowMd5 | undefined;
    try {
      res = await ep.store.getObject({ bucket: this.bucket, key: o.key, sseC: this.opts.sseC, bulk: o.bytes >= BULK_MIN_BYTES }, signal);
      // hashed only when the ETag is an MD5 to compare with (not multipart, SSE-KMS, SSE-C)
      const want = this.plan.verify ? md5FromEtag(res.etag, res.sse, res.sseCustomerAlgorithm) : undefined;
      // hashed from the file by a worker as it is written (fs/follow-md5.ts)
      hash = want !== undefined ? new FollowMd5(file.path, { expectedBytes: res.contentLength ?? o.bytes }) : undefined;
      const maxBytes = res.contentLength ?? Number.MAX_SAFE_INTEGER;
      const n = await drainTo(res.body, {
        fh: file.fh, position: 0, maxBytes, tooLong: () => tooLong(o.key, maxBytes),
        onBytes: (d) => { written += d; this.progress.bytesDone += d; hash?.wrote(d); },
        onChunk: progress.received,
      });
      checkLength(o.key, n, res.contentLength);
      if (hash) checkMd5(o.key, want, await hash.digest());
      await file.fh.close();
      // another copy's file kept instead: its bytes were counted twice
      copies.finished(file.path, () => { this.progress.bytesDone -= written; });
      return { path: file.path, lastModified: res.lastModified };
    } catch (err) {
      this.progress.bytesDone -= written;
      hash?.abandon();
      await file.fh.close().catch(() => {});
      await copies.remove(file.path);
      throw err;
    } finally {
      res?.body.destroy();
    }
  }

  /**
   * Parallel ranged GETs into a preallocated temporary file; every part in its own slot. An MD5
   * ETag is checked against the file's bytes, hashed in file order by a worker as the parts are
   * written (fs/follow-md5.ts).
   */
  private async getRanged(o: ListedObject, tmp: string): Promise<Date | undefined> {
    const { run } = this;
    const parts = planParts(o.bytes, this.plan.partSizeBytes);
    const ranges = Array.from({ length: parts.count }, (_, i) => partRange(parts, o.bytes, i));
    const wantMd5 = this.plan.verify ? md5FromEtag(o.etag) : undefined;
    this.dirs.recheck(path.dirname(tmp));
    const fh = await fs.promises.open(tmp, 'wx');
    const file: RangedFile = {
      fh, key: o.key, bytes: o.bytes, wantEtag: bareEtag(o.etag), firstEtag: undefined, lastModified: undefined,
      md5: wantMd5 !== undefined ? new PartsMd5(tmp, ranges) : undefined, encrypted: false,
      direct: [], partDone: [],
    };
    let bytesBefore = 0;
    try {
      await fh.truncate(o.bytes);
      let partFailed = false;
      await Promise.all(ranges.map(({ start, end }, i) => this.run.slots.run(async () => {
        if (partFailed || run.signal.aborted) throw run.signal.aborted ? new Interrupted() : new Error('another part failed');
        const won = await run.engine.run({
          op: 'GetObject', key: o.key, part: i + 1, bytes: end - start + 1, kind: 'read', bucket: this.bucket,
          // a hedge reads into memory (getPartCopy): parts up to HEDGE_PART_MAX_BYTES
          hedge: end - start + 1 <= HEDGE_PART_MAX_BYTES,
          send: (ep, signal, progress) => this.getPartCopy(ep, signal, file, i, start, end, progress),
        }).catch((err: unknown) => { partFailed = true; throw err; });
        if (won) await this.commitPart(file, i, start, won);
        bytesBefore += end - start + 1;
        this.tick();
      }, 'high')));
      if (file.md5 && !file.encrypted) {
        checkMd5(o.key, wantMd5, await file.md5.digest());
      }
    } catch (err) {
      this.progress.bytesDone -= bytesBefore;
      throw err;
    } finally {
      file.md5?.abandon();
      await fh.close();
    }
    this.filesBytes += o.bytes;
    return file.lastModified;
  }

  /**
   * One copy of part `i`'s GET. The first copy of an attempt writes straight into the file (and
   * the MD5); a hedge, sent while that one runs, reads into memory and returns the bytes, which
   * reach the file and the MD5 only if it wins (commitPart). Undefined: written already.
   */
  private getPartCopy(ep: Endpoint, signal: StopSignal, file: RangedFile, i: number, start: number, end: number, progress: AttemptProgress): Promise<Buffer | undefined> {
    if (file.direct[i] !== undefined) return this.getPartBuffered(ep, signal, file, start, end, progress);
    const direct = this.getPart(ep, signal, file, i, start, end, progress).then(() => { file.partDone[i] = true; return undefined; });
    const settled = direct.then(() => {}, () => {}).then(() => { if (file.direct[i] === settled) file.direct[i] = undefined; });
    file.direct[i] = settled;
    return direct;
  }

  /**
   * The winning hedge's bytes of part `i` into the file, once the first copy (cut by the engine)
   * has stopped writing; if that copy finished anyway its complete, checked bytes stay.
   */
  private async commitPart(file: RangedFile, i: number, start: number, data: Buffer): Promise<void> {
    await file.direct[i];
    if (file.partDone[i]) return;
    file.md5?.attempt(i);
    await writeAt(file.fh, data, start);
    file.md5?.wrote(i, data.length);
    file.partDone[i] = true;
    this.progress.bytesDone += data.length;
  }

  /** A hedge of a part: the range read into memory and checked like getPart's, nothing written. */
  private async getPartBuffered(ep: Endpoint, signal: StopSignal, file: RangedFile, start: number, end: number, progress: AttemptProgress): Promise<Buffer> {
    const res = await ep.store.getObject({ bucket: this.bucket, key: file.key, range: { start, end }, sseC: this.opts.sseC, bulk: end - start + 1 >= BULK_MIN_BYTES }, signal);
    const len = end - start + 1;
    try {
      this.checkPartAnswer(file, res, start, end);
      const data = Buffer.allocUnsafe(len);
      let n = 0;
      for await (const c of res.body) {
        const b = toBuffer(c);
        progress.received?.();
        if (n + b.length > len) throw coded('IncompleteBody', `${file.key}: the server sent more than the expected ${len} bytes`);
        b.copy(data, n);
        n += b.length;
      }
      checkLength(file.key, n, len);
      return data;
    } finally {
      res.body.destroy();
    }
  }

  /** A part's answer is the range asked for, of the same object (its ETag that of the listing, else of the first part). */
  private checkPartAnswer(file: RangedFile, res: GetAnswer, start: number, end: number): void {
    checkRange(file.key, res.contentRange, start, end, file.bytes);
    const etag = bareEtag(res.etag);
    const expected = file.wantEtag ?? file.firstEtag;
    if (etag !== undefined && expected !== undefined && etag !== expected) throw objectChanged(file.key, `its ETag is now ${etag}, was ${expected}`);
    file.firstEtag ??= etag;
    file.lastModified ??= res.lastModified;
    // SSE-KMS / SSE-C: the listed ETag is no MD5 of these bytes (only the GET says so)
    if (etagIsNotMd5(res.sse, res.sseCustomerAlgorithm)) file.encrypted = true;
  }

  /**
   * One GET attempt of part `i`, bytes start–end, written at their offset, checked by
   * checkPartAnswer; progress taken back if it fails.
   */
  private async getPart(ep: Endpoint, signal: StopSignal, file: RangedFile, i: number, start: number, end: number, progress: AttemptProgress): Promise<void> {
    const res = await ep.store.getObject({ bucket: this.bucket, key: file.key, range: { start, end }, sseC: this.opts.sseC, bulk: end - start + 1 >= BULK_MIN_BYTES }, signal);
    const len = end - start + 1;
    let written = 0;
    try {
      this.checkPartAnswer(file, res, start, end);
      file.md5?.attempt(i);
      const n = await drainTo(res.body, {
        fh: file.fh, position: start, maxBytes: len, tooLong: () => tooLong(file.key, len),
        onBytes: (d) => { written += d; this.progress.bytesDone += d; file.md5?.wrote(i, d); },
        onChunk: progress.received,
      });
      checkLength(file.key, n, len);
    } catch (err) {
      this.progress.bytesDone -= written;
      throw err;
    } finally {
      res.body.destroy();
    }
  }

  summary(): DownloadSummary {
    const { progress, filesBytes } = this;
    const t = this.run.totals(progress.filesDone);
    return {
      bucket: this.bucket, prefix: this.plan.sel.prefix, dir: this.opts.dir, files: progress.filesDone, bytes: filesBytes, skipped: progress.filesSkipped,
      directories: this.directories, failed: this.failed, ...t, mbps: mbps(filesBytes, t.wallMs),
    };
  }
}

/** The object being fetched as ranged parts: what every part checks against and fills in. */
interface RangedFile {
  fh: fs.promises.FileHandle;
  key: string;
  bytes: number;
  /** the listing's ETag, bare; parts must all carry it */
  wantEtag: string | undefined;
  /** without a listed ETag: the first part's, which the others must match */
  firstEtag: string | undefined;
  lastModified: Date | undefined;
  /** the MD5 in file order, when the listed ETag is one */
  md5: PartsMd5 | undefined;
  /** a part's GET said SSE-KMS / SSE-C: no MD5 to compare */
  encrypted: boolean;
  /** per part: settles when the copy writing straight into the file stops (undefined: none running) */
  direct: (Promise<void> | undefined)[];
  /** per part: its bytes are all in the file */
  partDone: boolean[];
}

/** What a GET answers (the store's type). */
type GetAnswer = Awaited<ReturnType<Endpoint['store']['getObject']>>;

/** True when a regular file of `bytes` bytes is already at `target` (skipExisting). */
async function sameSizeFileAt(target: string, bytes: number): Promise<boolean> {
  const st = await fs.promises.lstat(target).catch(() => undefined);
  return st?.isFile() === true && st.size === bytes;
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

function checkMd5(key: string, want: string | undefined, got: string): void {
  if (want !== undefined && want !== got) throw coded('BadDigest', `${key}: MD5 of the bytes received is ${got}, the ETag says ${want}`);
}

function tooLong(key: string, maxBytes: number): Error {
  return coded('IncompleteBody', `${key}: the server sent more than the expected ${maxBytes} bytes`);
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

/** All of `data` into an open file at `position`. */
async function writeAt(fh: fs.promises.FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Random per process, then a counter: unique names without a random draw per file (opened with O_EXCL anyway). */
const TMP_RUN_ID = crypto.randomBytes(4).toString('hex');
let tmpCounter = 0;

/** `<name>.s3x-tmp-<run id><n>` beside `target` (a short `.s3x-tmp-…` when the name is near the 255-byte limit). */
function tempPathFor(target: string): string {
  const unique = `${TMP_RUN_ID}${(tmpCounter++).toString(36)}`;
  // `target` is absolute and normalised (resolveInside): plain string work, no path.join
  const slash = target.lastIndexOf(path.sep);
  const base = target.slice(slash + 1);
  return base.length * 3 > 200 && Buffer.byteLength(base) > 200 ? `${target.slice(0, slash + 1)}${TMP_MARK}${unique}` : `${target}${TMP_MARK}${unique}`;
}

/** Creates `dir` if needed; returns its real path. */
async function prepareDir(dir: string): Promise<string> {
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    throw dirError(dir, err);
  }
  return writableDir(await fs.promises.realpath(dir), dir);
}

/** The local directory of a run: its real path now, and `make` to create it once the bucket has answered. */
export interface PlannedDir {
  root: string;
  /** creates the missing levels; nothing when the directory exists */
  make(): Promise<void>;
}

/**
 * Checks `dir` without creating it, so that a run the bucket refuses leaves nothing behind (as
 * aws-cli): an existing `dir` must be a writable directory; a missing one, a path under a writable
 * directory, whose missing levels `make` creates.
 */
export async function plannedDir(dir: string): Promise<PlannedDir> {
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!(await exists(at, dir))) {
    missing.unshift(path.basename(at));
    at = path.dirname(at);
  }
  if (missing.length === 0) return { root: await writableDir(await fs.promises.realpath(dir), dir), make: async () => {} };
  const root = path.join(await writableDir(await fs.promises.realpath(at), dir), ...missing);
  return {
    root,
    make: async () => {
      const real = await prepareDir(dir);
      if (real !== root) throw new UsageError(`'${dir}' changed while s3x ran: it now leads to '${real}'`);
    },
  };
}

/** Whether `p` exists (a missing path: false; any other failure to look: `dir`'s UsageError). */
async function exists(p: string, dir: string): Promise<boolean> {
  try {
    await fs.promises.stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw dirError(dir, err);
  }
}

/** `real` (the real path of `dir` or of the directory it will be made in) as a writable directory. */
async function writableDir(real: string, dir: string): Promise<string> {
  const st = await fs.promises.stat(real);
  if (!st.isDirectory()) throw new UsageError(`'${dir}' is not a directory`);
  try {
    await fs.promises.access(real, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new UsageError(`cannot write to directory '${dir}': permission denied`);
  }
  return real;
}

function dirError(dir: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  return new UsageError(code === 'EEXIST' || code === 'ENOTDIR' ? `'${dir}' is not a directory` : `cannot create directory '${dir}': ${code}`);
}
