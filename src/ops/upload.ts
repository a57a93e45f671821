/**
 * `upload`: walk a directory and send every file to bucket/prefix, small files as one
 * PutObject (./put-object.ts), large ones as multipart uploads (./multipart-upload.ts) whose
 * parts share the same request slots. Every request goes through the RequestEngine (deadline,
 * retry, report). With `compare`, the walk is sorted in key order and merged with the listing
 * (./key-join.ts): only new or changed files are sent (./compare.ts).
 *
 * Memory: at most `concurrency` requests in flight; a file under 1 MiB is read once into a
 * buffer inside its slot, hashed, and that buffer is the body of every attempt. A larger file,
 * and every part, is hashed first, then read afresh per attempt through recycled chunks
 * (../fs/file-range.ts; Content-MD5 makes the server refuse bytes that changed in between). So
 * memory is bounded by slots × (1 MiB + two chunks) plus socket buffers, whatever the files.
 */
import fs from 'node:fs';
import { resolveConnection, resolveMultipart, type ConnectionOptions } from '../config/options.js';
import { mbps } from '../config/units.js';
import { planParts } from '../config/multipart.js';
import { headerRulesOf, headersPlan, type HeadersFor } from '../config/header-rules.js';
import type { ObjectHeaders } from '../config/object-headers.js';
import { describeLocalError, UsageError } from '../errors.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { keyFor, normalizePrefix } from '../fs/keys.js';
import { KeyCollisionGuard } from '../fs/key-collisions.js';
import type { SpilledList } from '../fs/key-order.js';
import { walkFiles, type FileEntry, type WalkProblem } from '../fs/walk.js';
import { pathMatcher } from '../fs/glob.js';
import { silentLogger, type Logger } from '../logger.js';
import type { ProgressTicker } from '../run/progress.js';
import { Run } from '../run/run.js';
import type { RunTotals } from '../run/summary.js';
import { Interrupted, RequestFailed, type RequestReport } from '../engine/request.js';
import { PriorityQueue, type Priority } from '../engine/priority-queue.js';
import type { ListedObject } from './list.js';
import { classifier, openListing, type Classifier } from './compare.js';
import { ListingJoin, type Joined } from './key-join.js';
import { MultipartUpload, OpenUploads, type MultipartContext, type ResumeSummary } from './multipart-upload.js';
import { putFile } from './put-object.js';
import { shardFilter, type Shard } from './shard.js';

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
   * compare with what is already under the prefix (merged in key order) and send only what differs:
   *   size        – a key of the same size counts as there (`--skip-existing`)
   *   size-mtime  – and the file's mtime is not newer than the object's LastModified (sync)
   *   checksum    – and the file's MD5 equals the object's ETag (single-part, or the composite
   *                 ETag recomputed from s3x's part size)
   */
  compare?: 'size' | 'size-mtime' | 'checksum';
  /**
   * before a multipart Create, continue an open upload of the key whose parts fit (./resume.ts),
   * sending only the parts missing or different; a stopped run leaves its uploads holding parts
   * open for the next. Default false (sync: true)
   */
  resume?: boolean;
  /** with `compare`: also return the keys under the prefix with no local file (sync --delete) */
  collectRemoteOnly?: boolean;
  /** take only the files of shard `index` of `count` (1-based): a hash of the key decides */
  shard?: Shard;
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
  /**
   * headers of every object (--content-type, --cache-control, --metadata, --sse-c…); the config
   * file's `headers` rules override them per file (src/config/header-rules.ts)
   */
  headers?: ObjectHeaders;
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
  /**
   * with `collectRemoteOnly`: keys under the prefix, selected by the same filters and shard, with
   * no local file, in key order (on disk past 10,000: call dispose() when done)
   */
  remoteOnlyKeys?: SpilledList;
  /** with `collectRemoteOnly`: files the walk found (selected by the filters, before --shard) */
  filesFound?: number;
  /** with `resume`: uploads continued, parts kept, open uploads passed over or left open */
  resume?: ResumeSummary;
}

export async function upload(opts: UploadOptions): Promise<UploadSummary> {
  if (opts.dryRun && !opts.compare) return planOnly(opts, await resolveUpload(opts));
  const run = Run.open(opts, opts.bucket, { onReport: opts.onReport });
  try {
    return await uploadOn(run, opts);
  } finally {
    run.close();
  }
}

/** upload() on a run the caller opened and closes (sync: its delete phase goes on the same run). */
export async function uploadOn(run: Run, opts: UploadOptions): Promise<UploadSummary> {
  const s = await resolveUpload(opts);
  const tally = new Tally();
  return new UploadRun(run, opts, s, tally, openTree(opts, s, tally)).execute();
}

