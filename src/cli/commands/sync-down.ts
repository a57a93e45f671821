/** `s3x sync s3://bucket/prefix <dir>`: the download direction of sync (flags → SyncDownOptions → syncDown → summary). */
import {
  type DownComparison, type DownloadProgress, formatBytes, parseShard, parseSizeBytes, type RequestReport, syncDown,
  type SyncDownSummary, UsageError,
} from '../../index.js';
import { connectionFromFlags } from '../common.js';
import type { CliContext } from '../context.js';
import { finishRun, reportSink } from '../finish.js';
import { objectHeadersFromFlags, type ObjectHeaderFlags } from '../object-header-flags.js';
import { printable } from '../printable.js';
import { createSpinner, plural, renderDownloadSummary } from '../render-objects.js';
import type { TransferFlags } from '../transfer.js';
import { tierUpForRun } from '../tier-up.js';

/** The flags of `sync`, both directions (./sync.ts registers them). */
export interface SyncFlags extends TransferFlags, ObjectHeaderFlags {
  /** upload direction: --resume (the default) / --no-resume */
  resume?: boolean;
  checksum?: boolean;
  sizeOnly?: boolean;
  exactTimestamps?: boolean;
  delete?: boolean;
  deleteAll?: boolean;
}

/** The comparison the flags ask for; contradicting flags are a usage error. */
export function comparisonOf(flags: Pick<SyncFlags, 'checksum' | 'sizeOnly' | 'exactTimestamps'>): DownComparison {
  const given = [flags.checksum && '--checksum', flags.sizeOnly && '--size-only', flags.exactTimestamps && '--exact-timestamps'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`sync: ${given.join(' and ')} contradict each other; give one`);
  return flags.checksum ? 'checksum' : flags.sizeOnly ? 'size' : flags.exactTimestamps ? 'exact-timestamps' : 'size-mtime';
}

export async function runSyncDown(ctx: CliContext, bucket: string, prefix: string, dir: string, flags: SyncFlags, thresholdGiven = true): Promise<void> {
  if (flags.followSymlinks) throw new UsageError('sync s3://… <dir>: --follow-symlinks is for the upload direction; s3x never writes or deletes through a symbolic link');
  if (flags.priority) throw new UsageError('sync s3://… <dir>: --priority is for the upload direction');
  if (flags.verify) throw new UsageError('sync s3://… <dir>: --verify is for the upload direction (downloads check the MD5 of every object whose ETag is one, always)');
  if (flags.resume !== undefined) throw new UsageError(`sync s3://… <dir>: --${flags.resume ? '' : 'no-'}resume is for the upload direction (multipart uploads)`);
  const compare = comparisonOf(flags);
  const { sseC, ...headers } = objectHeadersFromFlags(flags) ?? {};
  if (Object.keys(headers).some((k) => k !== 'metadata' || Object.keys(headers.metadata ?? {}).length > 0)) {
    throw new UsageError('sync s3://… <dir>: object header flags (--content-type, --cache-control, --metadata, --sse, --acl, …) are for the upload direction; only --sse-c/--sse-c-key apply here');
  }
  const { conn, logger } = connectionFromFlags(flags, ctx.signal);
  const reports: RequestReport[] = [];
  const tierUp = tierUpForRun(logger);
  const deleting = (flags.delete ?? false) || (flags.deleteAll ?? false);
  const spinner = await createSpinner(flags.progress && !flags.json, (p: DownloadProgress) =>
    `${p.filesDone}${p.listDone ? `/${p.filesFound}` : ` (${p.filesFound} to fetch)`} files, ${formatBytes(p.bytesDone)}` + (p.filesFailed ? `, ${p.filesFailed} failed` : ''));
  let summary: SyncDownSummary;
  try {
    summary = await syncDown({
      ...conn, bucket, prefix, dir, compare, ...(sseC && { sseC }),
      ...(flags.include && { include: flags.include }),
      ...(flags.exclude && { exclude: flags.exclude }),
      ...(flags.shard !== undefined && { shard: parseShard(flags.shard) }),
      delete: flags.delete ?? false, deleteAll: flags.deleteAll ?? false, dryRun: flags.dryRun ?? false,
      partSizeBytes: parseSizeBytes(flags.partSize, '--part-size'),
      ...(thresholdGiven && { multipartThresholdBytes: parseSizeBytes(flags.multipartThreshold, '--multipart-threshold') }),
      onProgress: (p) => { tierUp(p); spinner.update(p); },
      onReport: reportSink(ctx, flags, reports),
      onPlan: (p) => ctx.out(flags.json
        ? `${JSON.stringify({ type: 'plan', ...p })}\n`
        : `would download (${p.status}) ${printable(`s3://${bucket}/${p.key}`)} → ${printable(p.path)} (${formatBytes(p.bytes)})\n`),
      onPlanDelete: (rel) => ctx.out(flags.json ? `${JSON.stringify({ type: 'plan-delete', path: rel })}\n` : `would delete ${printable(rel)}\n`),
    });
  } finally {
    spinner.stop();
  }
  logger.info({ files: summary.files, bytes: summary.bytes, failed: summary.failed.length, wallMs: Math.round(summary.wallMs) }, 'sync finished');
  // a failed delete is a failure of the run
  const failedCount = summary.failed.length + summary.deleteFailed.length;
  await finishRun(ctx, flags, reports, summary, () => renderSyncDown(summary, deleting), failedCount);
}

function renderSyncDown(s: SyncDownSummary, deleting: boolean): string {
  const p = s.plan;
  const lines = [
    s.dryRun
      ? `Dry run: would download ${plural(s.files, 'file')}, ${formatBytes(s.bytes)} from ${printable(`s3://${s.bucket}/${s.prefix}`)} to ${printable(s.dir)} (nothing written)`
      : renderDownloadSummary(s),
    `Plan: ${p.new} new, ${p.changed} changed, ${p.unchanged} unchanged, ${p.localOnly} to delete${deleting ? '' : ' (not deleted without --delete)'}`,
  ];
  if (s.dryRun && s.failed.length > 0) {
    lines.push(`Failed: ${plural(s.failed.length, 'object')}`);
    for (const f of s.failed) lines.push(`  ${printable(f.key)}: ${printable(f.error)}`);
  }
  if (s.skippedLocal.length > 0) lines.push(`Left alone: ${plural(s.skippedLocal.length, 'local path')} (symbolic links, special files): never written over or deleted`);
  if (deleting) {
    if (s.dryRun) lines.push(`Would delete: ${s.deleted}`);
    else lines.push(`Deleted: ${s.deleted}${s.deleteFailed.length ? `, failed: ${s.deleteFailed.length}` : ''}`);
    for (const f of s.deleteFailed) lines.push(`  delete ${printable(f.path)}: ${printable(f.error)}`);
    if (s.deleteSkipped) lines.push(`Not deleted: ${s.deleteSkipped}`);
  }
  return lines.join('\n');
}
