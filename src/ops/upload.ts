/**
 * `upload`: walk a directory and send every file to bucket/prefix, small files as one
 * PutObject, large ones as multipart uploads whose parts share the same request slots. Every
 * request goes through the RequestEngine (deadline, retry, report).
 *
 * Memory: at most `concurrency` requests in flight; small files (≤ 256 KiB) are read into a
 * buffer inside their slot, everything larger is streamed from disk, parts as ranged streams,
 * a fresh stream per attempt. So memory is bounded by slots × 256 KiB plus socket buffers,
 * whatever the number and size of the files.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { bareEtag, md5, md5OfFile, multipartEtag } from '../fs/md5.js';
import { resolveConnection, resolveMultipart, type ConnectionOptions } from '../config/options.js';
import { mbps } from '../config/units.js';
import { FatalRunError, UsageError } from '../errors.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { UploadedPart } from '../endpoints/store.js';
import { keyFor, normalizePrefix } from '../fs/keys.js';
import { KeyCollisionGuard } from '../fs/key-collisions.js';
import { walkFiles, type FileEntry, type WalkProblem } from '../fs/walk.js';
import { silentLogger } from '../logger.js';
import { contentTypeFor } from './content-type.js';
import { describeFatal, endpointSummaries, openPool, preflight } from '../run/context.js';
import { Limiter } from '../engine/limiter.js';
import { MIB, planParts, type PartPlan } from '../config/multipart.js';
import { listReplicas, listThrough, ListingError, type ListedObject } from './list.js';
import { Interrupted, RequestEngine, RequestFailed, type RequestReport } from '../engine/request.js';
import { errorFacts } from '../engine/retry-policy.js';
import { PriorityQueue, type Priority } from '../engine/priority-queue.js';
import { pathMatcher } from '../fs/glob.js';
import { pathSelector } from '../fs/select.js';
import type { RunTotals } from '../run/summary.js';

/** Files up to this size are read into memory in one go (cheaper than a stream). */
const BUFFERED_MAX_BYTES = 256 * 1024;
/**
 * Files up to this size are read with readFileSync: one syscall sequence instead of four
 * FileHandle round-trips through the thread pool (~0.1 ms less CPU per file, measured in
 * shared/DESIGN.md); blocking the loop for ≤ 64 KiB is shorter than that saving.
 */
const SYNC_READ_MAX_BYTES = 64 * 1024;
/** User metadata key holding the file's mtime (ms since the epoch) at upload. */
export const MTIME_METADATA = 's3x-mtime';
/** Read size of file streams: fewer, larger socket writes than the 64 KiB default. */
const STREAM_CHUNK_BYTES = 1024 * 1024;
/**
 * First-attempt deadlines of the multipart control calls: no payload, so the estimator would
 * give them its 500 ms floor, yet their server time is not a small request's. Create: a cut
 * attempt the server performed leaves an upload s3x does not know, so it gets room (10 s).
 * Complete stitches every part (AWS documents it can take minutes; RGW's time grows with the
 * parts) and Abort deletes them: max(10 s, 50 ms per part), 500 s at 10,000 parts.
 */
const CREATE_DEADLINE_MS = 10_000;
const COMPLETE_MIN_DEADLINE_MS = 10_000;
const COMPLETE_MS_PER_PART = 50;
/**
 * A file whose ctime is within this of the run's start may change again within one timestamp
 * tick (FAT: 2 s, ext3: 1 s, Linux's coarse clock: a few ms) and leave size, mtime and ctime as
 * they were: its parts are hashed again after Complete.
 */
const TIMESTAMP_SLACK_MS = 2_000;
/** How far the server's clock may be from ours: S3 refuses requests more than 15 minutes off. */
const CLOCK_SLACK_MS = 15 * 60_000;

export interface UploadOptions extends ConnectionOptions {
  /** local directory to upload */
  dir: string;
  bucket: string;
  /** key prefix; joined to relative paths with exactly one `/` */
  prefix?: string;
  /** globs (any must match); patterns without `/` match the base name anywhere */
  include?: string[];
  exclude?: string[];
  followSymlinks?: boolean;
  /** files at or above this size go multipart; default 64 MiB */
  multipartThresholdBytes?: number;
  /** multipart part size; default 16 MiB, 5 MiB – 5 GiB, grown to stay within 10,000 parts */
  partSizeBytes?: number;
  /** walk and report what would be sent; send nothing */
  dryRun?: boolean;
  /** read every object back after upload and compare its MD5 with the file's */
  verify?: boolean;
  /**
   * compare with what is already under the prefix (listed first) and send only what differs:
   *   size        – a key of the same size counts as there (`--skip-existing`)
   *   size-mtime  – and the file's mtime is not newer than the object's LastModified (sync)
   *   checksum    – and the file's MD5 equals the object's ETag (single-part, or the composite
   *                 ETag recomputed from s3x's part size)
   */
  compare?: 'size' | 'size-mtime' | 'checksum';
  /** with `compare`: also return the keys under the prefix with no local file (sync --delete) */
  collectRemoteOnly?: boolean;
  /** take only the files of shard `index` of `count` (1-based): a hash of the key decides */
  shard?: { index: number; count: number };
  /** one call per finished request (success or final failure) */
  onReport?: (r: RequestReport) => void;
  /** progress, at most every 100 ms and once at the end */
  onProgress?: (p: UploadProgress) => void;
  /** with dryRun: one call per file that would be sent */
  onPlan?: (p: PlannedFile) => void;
  /**
   * dispatch order: files matching a HIGH glob go before NORMAL (the rest) before LOW, among
   * the files found so far (the walk runs at most `priorityWindow` files ahead)
   */
  priorities?: Array<{ priority: Priority; glob: string }>;
  /** how many found files may wait for dispatch; default 2,000 (each is promoted garbage later: bench S7) */
  priorityWindow?: number;
}

