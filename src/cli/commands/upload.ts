/** `s3x upload <dir> <bucket> [prefix]`: flags → UploadOptions → upload() → table, summary, exit code. */
import type { Command } from 'commander';
import { DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES } from '../../config/options.js';
import { formatBytes, parseSizeBytes } from '../../config/units.js';
import { EXIT } from '../../errors.js';
import type { RequestReport } from '../../engine/request.js';
import { MIB } from '../../engine/multipart.js';
import { upload, type UploadOptions } from '../../engine/upload.js';
import { addCommonOptions, connectionFromFlags, type CommonFlags } from '../common.js';
import { createProgress, renderEndpointStats, renderRequestTable, renderUploadSummary } from '../render.js';
import { PRIORITIES, type Priority } from '../../engine/priority-queue.js';
import { UsageError } from '../../errors.js';

/** "HIGH:**\/manifest.json" → { priority: 'HIGH', glob: '**\/manifest.json' } */
function parsePriority(text: string): { priority: Priority; glob: string } {
  const m = /^(HIGH|NORMAL|LOW):(.+)$/i.exec(text);
  if (!m) throw new UsageError(`--priority '${text}': expected LEVEL:glob with LEVEL one of ${PRIORITIES.join(', ')} (e.g. HIGH:**/manifest.json)`);
  return { priority: m[1]!.toUpperCase() as Priority, glob: m[2]! };
}
import type { CliContext } from '../main.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface UploadFlags extends CommonFlags {
  priority?: string[];
  include?: string[];
  exclude?: string[];
  followSymlinks?: boolean;
  partSize: string;
  multipartThreshold: string;
  dryRun?: boolean;
  table?: boolean;
  verify?: boolean;
}

export function registerUpload(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('upload')
    .description('upload every file under <dir> to s3://<bucket>/<prefix>/, in parallel over one or more endpoints')
    .argument('<dir>', 'local directory to upload')
    .argument('<bucket>', 'destination bucket')
    .argument('[prefix]', 'key prefix; joined to relative paths with exactly one "/"', '')
    .option('--include <glob>', 'upload only files matching this glob (repeatable; no "/" = match the file name anywhere)', collect)
    .option('--exclude <glob>', 'skip files matching this glob (repeatable; wins over --include)', collect)
    .option('--follow-symlinks', 'follow symbolic links (loops are detected and skipped)')
    .option('--part-size <size>', 'multipart part size, 5MiB–5GiB; grown so no file needs more than 10,000 parts', `${DEFAULT_PART_SIZE_BYTES / MIB}MiB`)
    .option('--multipart-threshold <size>', 'files of at least this size go as multipart uploads', `${DEFAULT_MULTIPART_THRESHOLD_BYTES / MIB}MiB`)
    .option('--dry-run', 'list what would be uploaded; send nothing')
    .option('--verify', 'read every object back after upload and compare its MD5 with the file (costs a GET per object)')
    .option('--priority <LEVEL:glob>', 'dispatch matching files first (HIGH) or last (LOW), e.g. HIGH:**/manifest.json (repeatable)', collect)
    .option('--table', 'print the per-request table: attempts | bytes | success_ms | total_ms | MBps | MBps est');
  addCommonOptions(cmd);
  cmd.addHelpText('after', `
Examples:
  $ s3x upload ./dist artifacts builds/42 --endpoint-url http://127.0.0.1:7480
  $ s3x upload ./data lake raw --endpoint-url http://127.0.0.1:7480 --endpoint-url http://127.0.0.1:7481 -c 32 --table
  $ s3x upload ./site web --exclude '*.map' --exclude '.git/**' --dry-run

Exit codes: 0 all uploaded; 1 some files failed (each is named); 2 usage, config, bucket or credential error; 130 interrupted.`);

  cmd.action(async (dir: string, bucket: string, prefix: string, flags: UploadFlags) => {
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
      onProgress: (p) => progress.update(p),
      onReport: (r) => {
        if (flags.json) ctx.out(`${JSON.stringify({ type: 'request', ...r })}\n`);
        if (flags.table) reports.push(r);
      },
      onPlan: (p) => ctx.out(flags.json
        ? `${JSON.stringify({ type: 'plan', ...p })}\n`
        : `would upload ${p.path} → s3://${bucket}/${p.key} (${formatBytes(p.bytes)}${p.multipart ? `, ${p.parts} parts` : ''})\n`),
    };
    let summary;
    try {
      summary = await upload(opts);
    } finally {
      progress.stop();
    }
    if (flags.table && reports.length > 0) ctx.out(`${await renderRequestTable(reports)}\n`);
    if (flags.json) ctx.out(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
    else {
      if (flags.stats && summary.endpoints.length > 0) ctx.out(`${await renderEndpointStats(summary.endpoints)}\n`);
      ctx.out(`${renderUploadSummary(summary)}\n`);
    }
    logger.info({ files: summary.files, bytes: summary.bytes, failed: summary.failed.length, wallMs: Math.round(summary.wallMs) }, 'upload finished');
    if (summary.fatal) {
      ctx.err(`s3x: error: ${summary.fatal}\n`);
      ctx.exitCode = EXIT.USAGE;
    } else if (summary.interrupted) ctx.exitCode = EXIT.INTERRUPTED;
    else ctx.exitCode = summary.failed.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  });
}
