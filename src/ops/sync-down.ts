/**
 * `sync s3://bucket/prefix <dir>`: bring a local directory up to date with a prefix. The walk
 * (sorted in key order) and the listing are merged page by page (./key-join.ts outerJoinByKey):
 * an object with no file is new, one whose file differs is changed, and both are downloaded by
 * download.ts's Downloader (temporary file + rename, MD5 check, no path escape, mtime set to the
 * object's LastModified so the next run sees it unchanged). A file with no object is local-only.
 *
 * Changed means (aws-cli's rules for S3 → local): the size differs, or the object's LastModified
 * is newer than the file's mtime, both in whole seconds (a GET's Last-Modified has no
 * milliseconds); `exact-timestamps`: any other second; `size`: the size alone; `checksum`: the
 * file's MD5 (or composite ETag, ./compare.ts localEtag) against the ETag.
 *
 * `delete` removes the local-only files, and only when nothing went wrong: every download done,
 * the listing and the walk complete, no local path unreadable, not interrupted. Only regular
 * files the walk selected (the same --include/--exclude/--shard as the objects), each checked
 * again right before (still that file, its directory no link): never a directory, a symlink or
 * what it points to. No object selected under the prefix while local files are: refused unless
 * `deleteAll` (the local directory would be emptied).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SseCustomerKey } from '../config/object-headers.js';
import { resolveConnection, resolveMultipart, type ConnectionOptions } from '../config/options.js';
import { describeLocalError, UsageError } from '../errors.js';
import type { RequestReport } from '../engine/request.js';
import { SpilledList } from '../fs/key-order.js';
import { selectKeys, type KeySelection } from '../fs/key-prefix.js';
import { keyFor, normalizePrefix } from '../fs/keys.js';
import { bareEtag } from '../fs/md5.js';
import { refusedError } from '../fs/safe-dirs.js';
import { resolveInside, safeRelativePath } from '../fs/safe-path.js';
import { pathSelector } from '../fs/select.js';
import { walkFiles, type FileEntry, type WalkProblem } from '../fs/walk.js';
import { Run } from '../run/run.js';
import { localEtag, openListing } from './compare.js';
import { verifiedThreshold } from './fetch-mode.js';
import { Downloader, plannedDir, TMP_MARK, type DownloadProgress, type DownloadSummary, type FailedObject } from './download.js';
import { outerJoinByKey, sortedWalk, walkedFileLine, type Paired } from './key-join.js';
import { stopOnListingFailure, type ListedObject } from './list.js';
import { unreadSubtrees } from './remote-only.js';
import { shardFilter, type Shard } from './shard.js';

/** download.ts's temporary files (`<name>.s3x-tmp-<8 hex run id><counter>`): a killed run's are neither synced nor deleted. */
const S3X_TEMP = new RegExp(`${TMP_MARK.replace(/[.]/g, '\\.')}[0-9a-f]{8}[0-9a-z]+$`);
/** as src/fs/walk.ts: a name the walk refuses, so a file made from it could never be compared again */
const LINE_BREAK = /[\r\n\u2028\u2029]/;

export type DownComparison = 'size-mtime' | 'exact-timestamps' | 'size' | 'checksum';

export interface SyncDownOptions extends ConnectionOptions {
  bucket: string;
  /** folder rule: `p` selects `p/…`; local paths are relative to it */
  prefix?: string;
  /** local directory, created if missing (not in a dry run) */
  dir: string;
  /** globs read as the upload direction reads them, on the path relative to the prefix */
  include?: string[];
  exclude?: string[];
  shard?: Shard;
  /** default 'size-mtime' */
  compare?: DownComparison;
  /** remove local-only files (after every download succeeded) */
  delete?: boolean;
  /** `delete`, even when no object is selected under the prefix */
  deleteAll?: boolean;
  dryRun?: boolean;
  /** compare the MD5 of single-part objects with their ETag; default true */
  verify?: boolean;
  /** the key of objects stored with SSE-C (on every GET) */
  sseC?: SseCustomerKey;
  partSizeBytes?: number;
  multipartThresholdBytes?: number;
  onReport?: (r: RequestReport) => void;
  onProgress?: (p: DownloadProgress) => void;
  /** with dryRun: one call per object that would be downloaded */
  onPlan?: (p: PlannedDownload) => void;
  /** with dryRun and delete: one call per local file that would be deleted (relative path) */
  onPlanDelete?: (rel: string) => void;
}

export interface PlannedDownload { key: string; path: string; bytes: number; status: 'new' | 'changed' }