export interface PlannedFile {
  path: string; key: string; bytes: number; multipart: boolean; parts: number;
  /** with `compare`: why it would be sent */
  status?: 'new' | 'changed';
}

export interface UploadProgress {
  filesFound: number;
  bytesFound: number;
  /** false while the walk is still finding files */
  walkDone: boolean;
  filesDone: number;
  filesFailed: number;
  bytesDone: number;
  elapsedMs: number;
}

export interface FailedFile {
  /** path relative to the uploaded directory */
  path: string;
  key?: string;
  /** replicate mode: the endpoint that misses this object */
  endpoint?: string;
  error: string;
}

export interface UploadSummary extends RunTotals {
  bucket: string;
  prefix: string;
  dryRun: boolean;
  /** files uploaded (or, with dryRun, that would be) */
  files: number;
  bytes: number;
  mbps: number;
  failed: FailedFile[];
  skipped: WalkProblem[];
  /** with `compare`: what the comparison found (files counted once each) */
  plan?: { new: number; changed: number; unchanged: number; remoteOnly: number };
  /** with `collectRemoteOnly`: keys under the prefix, selected by the same filters and shard, with no local file */
  remoteOnlyKeys?: string[];
  /** with `collectRemoteOnly`: files the walk found (selected by the filters, before --shard) */
  filesFound?: number;
}

