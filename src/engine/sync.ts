/**
 * `sync`: make bucket/prefix look like a local directory, for CI artifacts. Upload what is new
 * or changed (upload() with a comparison against the listing), then, with `delete`, remove the
 * keys under the prefix that have no local file — only after every upload succeeded and the
 * walk was complete; on any failure nothing is deleted. Nothing excluded, nothing at or under a
 * path the walk could not read, is a candidate (src/engine/upload.ts). Emptying a prefix (no
 * local file selected) or deleting at a bucket root takes `deleteAll`.
 *
 * Change detection: size, then mtime against the object's LastModified (free with the listing;
 * the recorded `s3x-mtime` metadata would cost a HEAD per object), or with `checksum` the
 * file's MD5 against the object's ETag (exact, whatever the clocks and mtimes say).
 */
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { resolveConnection } from '../config/options.js';
import { UsageError } from '../errors.js';
import { normalizePrefix } from '../fs/keys.js';
import { silentLogger } from '../logger.js';
import { openPool } from './context.js';
import { MAX_DELETE_BATCH, withContentMd5, type FailedKey } from './delete.js';
import { Limiter } from './limiter.js';
import { RequestEngine, RequestFailed } from './request.js';
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
  const started = performance.now();
  const result = await deleteKeys(opts, up.bucket, keys);
  summary.deleted = result.deleted;
  summary.deleteFailed = result.failed;
  summary.requests += result.requests;
  summary.wallMs += performance.now() - started;
  return summary;
}

/** DeleteObjects in batches of ≤ 1,000 keys, 4 batches at a time, through the engine. */
async function deleteKeys(opts: SyncOptions, bucket: string, keys: readonly string[]): Promise<{ deleted: number; failed: FailedKey[]; requests: number }> {
  const conn = resolveConnection(opts);
  const logger = opts.logger ?? silentLogger;
  const pool = openPool(conn, logger);
  const engine = new RequestEngine(pool, conn.retry, opts.signal ?? new AbortController().signal, logger, opts.onReport);
  const slots = new Limiter(4);
  const failed: FailedKey[] = [];
  let deleted = 0;
  let requests = 0;
  try {
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += MAX_DELETE_BATCH) batches.push(keys.slice(i, i + MAX_DELETE_BATCH));
    await Promise.all(batches.map((batch) => slots.run(async () => {
      requests++;
      try {
        const out = await engine.run({
          op: 'DeleteObjects', key: `${batch.length} keys`, bytes: 0, bucket,
          // time grows with the keys, not bytes: 30 ms a key, at least 10 s
          deadlineMs: Math.max(10_000, batch.length * 30),
          send: (ep, signal) => ep.client.send(withContentMd5(new DeleteObjectsCommand({
            Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          })), { abortSignal: signal }),
        });
        const errors = out.Errors ?? [];
        for (const e of errors) failed.push({ key: e.Key ?? '?', error: `${e.Code ?? 'Error'}: ${e.Message ?? ''}`.trim() });
        deleted += batch.length - errors.length;
      } catch (err) {
        const message = err instanceof RequestFailed ? err.message : String(err);
        for (const key of batch) failed.push({ key, error: message });
      }
    })));
  } finally {
    pool.destroy();
  }
  return { deleted, failed, requests };
}