/** The options, checked once for every caller (CLI or library). */
interface Resolved {
  partSizeBytes: number;
  thresholdBytes: number;
  logger: Logger;
  bucket: string;
  prefix: string;
  inShard: (key: string) => boolean;
  windowFiles: number;
  /** undefined: no header flag and no rule (the extension's Content-Type and s3x-mtime only) */
  headersFor: HeadersFor | undefined;
}

async function resolveUpload(opts: UploadOptions): Promise<Resolved> {
  resolveConnection(opts); // checked in a dry run too
  const { partSizeBytes, thresholdBytes } = resolveMultipart(opts.partSizeBytes, opts.multipartThresholdBytes);
  const logger = opts.logger ?? silentLogger;
  const bucket = opts.bucket;
  if (!bucket) throw new UsageError('a bucket name is required');
  const prefix = normalizePrefix(opts.prefix);
  await checkDir(opts.dir);
  const inShard = shardFilter(opts.shard);
  const windowFiles = opts.priorityWindow ?? 2_000;
  // a window of 0 would never let the walk hand over a file
  if (!Number.isInteger(windowFiles) || windowFiles < 1) throw new UsageError(`priorityWindow must be a whole number ≥ 1, got ${windowFiles}`);
  const rules = headerRulesOf(opts.configFile);
  const headersFor = opts.headers || rules.length > 0 ? headersPlan(opts.headers ?? {}, rules) : undefined;
  return { partSizeBytes, thresholdBytes, logger, bucket, prefix, inShard, windowFiles, headersFor };
}

/** What the run found and did so far: the summary's counts and failures, and the progress. */
class Tally {
  readonly failed: FailedFile[] = [];
  readonly skipped: WalkProblem[] = [];
  readonly progress: UploadProgress = { filesFound: 0, bytesFound: 0, walkDone: false, filesDone: 0, filesFailed: 0, bytesDone: 0, elapsedMs: 0 };
  /** with `compare`: what the comparison found */
  readonly plan = { new: 0, changed: 0, unchanged: 0, remoteOnly: 0 };
  /** with `compare` and dryRun: bytes that would be sent */
  plannedBytes = 0;
}

/** The walk, behind the key-collision guard. */
interface Tree {
  walk: AsyncGenerator<FileEntry>;
  /** the walk's files, minus those two of which would go to one key */
  files: AsyncGenerator<FileEntry>;
  /** paths the walk met but did not upload, or could not look under: nothing at or below them is "remote-only" */
  problemRels: string[];
}