export async function upload(opts: UploadOptions): Promise<UploadSummary> {
  const conn = resolveConnection(opts);
  const { partSizeBytes, thresholdBytes } = resolveMultipart(opts.partSizeBytes, opts.multipartThresholdBytes);
  const logger = opts.logger ?? silentLogger;
  const bucket = opts.bucket;
  if (!bucket) throw new UsageError('a bucket name is required');
  const prefix = normalizePrefix(opts.prefix);
  await checkDir(opts.dir);

  const started = performance.now();
  const startedWallMs = Date.now();
  const failed: FailedFile[] = [];
  const skipped: WalkProblem[] = [];
  const progress: UploadProgress = { filesFound: 0, bytesFound: 0, walkDone: false, filesDone: 0, filesFailed: 0, bytesDone: 0, elapsedMs: 0 };
  let lastTick = 0;
  const tick = (force = false): void => {
    const now = performance.now();
    if (!opts.onProgress || (!force && now - lastTick < 100)) return;
    lastTick = now;
    opts.onProgress({ ...progress, elapsedMs: now - started });
  };
  /** paths the walk met but did not upload, or could not look under: nothing at or below them is "remote-only" */
  const problemRels: string[] = [];
  const onProblem = (p: WalkProblem): void => {
    problemRels.push(p.rel);
    if (p.kind === 'failed') {
      failed.push({ path: p.rel, error: p.reason });
      progress.filesFailed++;
    } else skipped.push(p);
    if (p.kind === 'failed') logger.warn({ path: p.rel, reason: p.reason }, 'not uploaded');
    else logger.info({ path: p.rel, reason: p.reason }, 'skipped');
  };
  const keyGuard = new KeyCollisionGuard(opts.dir, opts.followSymlinks ?? false);
  const walk = walkFiles(opts.dir, {
    ...(opts.include && { include: opts.include }),
    ...(opts.exclude && { exclude: opts.exclude }),
    followSymlinks: opts.followSymlinks ?? false,
    onProblem,
    onDirectory: keyGuard.noteDirectory,
    onUnread: (rel) => problemRels.push(rel),
  });

  const inShard = shardFilter(opts.shard);
  // two local files never go to one key: both are refused, by name (counted as failed)
  const files = keyGuard.filter(walk, (p) => {
    if (inShard(keyFor(prefix, p.file.rel))) onProblem({ rel: p.file.rel, reason: p.reason, kind: 'failed' });
  });
  if (opts.dryRun && !opts.compare) {
    for await (const f of files) {
      if (!inShard(keyFor(prefix, f.rel))) continue;
      const multipart = f.size >= thresholdBytes;
      const key = keyFor(prefix, f.rel);
      opts.onPlan?.({ path: f.rel, key, bytes: f.size, multipart, parts: multipart ? planParts(f.size, partSizeBytes).count : 1 });
      progress.filesFound++;
      progress.bytesFound += f.size;
    }
    const wallMs = performance.now() - started;
    return {
      bucket, prefix, dryRun: true, files: progress.filesFound, bytes: progress.bytesFound, wallMs, mbps: 0, objectsPerSec: 0,
      requests: 0, retries: 0, failed, skipped, notAttempted: 0, interrupted: false, endpoints: [],
    };
  }

  // The run stops on the caller's signal (interrupt) or on a fatal error (ours).
  const fatalStop = new AbortController();
  const runSignal = opts.signal ? AbortSignal.any([opts.signal, fatalStop.signal]) : fatalStop.signal;
  let fatal: string | undefined;
  const pool = openPool(conn, logger);
  // the summary counts exactly the requests it reports (preflight checks are not among them)
  let requests = 0;
  let retries = 0;
  const onReport = (r: RequestReport): void => {
    requests++;
    retries += r.attempts - 1;
    opts.onReport?.(r);
  };
  const engine = new RequestEngine(pool, conn.retry, runSignal, logger, onReport);
  // Aborting open multipart uploads must still work after the run's signal fired: its own
  // engine, never interrupted, with few retries.
  const cleanup = new RequestEngine(pool, { ...conn.retry, retries: 2 }, new AbortController().signal, logger, onReport);
  const slots = new Limiter(conn.concurrency);
  /** open multipart uploads, aborted if the run stops */
  const openUploads = new Map<string, OpenUpload>();
  /** every upload id this run opened: never taken for an orphan */
  const knownUploads = new Set<string>();
  let notAttempted = 0;
  const copies = new Map(pool.endpoints.map((e) => [e, { ok: 0, failed: 0 }]));
  let remoteOnlyKeys: string[] | undefined;
  let plannedBytes = 0;

  const plan = { new: 0, changed: 0, unchanged: 0, remoteOnly: 0 };
  let remote: Map<string, ListedObject> | undefined;
  try {
    await preflight(engine, pool, bucket, logger);
    if (opts.compare) {
      // Everything under the prefix, streamed page by page (pages can be short yet truncated).
      remote = new Map();
      const listPrefix = prefix ? `${prefix}/` : '';
      try {
        if (pool.mode === 'replicate' && pool.endpoints.length > 1) remote = await listReplicas(engine, bucket, listPrefix);
        else {
          for await (const page of listThrough(engine, bucket, listPrefix)) {
            for (const o of page.objects) if (o.key.startsWith(listPrefix)) remote.set(o.key, o);
          }
        }
      } catch (err) {
        // Nothing was sent yet and nothing can be compared: stop like the preflight does (exit 2).
        if (err instanceof RequestFailed) throw new FatalRunError(describeListFailure(err, bucket, listPrefix));
        if (err instanceof ListingError) throw new FatalRunError(`cannot list s3://${bucket}/${listPrefix} to compare with the local files (nothing was sent): ${err.message}`);
        throw err;
      }
    }
    const remoteMap = remote;

    /** new / changed / unchanged, by the chosen comparison. */
    const classify = async (f: FileEntry, o: ListedObject | undefined): Promise<'new' | 'changed' | 'unchanged'> => {
      if (!o) return 'new';
      if (o.bytes !== f.size || o.replicasDiffer) return 'changed';
      if (opts.compare === 'size') return 'unchanged';
      if (opts.compare === 'size-mtime') {
        return o.lastModified && Math.floor(f.mtimeMs) > o.lastModified.getTime() ? 'changed' : 'unchanged';
      }
      return (await localEtag(f, thresholdBytes, partSizeBytes, bareEtag(o.etag))) === bareEtag(o.etag) ? 'unchanged' : 'changed';
    };

    const fail = (f: FileEntry, key: string, err: unknown, target?: Endpoint): void => {
      if (err instanceof RequestFailed && err.decision === 'fatal') {
        if (!fatal) {
          fatal = describeFatal(err, bucket, err.endpoint.label);
          logger.error({ error: fatal }, 'stopping the run');
          fatalStop.abort();
        }
      }
      const message = err instanceof RequestFailed ? err.message : describeLocalError(err);
      failed.push({ path: f.rel, key, ...(target && { endpoint: target.name }), error: message });
      logger.warn({ path: f.rel, key, endpoint: target?.name, error: message }, 'upload failed');
    };

    // replicate: one copy per endpoint, each pinned to its endpoint; otherwise the pool routes
    const targets: Array<Endpoint | undefined> = pool.mode === 'replicate' ? [...pool.endpoints] : [undefined];
    const uploadOne = async (f: FileEntry, remoteObj: ListedObject | undefined): Promise<void> => {
      const key = keyFor(prefix, f.rel);
      if (opts.compare) {
        let status: 'new' | 'changed' | 'unchanged';
        try {
          status = await classify(f, remoteObj);
        } catch (err) {
          fail(f, key, err);
          progress.filesFailed++;
          return;
        }
        plan[status]++;
        if (status === 'unchanged') { tick(); return; }
        if (opts.dryRun) {
          plannedBytes += f.size;
          const multipart = f.size >= thresholdBytes;
          opts.onPlan?.({ path: f.rel, key, bytes: f.size, multipart, parts: multipart ? planParts(f.size, partSizeBytes).count : 1, status });
          return;
        }
      }
      const results = await Promise.all(targets.map(async (target) => {
        try {
          if (f.size >= thresholdBytes) await uploadMultipart(f, key, target);
          else await slots.run(() => putSmall(f, key, target));
          if (target) copies.get(target)!.ok++;
          return 'ok';
        } catch (err) {
          if (err instanceof Interrupted) { notAttempted++; return 'interrupted'; }
          if (target) copies.get(target)!.failed++;
          fail(f, key, err, target);
          return 'failed';
        }
      }));
      if (results.every((r) => r === 'ok')) {
        progress.filesDone++;
        progress.bytesDone += f.size;
        logger.debug({ path: f.rel, key, bytes: f.size }, 'uploaded');
      } else if (results.includes('failed')) {
        progress.filesFailed++;
      }
      tick();
    };

    /** What S3 records with every object: the file's mtime, so a later sync can compare. */
    const metadataFor = (f: FileEntry): Record<string, string> => ({ [MTIME_METADATA]: String(Math.round(f.mtimeMs)) });

    /**
     * The file must still be what was walked (same inode, size, mtime and ctime), or what was
     * sent may mix old and new bytes. ctime cannot be set back by hand, unlike mtime.
     */
    const checkUnchanged = async (f: FileEntry): Promise<void> => {
      const st = await fs.promises.stat(f.path);
      if (st.size !== f.size || st.mtimeMs !== f.mtimeMs || st.ctimeMs !== f.ctimeMs || st.ino !== f.ino || st.dev !== f.dev) throw fileChanged(f);
    };

    /** A control call's first-attempt deadline, within --min/--max-deadline-ms. */
    const controlDeadlineMs = (ms: number): number => Math.min(conn.estimator.maxMs, Math.max(conn.estimator.minMs, ms));

    /**
     * An object stored but failing a later check (ETag, file changed, --verify) is deleted, so no
     * later --skip-existing or sync takes it for the file; if it cannot be, the failure names it.
     */
    const discard = async (key: string, ep: Endpoint, err: unknown): Promise<never> => {
      if (err instanceof Interrupted) throw err;
      const note = await cleanup.run({
        op: 'DeleteObject', key, bytes: 0, bucket, endpoint: ep,
        send: (e, signal) => e.store.deleteObject({ bucket, key }, signal),
      }).then(
        () => '; the stored object was removed',
        (delErr: unknown) => `; THE STORED OBJECT s3://${bucket}/${key} COULD NOT BE REMOVED (${delErr instanceof RequestFailed ? delErr.facts.code : errorFacts(delErr).code}): do not trust it, delete it or upload again`,
      );
      logger.warn({ key, note }, 'object failed its check after upload');
      if (err instanceof Error) {
        err.message += note;
        throw err;
      }
      throw new Error(String(err) + note);
    };

    const putSmall = async (f: FileEntry, key: string, target: Endpoint | undefined): Promise<void> => {
      const buffered = f.size <= SYNC_READ_MAX_BYTES ? fs.readFileSync(f.path)
        : f.size <= BUFFERED_MAX_BYTES ? await fs.promises.readFile(f.path) : undefined;
      if (buffered && buffered.length !== f.size) throw fileChanged(f);
      // Content-MD5 on every PUT: the server refuses a body that does not match it
      const digest = buffered ? md5(buffered) : await md5OfFile(f.path);
      const contentMd5 = digest.toString('base64');
      const contentType = contentTypeFor(f.rel);
      const metadata = metadataFor(f);
      const stored = await engine.run({
        op: 'PutObject', key, bytes: f.size, bucket, ...(target && { endpoint: target }),
        send: async (ep, signal): Promise<Stored> => {
          const r = await ep.store.putObject({
            bucket, key, contentLength: f.size, contentType, contentMd5, metadata,
            body: buffered ?? (() => fs.createReadStream(f.path, { highWaterMark: STREAM_CHUNK_BYTES })),
          }, signal);
          return { ep, etag: r.etag, enc: encryption(r.sse, r.sseCustomerAlgorithm) };
        },
      });
      try {
        checkEtag(key, stored.etag, digest.toString('hex'), stored.enc);
        // a buffered file was read once; a streamed one may have changed between its MD5 pass and the send
        if (!buffered) await checkUnchanged(f);
        // putSmall already holds a slot: verify in it (asking for a second one can deadlock)
        if (opts.verify) await verifyObject(f, key, digest.toString('hex'), stored.ep, false);
      } catch (err) {
        await discard(key, stored.ep, err);
      }
    };

    const uploadMultipart = async (f: FileEntry, key: string, target: Endpoint | undefined): Promise<void> => {
      const plan = planParts(f.size, partSizeBytes);
      const abortDeadlineMs = controlDeadlineMs(Math.max(COMPLETE_MIN_DEADLINE_MS, plan.count * COMPLETE_MS_PER_PART));
      const createStartedMs = Date.now();
      // endpoints where a Create attempt got no answer (cut, reset, 5xx): it may have opened an upload
      const unanswered = new Set<Endpoint>();
      try {
        const created = await slots.run(() => engine.run({
          op: 'CreateMultipartUpload', key, bytes: 0, bucket, ...(target && { endpoint: target }),
          deadlineMs: controlDeadlineMs(CREATE_DEADLINE_MS),
          send: async (ep, signal) => {
            try {
              return { ep, out: await ep.store.createMultipartUpload({ bucket, key, contentType: contentTypeFor(f.rel), metadata: metadataFor(f) }, signal) };
            } catch (err) {
              const status = errorFacts(err).status;
              if (status === undefined || (status >= 500 && status !== 503)) unanswered.add(ep);
              throw err;
            }
          },
        }));
        const uploadId = created.out.uploadId;
        if (!uploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
        knownUploads.add(uploadId);
        await sendAndComplete(f, key, { key, uploadId, endpoint: created.ep, deadlineMs: abortDeadlineMs }, plan);
      } finally {
        // once the file is done, so that a Create the server performs late is there to be seen
        if (unanswered.size > 0) await abortOrphans(key, unanswered, createStartedMs, Date.now(), abortDeadlineMs);
      }
    };

    /** The parts, Complete, and the checks of what was stored (abort or delete when they fail). */
    const sendAndComplete = async (f: FileEntry, key: string, open: OpenUpload, plan: PartPlan): Promise<void> => {
      const { uploadId, endpoint: home } = open;
      // Parts go to any endpoint when they share storage, else to the one that created the upload.
      const pinned = pool.sharedStorage ? undefined : home;
      openUploads.set(uploadId, open);
      const partMd5s: Buffer[] = new Array<Buffer>(plan.count);
      let done: Stored;
      try {
        const sent = await sendParts(f, key, uploadId, plan, pinned, partMd5s);
        // changed while its parts were read: not completed, nothing is stored
        await checkUnchanged(f);
        done = await completeUpload(f, key, uploadId, sent, pinned, multipartEtag(partMd5s));
        openUploads.delete(uploadId);
      } catch (err) {
        if (!runSignal.aborted && openUploads.has(uploadId)) {
          await abortUpload(cleanup, bucket, open, logger);
          openUploads.delete(uploadId);
        }
        throw err;
      }
      try {
        await checkCompleted(f, key, done, plan, partMd5s, pinned);
      } catch (err) {
        await discard(key, done.ep, err);
      }
    };

    /**
     * Open uploads of this key that an unanswered Create attempt may have opened, aborted: those
     * Initiated between the first attempt and the last answer (± CLOCK_SLACK_MS for the server's
     * clock) that this run does not know. Another writer of the same key in that window would
     * lose its upload: two writers of one key conflict anyway (the last Complete wins).
     */
    const abortOrphans = async (key: string, on: Set<Endpoint>, fromMs: number, toMs: number, deadlineMs: number): Promise<void> => {
      for (const ep of on) {
        try {
          const listed = await cleanup.run({
            op: 'ListObjectsV2', key: `(ListMultipartUploads ${key})`, bytes: 0, kind: 'read', bucket, endpoint: ep,
            send: (e, signal) => e.store.listMultipartUploads({ bucket, prefix: key }, signal),
          });
          for (const u of listed.uploads) {
            const at = u.initiated?.getTime();
            if (u.key !== key || !u.uploadId || knownUploads.has(u.uploadId) || at === undefined) continue;
            if (at < fromMs - CLOCK_SLACK_MS || at > toMs + CLOCK_SLACK_MS) continue;
            await abortUpload(cleanup, bucket, { key, uploadId: u.uploadId, endpoint: ep, deadlineMs }, logger);
          }
        } catch (err) {
          logger.warn({ key, endpoint: ep.name, error: String(err) }, 'could not look for an upload left open by a cut CreateMultipartUpload; run `s3x cleanup-multipart` later');
        }
      }
    };

    /**
     * Every part, read and sent in slots. Resolves (or throws the first real failure) only once
     * every part has settled, so an abort that follows never races a part still in flight.
     */
    const sendParts = async (f: FileEntry, key: string, uploadId: string, plan: PartPlan, pinned: Endpoint | undefined, partMd5s: Buffer[]): Promise<SentParts> => {
      let partFailed = false;
      const enc: Encryption = {};
      const settled = await Promise.allSettled(Array.from({ length: plan.count }, (_, i) => slots.run(async (): Promise<UploadedPart> => {
        if (partFailed || runSignal.aborted) throw runSignal.aborted ? new Interrupted() : new AnotherPartFailed();
        const start = i * plan.partSizeBytes;
        const len = Math.min(plan.partSizeBytes, f.size - start);
        const range = { start, end: start + len - 1 };
        const digest = len > 0 ? await md5OfFile(f.path, range) : md5(Buffer.alloc(0));
        partMd5s[i] = digest;
        const contentMd5 = digest.toString('base64');
        const out = await engine.run({
          op: 'UploadPart', key, part: i + 1, bytes: len, bucket, ...(pinned && { endpoint: pinned }),
          send: async (ep, signal): Promise<{ etag: string | undefined; enc: Encryption }> => {
            const openBody = (): fs.ReadStream => fs.createReadStream(f.path, { ...range, highWaterMark: STREAM_CHUNK_BYTES });
            const r = await ep.store.uploadPart({ bucket, key, uploadId, partNumber: i + 1, contentLength: len, contentMd5, body: openBody }, signal);
            return { etag: r.etag, enc: encryption(r.sse, r.sseCustomerAlgorithm) };
          },
        });
        if (!out.etag) throw new Error(`UploadPart ${i + 1} of ${key} returned no ETag`);
        Object.assign(enc, out.enc);
        checkEtag(`${key} part ${i + 1}`, out.etag, digest.toString('hex'), out.enc);
        return { partNumber: i + 1, etag: out.etag };
      }, 'high').catch((err: unknown) => { partFailed = true; throw err; })));
      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
      if (failures.length > 0) throw failures.find((e) => !(e instanceof AnotherPartFailed)) ?? failures[0];
      return { parts: settled.map((s) => (s as PromiseFulfilledResult<UploadedPart>).value), enc };
    };

    /**
     * CompleteMultipartUpload, with a deadline sized for it. A retry refused as an unknown upload
     * (NoSuchUpload; RGW: 500) after an attempt that may have completed it asks HEAD whether the
     * object is the one these parts make.
     */
    const completeUpload = async (f: FileEntry, key: string, uploadId: string, sent: SentParts, pinned: Endpoint | undefined, expected: string): Promise<Stored> => {
      let attempt = 0;
      return slots.run(() => engine.run({
        op: 'CompleteMultipartUpload', key, bytes: 0, bucket, ...(pinned && { endpoint: pinned }),
        deadlineMs: controlDeadlineMs(Math.max(COMPLETE_MIN_DEADLINE_MS, sent.parts.length * COMPLETE_MS_PER_PART)),
        send: async (ep, signal): Promise<Stored> => {
          const first = attempt++ === 0;
          try {
            const out = await ep.store.completeMultipartUpload({ bucket, key, uploadId, parts: sent.parts }, signal);
            return { ep, etag: out.etag, enc: { ...sent.enc, ...encryption(out.sse) } };
          } catch (err) {
            const facts = errorFacts(err);
            if (first || !(facts.code === 'NoSuchUpload' || (facts.status ?? 0) >= 500)) throw err;
            const head = await ep.store.headObject({ bucket, key }, signal).catch(() => undefined);
            const enc = { ...sent.enc, ...encryption(head?.sse, head?.sseCustomerAlgorithm) };
            const etag = bareEtag(head?.etag);
            // encrypted: the ETag is no composite MD5; the part count, size and s3x's mtime must agree
            const ours = isEncrypted(enc)
              ? etag?.endsWith(`-${sent.parts.length}`) && head?.contentLength === f.size && head.metadata?.[MTIME_METADATA] === metadataFor(f)[MTIME_METADATA]
              : etag === expected;
            if (!ours) throw err;
            logger.info({ key, uploadId, code: facts.code }, 'an earlier CompleteMultipartUpload attempt completed the upload');
            return { ep, etag: head!.etag, enc };
          }
        },
      }), 'high');
    };

    /**
     * After Complete: the object's ETag is the composite of the parts' MD5s (not checkable when
     * encrypted), the file is still what was walked, and, when its ctime is so recent that a
     * further change could leave every timestamp as it was, every part is hashed again.
     */
    const checkCompleted = async (f: FileEntry, key: string, done: Stored, plan: PartPlan, partMd5s: Buffer[], pinned: Endpoint | undefined): Promise<void> => {
      const expected = multipartEtag(partMd5s);
      let etag = bareEtag(done.etag);
      let enc = done.enc;
      // Ceph RGW answers CompleteMultipartUpload with an empty ETag (an RGW bug): ask HEAD.
      if (!etag && !isEncrypted(enc)) {
        const head = await slots.run(() => engine.run({
          op: 'HeadObject', key, bytes: 0, bucket, kind: 'read', endpoint: pinned ?? done.ep,
          send: (ep, signal) => ep.store.headObject({ bucket, key }, signal),
        }), 'high');
        etag = bareEtag(head.etag);
        enc = { ...enc, ...encryption(head.sse, head.sseCustomerAlgorithm) };
      }
      if (!isEncrypted(enc) && etag !== expected) throw etagMismatch(key, etag, expected);
      await checkUnchanged(f);
      if (f.ctimeMs > startedWallMs - TIMESTAMP_SLACK_MS) {
        for (let i = 0; i < plan.count; i++) {
          const start = i * plan.partSizeBytes;
          const end = Math.min(f.size, start + plan.partSizeBytes) - 1;
          const now = end >= start ? await md5OfFile(f.path, { start, end }) : md5(Buffer.alloc(0));
          if (!now.equals(partMd5s[i]!)) throw fileChanged(f);
        }
      }
      if (opts.verify) await verifyObject(f, key, undefined, pinned ?? done.ep, true);
    };

    /** --verify: read the object back and compare its MD5 with the file's. */
    const verifyObject = async (f: FileEntry, key: string, expectedHex: string | undefined, pinned: Endpoint | undefined, takeSlot: boolean): Promise<void> => {
      const want = expectedHex ?? (await md5OfFile(f.path)).toString('hex');
      const read = (): Promise<string> => engine.run({
        op: 'GetObject', key, bytes: f.size, bucket, kind: 'read', ...(pinned && { endpoint: pinned }),
        send: async (ep, signal) => {
          const hash = crypto.createHash('md5');
          const res = await ep.store.getObject({ bucket, key }, signal);
          for await (const chunk of res.body) hash.update(chunk);
          return hash.digest('hex');
        },
      });
      const got = takeSlot ? await slots.run(read, 'high') : await read();
      if (got !== want) throw etagMismatch(key, got, want, 'read back');
    };

    // The walk feeds a bounded priority queue; the dispatcher takes the most urgent file first.
    const queue = new PriorityQueue<FileEntry>(opts.priorityWindow ?? 2_000);
    const rules = (opts.priorities ?? []).map((r) => ({ priority: r.priority, match: pathMatcher(r.glob) }));
    const priorityOf = (rel: string): Priority => rules.find((r) => r.match(rel))?.priority ?? 'NORMAL';
    const walking = (async () => {
      try {
        for await (const f of files) {
          progress.filesFound++;
          progress.bytesFound += f.size;
          if (runSignal.aborted) { notAttempted++; continue; }
          await queue.push(f, priorityOf(f.rel));
        }
        progress.walkDone = true;
      } finally {
        queue.close();
      }
    })();
    // Files in progress at once: enough to keep every slot busy while others read or wait.
    const filesGate = new Limiter(conn.concurrency * 2);
    const inProgress = new Set<Promise<void>>();
    // take a file from the queue only once it can start, so later HIGH files can overtake
    for (;;) {
      await filesGate.acquire();
      const f = await queue.shift();
      if (f === undefined) { filesGate.release(); break; }
      const key = keyFor(prefix, f.rel);
      // what is left in the map at the end has no local file
      const remoteObj = remoteMap?.get(key);
      remoteMap?.delete(key);
      if (!inShard(key)) { filesGate.release(); continue; }
      if (runSignal.aborted) { filesGate.release(); notAttempted++; continue; }
      const p = uploadOne(f, remoteObj).finally(() => { filesGate.release(); inProgress.delete(p); });
      inProgress.add(p);
      tick();
    }
    await walking;
    await Promise.all(inProgress);
    tick(true);
    if (remoteMap && opts.collectRemoteOnly && !progress.walkDone) {
      // the walk did not finish (interrupt, fatal): nothing can be said to be remote-only
      remoteOnlyKeys = undefined;
    } else if (remoteMap) {
      // what the walk did not find, among keys these filters and this shard would have taken,
      // and not at or under a path the walk could not read (a skipped link, an unreadable dir)
      const selected = remoteSelector(opts.include, opts.exclude, opts.dir);
      const unread = unreadSubtrees(prefix, problemRels);
      const listPrefix = prefix ? `${prefix}/` : '';
      const keys = [...remoteMap.keys()].filter((k) => k.startsWith(listPrefix) && !unread(k) && selected(k.slice(listPrefix.length)) && inShard(k));
      plan.remoteOnly = keys.length;
      if (opts.collectRemoteOnly) remoteOnlyKeys = keys;
    }
  } catch (err) {
    if (err instanceof FatalRunError) throw err;
    if (!(err instanceof Interrupted)) throw err;
  } finally {
    await files.return(undefined).catch(() => {});
    await walk.return(undefined).catch(() => {});
    // Open multipart uploads of a stopped run are aborted, so no storage is left behind.
    await Promise.all([...openUploads.values()].map((u) => abortUpload(cleanup, bucket, u, logger)));
    pool.destroy();
  }

  const wallMs = performance.now() - started;
  const interrupted = opts.signal?.aborted ?? false;
  return {
    bucket, prefix, dryRun: opts.dryRun ?? false, files: opts.dryRun ? plan.new + plan.changed : progress.filesDone, bytes: opts.dryRun ? plannedBytes : progress.bytesDone, wallMs,
    mbps: mbps(progress.bytesDone, wallMs), objectsPerSec: progress.filesDone / (wallMs / 1000),
    requests, retries,
    failed, skipped, notAttempted, interrupted, ...(fatal !== undefined && { fatal }),
    ...(opts.compare && { plan }), ...(remoteOnlyKeys && { remoteOnlyKeys, filesFound: progress.filesFound }),
    endpoints: endpointSummaries(pool, pool.mode === 'replicate' ? copies : undefined),
  };
}

/** Why the comparison listing failed, in one line: the cause as the preflight words it, or the last error. */
function describeListFailure(err: RequestFailed, bucket: string, listPrefix: string): string {
  const cause = err.decision === 'fatal' ? describeFatal(err, bucket, err.endpoint.label) : `${err.message}, after ${err.report.attempts} attempt${err.report.attempts === 1 ? '' : 's'} at ${err.endpoint.label}`;
  return `cannot list s3://${bucket}/${listPrefix} to compare with the local files (nothing was sent): ${cause}`;
}

/** "EACCES: permission denied, open '/x'" as Node says it, with the code in front once. */
function describeLocalError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e?.message ?? String(err);
  return e?.code && !message.startsWith(e.code) ? `${e.code}: ${message}` : message;
}

