/**
 * `sync`: make bucket/prefix look like a local directory, for CI artifacts. Upload what is new
 * or changed (upload() with a comparison against the listing), then, with `delete`, remove the
 * keys under the prefix that have no local file — only after every upload succeeded and the
 * walk was complete; on any failure nothing is deleted. Nothing excluded, nothing at or under a
 * path the walk could not read, is a candidate (src/ops/remote-only.ts). Emptying a prefix (no
 * local file selected) or deleting at a bucket root takes `deleteAll`.
 *
 * Change detection: size, then mtime against the object's LastModified (free with the listing;
 * the recorded `s3x-mtime` metadata would cost a HEAD per object), or with `checksum` the
 * file's MD5 against the object's ETag (exact, whatever the clocks and mtimes say), or with
 * `sizeOnly` the size alone. The other direction (S3 → a local directory) is ./sync-down.ts.
 */
import { UsageError } from '../errors.js';
import { normalizePrefix } from '../fs/keys.js';
import { Run } from '../run/run.js';
import type { EndpointSummary } from '../run/summary.js';
import { deleteKeys, refuseFallbackDeletes, type DeletedKeys, type FailedKey } from './delete.js';
import { uploadOn, type UploadOptions, type UploadSummary } from './upload.js';

export interface SyncOptions extends Omit<UploadOptions, 'compare' | 'collectRemoteOnly'> {
  /** compare content (MD5 vs ETag) instead of size + mtime */
  checksum?: boolean;
  /** compare sizes only (aws-cli and s5cmd `--size-only`) */
  sizeOnly?: boolean;
  /** remove remote objects under the prefix that have no local file (after all uploads succeeded) */
  delete?: boolean;
  /**
   * delete even when that removes everything: no local file selected (an empty or all-excluded
   * dir) or an empty prefix (the bucket root). Implies `delete`.
   */
  deleteAll?: boolean;
  /** with dryRun and delete: one call per key that would be deleted */
  onPlanDelete?: (key: string) => void;
}

export interface SyncSummary extends UploadSummary {
  plan: { new: number; changed: number; unchanged: number; remoteOnly: number };
  /** objects removed by --delete (with dryRun: that would be) */
  deleted: number;
  deleteFailed: FailedKey[];
  /** why --delete removed nothing although there were remote-only keys */
  deleteSkipped?: string;
}

export async function sync(opts: SyncOptions): Promise<SyncSummary> {
  const deleting = (opts.delete ?? false) || (opts.deleteAll ?? false);
  if (deleting && !opts.deleteAll && normalizePrefix(opts.prefix) === '') {
    throw new UsageError(`sync --delete to the bucket root of '${opts.bucket}' (no prefix) would delete every object in the bucket with no local file; give a prefix, or pass --delete-all`);
  }
  if (opts.checksum && opts.sizeOnly) throw new UsageError('sync: --checksum and --size-only contradict each other; give one');
  if (deleting) refuseFallbackDeletes(opts);
  // one run for both phases: one pool, and a summary that counts every request sent
  const run = Run.open(opts, opts.bucket, { onReport: opts.onReport });
  try {
    return await syncOn(run, opts, deleting);
  } finally {
    run.close();
  }
}

async function syncOn(run: Run, opts: SyncOptions, deleting: boolean): Promise<SyncSummary> {
  const up = await uploadOn(run, {
    ...opts,
    compare: opts.checksum ? 'checksum' : opts.sizeOnly ? 'size' : 'size-mtime',
    collectRemoteOnly: deleting,
    // a changed file's interrupted multipart upload is continued by the next sync
    resume: opts.resume ?? true,
  });
  try {
    return await deletePhase(run, opts, deleting, up);
  } finally {
    up.remoteOnlyKeys?.dispose();
  }
}

/** After the upload: with `delete`, the remote-only keys removed (or, dry run, planned), when that is safe. */
async function deletePhase(run: Run, opts: SyncOptions, deleting: boolean, up: UploadSummary): Promise<SyncSummary> {
  const planned = up.plan ?? { new: 0, changed: 0, unchanged: 0, remoteOnly: 0 };
  const keys = up.remoteOnlyKeys;
  const { remoteOnlyKeys: _omit, filesFound, ...base } = up;
  void _omit;
  const summary: SyncSummary = { ...base, plan: planned, deleted: 0, deleteFailed: [] };
  if (!deleting || planned.remoteOnly === 0) return summary;
  if (!opts.deleteAll && filesFound === 0) {
    const where = `s3://${up.bucket}/${up.prefix ? `${up.prefix}/` : ''}`;
    throw new UsageError(`sync --delete: no local file selected in '${opts.dir}' (empty, or all excluded), so all ${planned.remoteOnly} objects under ${where} would be deleted; nothing was deleted (pass --delete-all to mean it)`);
  }
  // checked before the dry run's plan, so that the plan says what the real run would do
  const problems = up.failed.length + up.notAttempted + (up.fatal ? 1 : 0) + (up.interrupted ? 1 : 0);
  if (problems > 0 || keys === undefined) {
    const why = up.dryRun ? 'some local files could not be read' : 'the upload did not complete';
    summary.deleteSkipped = `${planned.remoteOnly} remote-only objects kept: ${why}`;
    return summary;
  }
  if (up.dryRun) {
    for await (const k of keys.items()) opts.onPlanDelete?.(k);
    summary.deleted = keys.count;
    return summary;
  }
  addDeletePhase(summary, run, await deleteKeys(run, keys.items()));
  return summary;
}

/**
 * The delete phase (delete.ts's deleteKeys, on the upload's run) in the sync summary: the run's
 * requests, use of each endpoint and end now include it; objects per second and the replicate
 * copies per store stay the upload's.
 */
function addDeletePhase(summary: SyncSummary, run: Run, d: DeletedKeys): void {
  summary.deleted = d.deleted;
  summary.deleteFailed = d.failed;
  const t = run.totals(0);
  Object.assign(summary, { requests: t.requests, retries: t.retries, hedged: t.hedged, hedgeWon: t.hedgeWon, hedgeBytes: t.hedgeBytes, wallMs: t.wallMs, interrupted: t.interrupted });
  const copies = (e: EndpointSummary | undefined) => (e?.filesOk === undefined ? {} : { filesOk: e.filesOk, filesFailed: e.filesFailed });
  summary.endpoints = t.endpoints.map((e, i) => ({ ...e, ...copies(summary.endpoints[i]) }));
  if (d.notAttempted > 0) summary.deleteSkipped = `${d.notAttempted} remote-only objects not deleted: the run stopped`;
  if (t.fatal !== undefined) summary.fatal ??= t.fatal;
}
