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
 * file's MD5 against the object's ETag (exact, whatever the clocks and mtimes say).
 */
import { UsageError } from '../errors.js';
import { normalizePrefix } from '../fs/keys.js';
import { deleteKeys, refuseFallbackDeletes, type DeleteSummary, type FailedKey } from './delete.js';
import { upload, type UploadOptions, type UploadSummary } from './upload.js';

export interface SyncOptions extends Omit<UploadOptions, 'compare' | 'collectRemoteOnly'> {
  /** compare content (MD5 vs ETag) instead of size + mtime */
  checksum?: boolean;
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
  if (deleting) refuseFallbackDeletes(opts);
  const up = await upload({
    ...opts,
    compare: opts.checksum ? 'checksum' : 'size-mtime',
    collectRemoteOnly: deleting,
  });
  const planned = up.plan ?? { new: 0, changed: 0, unchanged: 0, remoteOnly: 0 };
  const keys = up.remoteOnlyKeys ?? [];
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
  if (problems > 0 || up.remoteOnlyKeys === undefined) {
    const why = up.dryRun ? 'some local files could not be read' : 'the upload did not complete';
    summary.deleteSkipped = `${planned.remoteOnly} remote-only objects kept: ${why}`;
    return summary;
  }
  if (up.dryRun) {
    for (const k of keys) opts.onPlanDelete?.(k);
    summary.deleted = keys.length;
    return summary;
  }
  addDeletePhase(summary, await deleteKeys({ ...opts, bucket: up.bucket, keys }));
  return summary;
}

/**
 * Adds the delete phase (delete.ts's deleteKeys, its own pool) to the sync summary: its requests,
 * its use of each endpoint, and how it ended, so the summary accounts for every request sent.
 */
function addDeletePhase(summary: SyncSummary, d: DeleteSummary): void {
  summary.deleted = d.deleted;
  summary.deleteFailed = d.failed;
  summary.requests += d.requests;
  summary.retries += d.retries;
  summary.wallMs += d.wallMs;
  summary.endpoints = summary.endpoints.map((e) => {
    const x = d.endpoints.find((y) => y.name === e.name);
    if (!x) return e;
    return {
      ...e, requests: e.requests + x.requests, bytes: e.bytes + x.bytes, errors: e.errors + x.errors, retries: e.retries + x.retries,
      inFlightPeak: Math.max(e.inFlightPeak, x.inFlightPeak), breaker: x.breaker, breakerTransitions: [...e.breakerTransitions, ...x.breakerTransitions],
    };
  });
  if (d.notAttempted > 0) summary.deleteSkipped = `${d.notAttempted} remote-only objects not deleted: the run stopped`;
  if (d.interrupted) summary.interrupted = true;
  if (d.fatal !== undefined) summary.fatal ??= d.fatal;
}