function fileChanged(f: FileEntry): Error {
  const e = new Error(`${f.rel} changed while it was being uploaded (size, mtime, ctime, inode or content differ from the walk); upload it again`) as NodeJS.ErrnoException;
  e.code = 'FileChanged';
  return e;
}

function etagMismatch(key: string, got: string | undefined, want: string, how = 'ETag'): Error {
  const e = new Error(`${key}: ${how} ${got ?? '(none)'} does not match the file's MD5 ${want}`) as NodeJS.ErrnoException;
  e.code = 'ETagMismatch';
  return e;
}

/** What a PUT, part or Complete answered: where, the ETag, and the encryption that decides what that ETag means. */
interface Stored { ep: Endpoint; etag: string | undefined; enc: Encryption }
/** x-amz-server-side-encryption and x-amz-server-side-encryption-customer-algorithm of an answer */
interface Encryption { sse?: string; sseCustomerAlgorithm?: string }
interface SentParts { parts: UploadedPart[]; enc: Encryption }
interface OpenUpload { key: string; uploadId: string; endpoint: Endpoint; deadlineMs: number }

/** Thrown by parts not sent because a sibling failed: never the error a file is reported with. */
class AnotherPartFailed extends Error {
  constructor() { super('another part failed'); }
}

function encryption(sse: string | undefined, sseCustomerAlgorithm?: string): Encryption {
  return { ...(sse && { sse }), ...(sseCustomerAlgorithm && { sseCustomerAlgorithm }) };
}