export interface SyncDownSummary extends DownloadSummary {
  dryRun: boolean;
  plan: { new: number; changed: number; unchanged: number; localOnly: number };
  /** local files removed by delete (dryRun: that would be) */
  deleted: number;
  deleteFailed: Array<{ path: string; error: string }>;
  /** why delete removed nothing although there were local-only files */
  deleteSkipped?: string;
  /** local paths the walk left alone (symlinks, special files): never written over, never deleted */
  skippedLocal: WalkProblem[];
}

export async function syncDown(opts: SyncDownOptions): Promise<SyncDownSummary> {
  if (!opts.bucket) throw new UsageError('a bucket name is required');
  if (!opts.dir) throw new UsageError('a local directory is required');
  const { partSizeBytes, thresholdBytes } = resolveMultipart(opts.partSizeBytes, opts.multipartThresholdBytes);
  if ((opts.delete || opts.deleteAll) && isFallback(opts)) {
    throw new UsageError('--mode fallback: sync s3://… <dir> --delete is refused: the listing skips a store that fails, so a file whose object is there would look local-only; name one store with --endpoint-url, or use --mode pool/replicate');
  }
  const sel = selectKeys(normalizePrefix(opts.prefix));
  // a dry run creates nothing: a missing directory is an empty one
  const local = opts.dryRun ? undefined : await plannedDir(opts.dir);
  const root = local ? local.root : await existingDir(opts.dir);
  const run = Run.open(opts, opts.bucket, { onReport: opts.onReport });
  const s = new SyncDown(run, opts, sel, root, { partSizeBytes, thresholdBytes, verifiedThresholdBytes: verifiedThreshold(opts.multipartThresholdBytes) });
  try {
    await run.preflight();
    // made once the bucket has answered: a refused run leaves nothing behind
    await local?.make();
    await s.merge();
  } catch (err) {
    s.discard();
    throw err;
  } finally {
    await s.settle();
    run.close();
  }
  return s.finish();
}

/** Fallback mode over several stores: list.ts mergeStores leaves out a store that fails. */
function isFallback(opts: ConnectionOptions): boolean {
  const { pool } = resolveConnection(opts);
  return pool.mode === 'fallback' && pool.endpoints.length > 1;
}

/** The real path of `dir`, or undefined when it does not exist. */
async function existingDir(dir: string): Promise<string | undefined> {
  const st = await fs.promises.stat(dir).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isDirectory()) throw new UsageError(`'${dir}' is not a directory`);
  return fs.promises.realpath(dir);
}

/** One run of the download direction: the merge, the downloads, the delete step. */
class SyncDown {
  private readonly plan = { new: 0, changed: 0, unchanged: 0, localOnly: 0 };
  private readonly deleting: boolean;
  private readonly downloader: Downloader | undefined;
  private readonly inShard: (key: string) => boolean;
  /** local paths the walk could not look at or under, and those it failed to read */
  private readonly unreadRels: string[] = [];
  private readonly walkFailed: WalkProblem[] = [];
  private readonly skippedLocal: WalkProblem[] = [];
  /** objects refused or not compared here (the Downloader names its own) */
  private readonly failed: FailedObject[] = [];
  /** local-only files, as walked (walkedFileLine): the delete step's candidates */
  private readonly candidates = new SpilledList();
  /** objects selected under the prefix: none while local files are → refuse to empty the dir */
  private remoteSelected = 0;
  private listingComplete = false;
  private plannedBytes = 0;
  private plannedFiles = 0;
  private selectRemote: ((key: string) => 'take' | 'unread' | 'skip') | undefined;

  constructor(
    private readonly run: Run, private readonly opts: SyncDownOptions, private readonly sel: KeySelection,
    private readonly root: string | undefined, private readonly sizes: { partSizeBytes: number; thresholdBytes: number; verifiedThresholdBytes?: number },
  ) {
    this.deleting = (opts.delete ?? false) || (opts.deleteAll ?? false);
    this.inShard = shardFilter(opts.shard);
    if (!opts.dryRun && root !== undefined) {
      this.downloader = new Downloader(run, { ...opts, skipExisting: false }, { root, sel, verify: opts.verify ?? true, ...sizes });
    }
  }

  private get folder(): string { return this.sel.prefix.slice(0, -1); }

  /** The walk and the listing merged in key order, each pair acted on; a listing failure stops the run. */
  async merge(): Promise<void> {
    const listing = this.guarded(await openListing(this.run.engine, this.run.bucket, this.sel.prefix));
    try {
      for await (const pair of outerJoinByKey(sortedWalk(this.walk(), this.root ?? '.', this.folder), listing)) {
        await this.onPair(pair);
        if (this.run.signal.aborted) break;
      }
    } finally {
      await listing.return(undefined);
    }
    await this.downloader?.drain();
  }