function openTree(opts: UploadOptions, s: Resolved, tally: Tally): Tree {
  const { logger } = s;
  const problemRels: string[] = [];
  const onProblem = (p: WalkProblem): void => {
    problemRels.push(p.rel);
    if (p.kind === 'failed') {
      tally.failed.push({ path: p.rel, error: p.reason });
      tally.progress.filesFailed++;
    } else tally.skipped.push(p);
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
  // two local files never go to one key: both are refused, by name (counted as failed)
  const files = keyGuard.filter(walk, (p) => {
    if (s.inShard(keyFor(s.prefix, p.file.rel))) onProblem({ rel: p.file.rel, reason: p.reason, kind: 'failed' });
  });
  return { walk, files, problemRels };
}

/** dryRun without a comparison: the walk alone says what would be sent; no request. */
async function planOnly(opts: UploadOptions, s: Resolved): Promise<UploadSummary> {
  const startedMs = performance.now();
  const { bucket, prefix, thresholdBytes, partSizeBytes } = s;
  const tally = new Tally();
  const { progress, failed, skipped } = tally;
  for await (const f of openTree(opts, s, tally).files) {
    const key = keyFor(prefix, f.rel);
    if (!s.inShard(key)) continue;
    const multipart = f.size >= thresholdBytes;
    opts.onPlan?.({ path: f.rel, key, bytes: f.size, multipart, parts: multipart ? planParts(f.size, partSizeBytes).count : 1 });
    progress.filesFound++;
    progress.bytesFound += f.size;
  }
  return {
    bucket, prefix, dryRun: true, files: progress.filesFound, bytes: progress.bytesFound, wallMs: performance.now() - startedMs, mbps: 0, objectsPerSec: 0,
    requests: 0, retries: 0, hedged: 0, hedgeWon: 0, hedgeBytes: 0, failed, skipped, notAttempted: 0, interrupted: false, endpoints: [],
  };
}

/** Upload on a run: preflight, the comparison listing, the dispatch of every file, the summary. */
class UploadRun {
  private readonly uploads: OpenUploads;
  private readonly ctx: MultipartContext;
  private readonly ticker: ProgressTicker<UploadProgress>;
  /** replicate mode: copies per endpoint */
  private readonly copies: Map<Endpoint, { ok: number; failed: number }>;
  /** replicate: one copy per endpoint, each pinned to its endpoint; otherwise the pool routes */
  private readonly targets: Array<Endpoint | undefined>;
  private classify: Classifier | undefined;

  constructor(private readonly run: Run, private readonly opts: UploadOptions, private readonly s: Resolved, private readonly tally: Tally, private readonly tree: Tree) {
    const { conn, pool } = run;
    this.uploads = new OpenUploads(opts.resume ?? false);
    this.ctx = {
      engine: run.engine, cleanup: run.cleanup, slots: run.slots, bucket: s.bucket, logger: run.logger, verify: opts.verify ?? false,
      signal: run.signal, startedWallMs: run.startedWallMs, deadlineBoundsMs: { minMs: conn.estimator.minMs, maxMs: conn.estimator.maxMs },
      sharedStorage: pool.sharedStorage, uploads: this.uploads, ...(s.headersFor && { headersFor: s.headersFor }),
    };
    this.ticker = run.ticker(tally.progress, opts.onProgress);
    this.copies = new Map(pool.endpoints.map((e) => [e, { ok: 0, failed: 0 }]));
    this.targets = pool.mode === 'replicate' ? [...pool.endpoints] : [undefined];
  }

  private tick(force = false): void { this.ticker.tick(force); }

  async execute(): Promise<UploadSummary> {
    const { opts, s, tree, run } = this;
    let remoteOnly: SpilledList | undefined;
    let join: ListingJoin | undefined;
    try {
      await run.preflight();
      let found = unjoined(tree.files, s.prefix);
      if (opts.compare) {
        const listing = await openListing(run.engine, s.bucket, s.prefix ? `${s.prefix}/` : '');
        this.classify = classifier(opts.compare, s.partSizeBytes);
        join = new ListingJoin(run, {
          prefix: s.prefix, dir: opts.dir, include: opts.include, exclude: opts.exclude, unreadRels: tree.problemRels, inShard: s.inShard,
        }, opts.collectRemoteOnly ?? false);
        found = join.files(tree.files, listing);
      }
      await this.dispatch(found);
      if (join) remoteOnly = this.remoteOnly(join);
      if (join?.remoteOnlyKeys !== remoteOnly) join?.remoteOnlyKeys.dispose();
    } catch (err) {
      join?.remoteOnlyKeys.dispose();
      if (!(err instanceof Interrupted)) throw err;
    } finally {
      await tree.files.return(undefined).catch(() => {});
      await tree.walk.return(undefined).catch(() => {});
      // Open multipart uploads of a stopped run are aborted, so no storage is left behind (--resume: see OpenUploads).
      await this.uploads.abortAll(run.cleanup, s.bucket, run.logger);
    }
    return this.summary(remoteOnly);
  }

  /**
   * The walk (with `compare`: joined with the listing) feeds a bounded priority queue; the
   * dispatcher takes the most urgent file first.
   */
  private async dispatch(found: AsyncIterable<Joined<FileEntry>>): Promise<void> {
    const { s, run } = this;
    const queue = new PriorityQueue<Joined<FileEntry>>(s.windowFiles);
    const walking = this.feed(queue, found);
    // Files in progress at once: enough to keep every slot busy while others read or wait.
    const files = run.dispatch(run.conn.concurrency * 2);
    // take a file from the queue only once it can start, so later HIGH files can overtake
    for (;;) {
      await files.wait();
      const next = await queue.shift();
      if (next === undefined) { files.giveBack(); break; }
      if (!s.inShard(next.key)) { files.giveBack(); continue; }
      if (files.start(() => this.uploadOne(next.local, next.key, next.remote))) this.tick();
    }
    await walking;
    await files.drain();
    this.tick(true);
  }

  /** The walk into the queue, by priority; closes the queue when the walk ends (or throws). */
  private async feed(queue: PriorityQueue<Joined<FileEntry>>, found: AsyncIterable<Joined<FileEntry>>): Promise<void> {
    const { opts, tally } = this;
    const rules = (opts.priorities ?? []).map((r) => ({ priority: r.priority, match: pathMatcher(r.glob) }));
    const priorityOf = (rel: string): Priority => rules.find((r) => r.match(rel))?.priority ?? 'NORMAL';
    try {
      for await (const next of found) {
        const f = next.local;
        tally.progress.filesFound++;
        tally.progress.bytesFound += f.size;
        if (this.run.signal.aborted) { this.run.notAttempted++; continue; }
        await queue.push(next, priorityOf(f.rel));
      }
      tally.progress.walkDone = true;
    } finally {
      queue.close();
    }
  }

  /**
   * The keys no local file met that the same filters and shard would have taken (plan.remoteOnly);
   * returned with `collectRemoteOnly`, unless the walk or the listing did not finish (interrupt,
   * fatal): then nothing can be said to be remote-only.
   */
  private remoteOnly(join: ListingJoin): SpilledList | undefined {
    const { opts, tally } = this;
    tally.plan.remoteOnly = join.remoteOnlyCount;
    if (!opts.collectRemoteOnly || !tally.progress.walkDone || !join.complete) return undefined;
    return join.remoteOnlyKeys;
  }

  private async uploadOne(f: FileEntry, key: string, remoteObj: ListedObject | undefined): Promise<void> {
    const { tally, s, targets } = this;
    if (this.classify && !(await this.compareFirst(f, key, remoteObj))) return;
    // one target but in replicate mode: no array of promises per file
    const results = targets.length === 1 ? [await this.sendCopy(f, key, targets[0])] : await Promise.all(targets.map((target) => this.sendCopy(f, key, target)));
    if (results.every((r) => r === 'ok')) {
      tally.progress.filesDone++;
      tally.progress.bytesDone += f.size;
      s.logger.debug({ path: f.rel, key, bytes: f.size }, 'uploaded');
    } else if (results.includes('failed')) {
      tally.progress.filesFailed++;
    }
    this.tick();
  }

  /** With `compare`: classifies the file; true when it is to be sent now (new or changed, not a dry run). */
  private async compareFirst(f: FileEntry, key: string, remoteObj: ListedObject | undefined): Promise<boolean> {
    const { opts, s, tally } = this;
    let status: 'new' | 'changed' | 'unchanged';
    try {
      status = await this.classify!(f, remoteObj);
    } catch (err) {
      this.fail(f, key, err);
      tally.progress.filesFailed++;
      return false;
    }
    tally.plan[status]++;
    if (status === 'unchanged') { this.tick(); return false; }
    if (!opts.dryRun) return true;
    tally.plannedBytes += f.size;
    const multipart = f.size >= s.thresholdBytes;
    opts.onPlan?.({ path: f.rel, key, bytes: f.size, multipart, parts: multipart ? planParts(f.size, s.partSizeBytes).count : 1, status });
    return false;
  }

  /** One copy of the file: to `target` (replicate) or where the pool routes it. */
  private async sendCopy(f: FileEntry, key: string, target: Endpoint | undefined): Promise<'ok' | 'interrupted' | 'failed'> {
    const { ctx, s } = this;
    try {
      if (f.size >= s.thresholdBytes) await new MultipartUpload(ctx, f, key, target, s.partSizeBytes).run();
      else await ctx.slots.run(() => putFile(ctx, f, key, target));
      if (target) this.copies.get(target)!.ok++;
      return 'ok';
    } catch (err) {
      if (err instanceof Interrupted) { this.run.notAttempted++; return 'interrupted'; }
      if (target) this.copies.get(target)!.failed++;
      this.fail(f, key, err, target);
      return 'failed';
    }
  }

  /** Records a failed file; a fatal failure stops the run (the first one names why). */
  private fail(f: FileEntry, key: string, err: unknown, target?: Endpoint): void {
    const { s } = this;
    this.run.stopIfFatal(err);
    const message = err instanceof RequestFailed ? err.message : describeLocalError(err);
    this.tally.failed.push({ path: f.rel, key, ...(target && { endpoint: target.name }), error: message });
    s.logger.warn({ path: f.rel, key, endpoint: target?.name, error: message }, 'upload failed');
  }

  private summary(remoteOnly: SpilledList | undefined): UploadSummary {
    const { opts, s, tally, run } = this;
    const { progress, plan } = tally;
    const t = run.totals(progress.filesDone, run.pool.mode === 'replicate' ? this.copies : undefined);
    return {
      bucket: s.bucket, prefix: s.prefix, dryRun: opts.dryRun ?? false,
      files: opts.dryRun ? plan.new + plan.changed : progress.filesDone, bytes: opts.dryRun ? tally.plannedBytes : progress.bytesDone, wallMs: t.wallMs,
      mbps: mbps(progress.bytesDone, t.wallMs), objectsPerSec: t.objectsPerSec, requests: t.requests, retries: t.retries,
      hedged: t.hedged, hedgeWon: t.hedgeWon, hedgeBytes: t.hedgeBytes,
      failed: tally.failed, skipped: tally.skipped, notAttempted: t.notAttempted, interrupted: t.interrupted,
      ...(t.fatal !== undefined && { fatal: t.fatal }),
      ...(opts.compare && { plan }), ...(remoteOnly && { remoteOnlyKeys: remoteOnly, filesFound: progress.filesFound }),
      ...(this.uploads.resume && { resume: this.uploads.resumed }),
      endpoints: t.endpoints,
    };
  }
}

/** The walk's files as the dispatch takes them, with no listing to compare against. */
async function* unjoined(files: AsyncIterable<FileEntry>, prefix: string): AsyncGenerator<Joined<FileEntry>> {
  for await (const f of files) yield { local: f, key: keyFor(prefix, f.rel), remote: undefined };
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