/**
 * SSE-KMS (aws:kms, aws:kms:dsse) and SSE-C objects have ETags that are not the MD5 of the
 * body (the same rule as download's md5FromEtag in src/ops/download.ts).
 */
function isEncrypted(enc: Encryption): boolean {
  return Boolean(enc.sseCustomerAlgorithm) || (enc.sse?.startsWith('aws:kms') ?? false);
}

/**
 * A single-part ETag that is an MD5 (32 hex digits) must be the body's MD5. Other ETags
 * (SSE-KMS, SSE-C, some gateways) are not checked: the server already checked Content-MD5.
 */
function checkEtag(key: string, etag: string | undefined, md5Hex: string, enc: Encryption): void {
  const bare = bareEtag(etag);
  if (isEncrypted(enc)) return;
  if (bare !== undefined && /^[0-9a-f]{32}$/.test(bare) && bare !== md5Hex) throw etagMismatch(key, bare, md5Hex);
}

/** Best effort, through the cleanup engine (not tied to the run's possibly aborted signal). */
async function abortUpload(cleanup: RequestEngine, bucket: string, u: OpenUpload, logger: typeof silentLogger): Promise<void> {
  try {
    await cleanup.run({
      op: 'AbortMultipartUpload', key: u.key, bytes: 0, endpoint: u.endpoint, deadlineMs: u.deadlineMs,
      send: (ep, signal) => ep.store.abortMultipartUpload({ bucket, key: u.key, uploadId: u.uploadId }, signal),
    });
    logger.info({ key: u.key, uploadId: u.uploadId }, 'aborted multipart upload');
  } catch (err) {
    logger.warn({ key: u.key, uploadId: u.uploadId, error: String(err) }, 'could not abort multipart upload; run `s3x cleanup-multipart` later');
  }
}

