/**
 * `s3x upload <dir> <bucket> [prefix]`: flags → UploadOptions → upload() → table, summary, exit
 * code. The transfer flags and the rendering are shared with `s3x sync` (./sync.ts).
 */
import type { Command } from 'commander';
import { DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES } from '../../config/options.js';
import { formatBytes, parseSizeBytes } from '../../config/units.js';
import { UsageError } from '../../errors.js';
import { MIB } from '../../config/multipart.js';
import { PRIORITIES, type Priority } from '../../engine/priority-queue.js';
import type { RequestReport } from '../../engine/request.js';
import { upload, type UploadOptions, type UploadSummary } from '../../ops/upload.js';
import type { Logger } from '../../logger.js';
import { addCommonOptions, collect, connectionFromFlags, type CommonFlags } from '../common.js';
import type { CliContext } from '../main.js';
import { printable } from '../printable.js';
import { finishRun } from '../finish.js';
import { createProgress, renderUploadSummary } from '../render.js';


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

/** "2/5" → { index: 2, count: 5 } */
function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 100_000 || index < 1 || index > count) {
    throw new UsageError(`--shard '${text}': expected k/n with 1 ≤ k ≤ n ≤ 100000 (e.g. 2/4)`);
  }
  return { index, count };
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
    onProgress: (p) => progress.update(p),
    onReport: (r) => {
      if (flags.json) ctx.out(`${JSON.stringify({ type: 'request', ...r })}\n`);
      if (flags.table) reports.push(r);
    },
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

interface UploadFlags extends TransferFlags {
  skipExisting?: boolean;
}

export function registerUpload(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('upload')
    .description('upload every file under <dir> to s3://<bucket>/<prefix>/, in parallel over one or more endpoints')
    .argument('<dir>', 'local directory to upload')
    .argument('<bucket>', 'destination bucket')
    .argument('[prefix]', 'key prefix; joined to relative paths with exactly one "/"', '')
    .option('--skip-existing', 'list the prefix first and skip files whose key is there with the same size (resume an interrupted run)');
  addTransferOptions(cmd);
  cmd.addHelpText('after', `
Examples:
  $ s3x upload ./dist artifacts builds/42 --endpoint-url http://127.0.0.1:7480
  $ s3x upload ./data lake raw --endpoint-url http://127.0.0.1:7480 --endpoint-url http://127.0.0.1:7481 -c 32 --table
  $ s3x upload ./site web --exclude '*.map' --exclude '.git/**' --dry-run
  $ s3x upload ./data lake raw --config pool.json --skip-existing      # re-run after an interruption

Exit codes: 0 all uploaded; 1 some files failed (each is named); 2 usage, config, bucket or credential error; 130 interrupted.`);

  cmd.action(async (dir: string, bucket: string, prefix: string, flags: UploadFlags) => {
    const run = await startTransfer(ctx, dir, bucket, prefix, flags);
    let summary;
    try {
      summary = await upload({ ...run.opts, ...(flags.skipExisting && { compare: 'size' as const }) });
    } finally {
      run.stop();
    }
    const extra = summary.plan && flags.skipExisting ? [`Already there (same size, skipped): ${summary.plan.unchanged}`] : [];
    await run.finish(summary, extra);
  });
}