  /** The selected local files (the walk's filters, then the shard); s3x's own temporary files left out. */
  private async *walk(): AsyncGenerator<FileEntry> {
    if (this.root === undefined) return;
    const onProblem = (p: WalkProblem): void => {
      this.unreadRels.push(p.rel);
      (p.kind === 'failed' ? this.walkFailed : this.skippedLocal).push(p);
    };
    const { include, exclude } = this.opts;
    for await (const f of walkFiles(this.root, { ...(include && { include }), ...(exclude && { exclude }), followSymlinks: false, onProblem, onUnread: (rel) => this.unreadRels.push(rel) })) {
      if (!S3X_TEMP.test(f.rel) && this.inShard(keyFor(this.folder, f.rel))) yield f;
    }
  }

  /**
   * The listing, ended early when it fails (the run is stopped: list.ts stopOnListingFailure)
   * or the run stops; `listingComplete` only when read to its end.
   */
  private async *guarded(listing: AsyncGenerator<ListedObject[]>): AsyncGenerator<ListedObject[]> {
    try {
      for await (const page of listing) {
        if (this.run.signal.aborted) return;
        yield page;
      }
      this.listingComplete = true;
    } catch (err) {
      stopOnListingFailure(this.run, err, this.sel.prefix);
    }
  }

  /** Would the same filters take this object, and can s3x write where it goes? Built once the walk is over. */
  private remoteSelector(): (key: string) => 'take' | 'unread' | 'skip' {
    const { include, exclude } = this.opts;
    const selected = pathSelector({ include, exclude, root: path.resolve(this.root ?? this.opts.dir) });
    const unread = unreadSubtrees(this.folder, this.unreadRels);
    return (key) => {
      if (!key.startsWith(this.sel.prefix) || key.endsWith('/')) return 'skip'; // folder markers: no file to sync
      if (!selected(key.slice(this.sel.prefix.length)) || !this.inShard(key)) return 'skip';
      return unread(key) ? 'unread' : 'take';
    };
  }

  private async onPair({ local, remote }: Paired<FileEntry>): Promise<void> {
    this.selectRemote ??= this.remoteSelector();
    const how = remote === undefined ? 'skip' : this.selectRemote(remote.key);
    if (how !== 'skip') this.remoteSelected++;
    if (local === undefined) {
      if (remote !== undefined && how !== 'skip') await this.fetch(remote, 'new', how);
      return;
    }
    if (remote === undefined) {
      this.plan.localOnly++;
      if (this.deleting) this.candidates.push(walkedFileLine.to(local));
      return;
    }
    // an object is there, even one not selected: the file is never a delete candidate
    if (how === 'skip') return;
    let status: 'changed' | 'unchanged';
    try {
      status = await this.classify(local, remote);
    } catch (err) {
      this.failed.push({ key: remote.key, path: local.rel, error: describeLocalError(err) });
      return;
    }
    if (status === 'unchanged') this.plan.unchanged++;
    else await this.fetch(remote, 'changed', how);
  }

  /** changed / unchanged of a file against the object under its key. */
  private async classify(f: FileEntry, o: ListedObject): Promise<'changed' | 'unchanged'> {
    if (f.size !== o.bytes) return 'changed';
    const compare = this.opts.compare ?? 'size-mtime';
    if (compare === 'size') return 'unchanged';
    if (compare === 'checksum') {
      const remote = bareEtag(o.etag);
      return remote !== undefined && (await localEtag(f, this.sizes.partSizeBytes, remote)) === remote ? 'unchanged' : 'changed';
    }
    if (o.lastModified === undefined) return 'changed';
    const remoteSec = Math.floor(o.lastModified.getTime() / 1000);
    const localSec = Math.floor(f.mtimeMs / 1000);
    return (compare === 'exact-timestamps' ? remoteSec !== localSec : remoteSec > localSec) ? 'changed' : 'unchanged';
  }

  /** A new or changed object: refused, planned (dry run) or handed to the Downloader. */
  private async fetch(o: ListedObject, status: 'new' | 'changed', how: 'take' | 'unread'): Promise<void> {
    this.plan[status]++;
    const rel = o.key.slice(this.sel.prefix.length);
    const mapped = safeRelativePath(rel);
    if (!mapped.ok) return this.refuse(o, rel, refusedError(mapped.reason).message);
    if (LINE_BREAK.test(rel)) return this.refuse(o, rel, 'refused: the key contains a line break (CR, LF, U+2028 or U+2029), which sync does not support as a file name');
    if (how === 'unread') return this.refuse(o, rel, 'refused: it is at or under a local path s3x could not read (a symbolic link, an unreadable directory); s3x never writes there');
    if (this.opts.dryRun) {
      this.plannedBytes += o.bytes;
      this.plannedFiles++;
      this.opts.onPlan?.({ key: o.key, path: rel, bytes: o.bytes, status });
      return;
    }
    await this.downloader!.take(o);
  }