async function checkDir(dir: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `directory '${dir}' does not exist` : `cannot read directory '${dir}': ${code}`);
  }
  if (!st.isDirectory()) throw new UsageError(`'${dir}' is not a directory`);
  try {
    await fs.promises.access(dir, fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    throw new UsageError(`cannot read directory '${dir}': permission denied`);
  }
}

/** Shard membership by a hash of the key: stable across runs, machines and walk orders. */
export function shardOf(key: string, count: number): number {
  return crypto.createHash('md5').update(key).digest().readUInt32BE(0) % count;
}

function shardFilter(shard: { index: number; count: number } | undefined): (key: string) => boolean {
  if (!shard) return () => true;
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 1 || shard.index > shard.count) {
    throw new UsageError(`--shard must be k/n with 1 ≤ k ≤ n, got ${shard.index}/${shard.count}`);
  }
  return (key) => shardOf(key, shard.count) === shard.index - 1;
}

/** Would --include/--exclude select this relative path? The walk's own reading (src/fs/select.ts). */
function remoteSelector(include: string[] | undefined, exclude: string[] | undefined, dir: string): (rel: string) => boolean {
  return pathSelector({ include, exclude, root: path.resolve(dir) });
}

/** Is this key at or below the key of a path the walk could not read ('.' = the root itself)? */
function unreadSubtrees(prefix: string, rels: readonly string[]): (key: string) => boolean {
  if (rels.includes('.')) return () => true;
  const roots = new Set(rels.map((rel) => keyFor(prefix, rel)));
  return (key) => {
    if (roots.has(key)) return true;
    for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) if (roots.has(key.slice(0, i))) return true;
    return false;
  };
}

