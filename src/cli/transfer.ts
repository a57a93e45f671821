/**
 * The flags and callbacks of every command that sends a local tree (upload, sync, perf-data):
 * flags → UploadOptions, and the table, stats and summary at the end.
 */
import type { Command } from 'commander';
import {
  DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES, formatBytes, type Logger, MIB, parseSizeBytes,
  parseShard, PRIORITIES, type Priority, type RequestReport, type UploadOptions, type UploadSummary, UsageError,
} from '../index.js';
import { addCommonOptions, collect, connectionFromFlags, type CommonFlags } from './common.js';
import type { CliContext } from './context.js';
import { printable } from './printable.js';
import { finishRun, reportSink } from './finish.js';
import { createProgress, renderUploadSummary } from './render.js';
import { tierUpForRun } from './tier-up.js';

export interface TransferFlags extends CommonFlags {
  priority?: string[];
  include?: string[];
  exclude?: string[];
  followSymlinks?: boolean;
  partSize: string;
  multipartThreshold: string;
  dryRun?: boolean;
  table?: boolean;
  verify?: boolean;
  shard?: string;
}

/** "HIGH:**\/manifest.json" → { priority: 'HIGH', glob: '**\/manifest.json' } */
function parsePriority(text: string): { priority: Priority; glob: string } {
  const m = /^(HIGH|NORMAL|LOW):(.+)$/i.exec(text);
  if (!m) throw new UsageError(`--priority '${text}': expected LEVEL:glob with LEVEL one of ${PRIORITIES.join(', ')} (e.g. HIGH:**/manifest.json)`);
  return { priority: m[1]!.toUpperCase() as Priority, glob: m[2]! };
}

/** The flags of every command that sends a local tree (upload, sync). */
export function addTransferOptions(cmd: Command): Command {
  cmd
    .option('--include <glob>', 'upload only files matching this glob (repeatable; no "/" = match the file name anywhere)', collect)
    .option('--exclude <glob>', 'skip files matching this glob (repeatable; wins over --include)', collect)
    .option('--follow-symlinks', 'follow symbolic links (loops are detected and skipped)')
    .option('--part-size <size>', 'multipart part size, 5MiB–5GiB; grown so no file needs more than 10,000 parts', `${DEFAULT_PART_SIZE_BYTES / MIB}MiB`)
    .option('--multipart-threshold <size>', 'files of at least this size go as multipart uploads', `${DEFAULT_MULTIPART_THRESHOLD_BYTES / MIB}MiB`)
    .option('--dry-run', 'list what would be sent; send nothing')
    .option('--verify', 'read every object back after upload and compare its MD5 with the file (costs a GET per object)')
    .option('--priority <LEVEL:glob>', 'dispatch matching files first (HIGH) or last (LOW), e.g. HIGH:**/manifest.json (repeatable)', collect)
    .option('--shard <k/n>', 'take only shard k of n of the files (by a hash of the key): run n machines with 1/n … n/n')
    .option('--table', 'print the per-request table: attempts | bytes | success_ms | total_ms | MBps | MBps est');
  return addCommonOptions(cmd);
}

export interface TransferRun {
  opts: UploadOptions;
  logger: Logger;
  /** prints the table, the stats and the summary; sets the exit code */
  finish(summary: UploadSummary, extraLines?: string[]): Promise<void>;
  /** stops the progress display (call in finally) */
  stop(): void;
}

/** Flags → UploadOptions with the CLI's callbacks (NDJSON, table, progress, plan lines). */
export async function startTransfer(ctx: CliContext, dir: string, bucket: string, prefix: string, flags: TransferFlags): Promise<TransferRun> {
  const { conn, logger } = connectionFromFlags(flags, ctx.signal);
  const reports: RequestReport[] = [];
  const progress = await createProgress(flags.progress && !flags.json);
  const tierUp = tierUpForRun(logger);
  const opts: UploadOptions = {
    ...conn, dir, bucket, prefix,
    ...(flags.include && { include: flags.include }),
    ...(flags.exclude && { exclude: flags.exclude }),
    followSymlinks: flags.followSymlinks ?? false,
    partSizeBytes: parseSizeBytes(flags.partSize, '--part-size'),
    multipartThresholdBytes: parseSizeBytes(flags.multipartThreshold, '--multipart-threshold'),
    dryRun: flags.dryRun ?? false,
    verify: flags.verify ?? false,
    ...(flags.priority && { priorities: flags.priority.map(parsePriority) }),
    ...(flags.shard !== undefined && { shard: parseShard(flags.shard) }),
    onProgress: (p) => { tierUp(p); progress.update(p); },
    onReport: reportSink(ctx, flags, reports),
    onPlan: (p) => ctx.out(flags.json
      ? `${JSON.stringify({ type: 'plan', ...p })}\n`
      : `would upload${p.status ? ` (${p.status})` : ''} ${printable(p.path)} → ${printable(`s3://${bucket}/${p.key}`)} (${formatBytes(p.bytes)}${p.multipart ? `, ${p.parts} parts` : ''})\n`),
  };
  return {
    opts, logger,
    stop: () => progress.stop(),
    async finish(summary, extraLines = []) {
      progress.stop();
      logger.info({ files: summary.files, bytes: summary.bytes, failed: summary.failed.length, wallMs: Math.round(summary.wallMs) }, 'run finished');
      await finishRun(ctx, flags, reports, summary, () => [renderUploadSummary(summary), ...extraLines].join('\n'), summary.failed.length);
    },
  };
}