  private refuse(o: ListedObject, rel: string, error: string): void {
    this.failed.push({ key: o.key, path: rel, error });
    this.run.logger.warn({ key: o.key, path: rel, error }, 'not downloaded');
  }

  /** A run that threw: the spilled candidates removed (finish() does it otherwise). */
  discard(): void {
    this.candidates.dispose();
  }

  async settle(): Promise<void> {
    await this.downloader?.settle();
  }

  /** The summary, after the delete step (when asked for and safe). */
  async finish(): Promise<SyncDownSummary> {
    try {
      const summary = this.summary();
      if (!this.deleting || this.plan.localOnly === 0) return summary;
      if (!this.opts.deleteAll && this.remoteSelected === 0) {
        throw new UsageError(`sync --delete: no object under s3://${this.run.bucket}/${this.sel.prefix} (none, or all excluded), so all ${this.plan.localOnly} local files in '${this.opts.dir}' would be deleted; nothing was deleted (pass --delete-all to mean it)`);
      }
      const why = this.whyKeep(summary);
      const n = this.plan.localOnly;
      if (why !== undefined) summary.deleteSkipped = `${n} local-only file${n === 1 ? '' : 's'} kept: ${why}`;
      else if (this.opts.dryRun) {
        for await (const line of this.candidates.items()) this.opts.onPlanDelete?.(walkedFileLine.from(this.root!, line).rel);
        summary.deleted = this.candidates.count;
      } else await this.deleteCandidates(summary);
      return summary;
    } finally {
      this.candidates.dispose();
    }
  }

  /** Why the delete step must not run, or undefined when it may. */
  private whyKeep(s: SyncDownSummary): string | undefined {
    if (s.interrupted) return 'the run was interrupted';
    if (s.fatal !== undefined) return `the run stopped (${s.fatal})`;
    if (!this.listingComplete) return 'the listing did not complete';
    if (this.walkFailed.length > 0) return `a local path could not be read ('${this.walkFailed[0]!.rel}': ${this.walkFailed[0]!.reason}), so what is under it is not known`;
    if (s.failed.length > 0 || s.notAttempted > 0) return this.opts.dryRun ? 'some objects could not be downloaded' : 'some downloads failed';
    return undefined;
  }

  private summary(): SyncDownSummary {
    const base: DownloadSummary = this.downloader?.summary() ?? {
      bucket: this.run.bucket, prefix: this.sel.prefix, dir: this.opts.dir, files: this.plannedFiles,
      bytes: this.plannedBytes, skipped: 0, directories: 0, failed: [], ...this.run.totals(0), mbps: 0,
    };
    const walkFailures = this.walkFailed.map((p) => ({ key: `(local) ${p.rel}`, path: p.rel, error: p.reason }));
    return {
      ...base, failed: [...walkFailures, ...this.failed, ...base.failed], dryRun: this.opts.dryRun ?? false, plan: { ...this.plan },
      deleted: 0, deleteFailed: [], skippedLocal: this.skippedLocal,
    };
  }

  /** Each candidate removed if it still is the regular file walked, in the directory walked. */
  private async deleteCandidates(summary: SyncDownSummary): Promise<void> {
    const root = this.root!;
    for await (const line of this.candidates.items()) {
      const f = walkedFileLine.from(root, line);
      try {
        await deleteWalkedFile(root, f);
        summary.deleted++;
      } catch (err) {
        summary.deleteFailed.push({ path: f.rel, error: describeLocalError(err) });
        this.run.logger.warn({ path: f.rel, error: describeLocalError(err) }, 'not deleted');
      }
      if (this.run.signal.aborted) break;
    }
  }
}

/**
 * Unlinks `f` when it still is what the walk found: a regular file (not a link: lstat), the same
 * inode, size and mtime, in a directory whose real path is the one walked (no link swapped in).
 */
export async function deleteWalkedFile(root: string, f: FileEntry): Promise<void> {
  const target = resolveInside(root, f.rel.split('/'));
  if (target === undefined) throw refusedError('would resolve outside the directory');
  const parent = path.dirname(target);
  if ((await fs.promises.realpath(parent)) !== parent) throw new Error(`refused: the directory of ${f.rel} was replaced by a symbolic link; s3x never deletes through one`);
  const st = await fs.promises.lstat(target);
  if (!st.isFile()) throw new Error(`refused: ${f.rel} is no longer a regular file; kept`);
  if (st.ino !== f.ino || st.size !== f.size || st.mtimeMs !== f.mtimeMs) throw new Error(`refused: ${f.rel} changed since it was read; kept`);
  await fs.promises.unlink(target);
}