/**
 * The ETag s3x would have produced for this file: the MD5 for a single PUT, the composite
 * "md5-of-part-md5s-N" for a multipart upload with s3x's part size. When the remote ETag says
 * multipart with another part count, that count's part size is tried (same planning rule).
 */
async function localEtag(f: FileEntry, thresholdBytes: number, partSizeBytes: number, remoteEtag: string | undefined): Promise<string> {
  const remoteParts = remoteEtag && /-(\d+)$/.exec(remoteEtag);
  if (!remoteParts && f.size < thresholdBytes) return (await md5OfFile(f.path)).toString('hex');
  let plan = planParts(f.size, partSizeBytes);
  if (remoteParts && Number(remoteParts[1]) !== plan.count) {
    const n = Number(remoteParts[1]);
    const ps = Math.ceil(f.size / n / MIB) * MIB;
    plan = { partSizeBytes: ps, count: Math.ceil(f.size / ps) };
  }
  if (!remoteParts) return (await md5OfFile(f.path)).toString('hex');
  const parts: Buffer[] = [];
  for (let i = 0; i < plan.count; i++) {
    const start = i * plan.partSizeBytes;
    parts.push(await md5OfFile(f.path, { start, end: Math.min(f.size, start + plan.partSizeBytes) - 1 }));
  }
  return multipartEtag(parts);
}
