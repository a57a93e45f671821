/** `s3x delete-prefix <bucket> [prefix]` or `s3x delete-prefix s3://bucket/prefix`: flags → DeletePrefixOptions → deletePrefix() → summary, exit code. */
import type { Command } from 'commander';
import {
  deletePrefix, type DeletePrefixOptions, formatBytes, MAX_DELETE_BATCH, parseIntInRange, type RequestReport,
} from '../../index.js';
import { addCommonOptions, connectionFromFlags, prefixCommand, type CommonFlags } from '../common.js';
import { finishRun, reportSink } from '../finish.js';
import { createSpinner, renderDeleteSummary } from '../render-objects.js';
import type { CliContext } from '../context.js';
import { printable } from '../printable.js';
import { parseTarget } from '../target.js';

interface DeleteFlags extends CommonFlags {
  all?: boolean;
  rawPrefix?: boolean;
  dryRun?: boolean;
  batchSize?: string;
  table?: boolean;
}

export function registerDeletePrefix(program: Command, ctx: CliContext): void {
  const cmd = prefixCommand(program, 'delete-prefix', 'delete every object under s3://<bucket>/<prefix>/ with DeleteObjects batches in parallel',
    'deletes keys under "<prefix>/" ("logs" deletes logs/…, not logs-old/…); required unless --all', '"logs" also deletes logs-old/… and logs.txt')
    .option('--all', 'with no prefix: delete every object in the bucket')
    .option('--dry-run', 'list every key that would be deleted; delete nothing')
    .option('--batch-size <n>', `keys per DeleteObjects request (1–${MAX_DELETE_BATCH}); default: batches of ${MAX_DELETE_BATCH} split over the --concurrency slots`)
    .option('--table', 'print the per-request table');
  addCommonOptions(cmd);
  cmd.addHelpText('after', `
Matching: literal, never a glob. By default the prefix names a folder: "logs", "logs/" and "/logs/"
delete the keys that start with "logs/" (what \`s3x upload dir <bucket> logs\` wrote) and leave
"logs-old/…" and "logs.txt" alone. --raw-prefix matches the string as S3 does. Every listed key is
checked against the prefix again before it is sent.

Stores: --mode replicate lists every store (the union of their keys) and deletes each key on every
store; a key counts as deleted only when every store deleted it, and a failure names the store.
--mode fallback refuses to delete (exit 2): its stores hold different data, and a key deleted on
one would still be read from another.

Examples:
  $ s3x delete-prefix s3://artifacts/builds/42 --endpoint-url http://127.0.0.1:7480 --dry-run
  $ s3x delete-prefix artifacts builds/42 --endpoint-url http://127.0.0.1:7480 --dry-run   # the same
  $ s3x delete-prefix artifacts builds/42 --endpoint-url http://127.0.0.1:7480 --endpoint-url http://127.0.0.1:7481
  $ s3x delete-prefix scratch --all --endpoint-url http://127.0.0.1:7480

Exit codes: 0 all deleted; 1 some keys could not be deleted (each is named); 2 usage, config, bucket or credential error; 130 interrupted.`);

  cmd.action(async (target: string, prefixArg: string | undefined, flags: DeleteFlags) => {
    const { bucket, prefix } = parseTarget(target, prefixArg);
    const { conn, logger } = connectionFromFlags(flags, ctx.signal);
    const reports: RequestReport[] = [];
    const spinner = await createSpinner(flags.progress && !flags.json && !flags.dryRun, (p: { listed: number; deleted: number; failed: number; elapsedMs: number }) =>
      `${p.deleted}/${p.listed} deleted${p.failed ? `, ${p.failed} failed` : ''}, ${(p.deleted / Math.max(p.elapsedMs / 1000, 0.001)).toFixed(0)} objects/s`);
    const opts: DeletePrefixOptions = {
      ...conn, bucket, prefix,
      all: flags.all ?? false,
      rawPrefix: flags.rawPrefix ?? false,
      dryRun: flags.dryRun ?? false,
      ...(flags.batchSize !== undefined && { batchSize: parseIntInRange(flags.batchSize, '--batch-size', 1, MAX_DELETE_BATCH) }),
      onProgress: (p) => spinner.update(p),
      onReport: reportSink(ctx, flags, reports),
      onPlan: (o) => ctx.out(flags.json
        ? `${JSON.stringify({ type: 'plan', key: o.key, bytes: o.bytes })}\n`
        : `would delete ${printable(`s3://${bucket}/${o.key}`)} (${formatBytes(o.bytes)})\n`),
      ...(flags.json && { onFailure: (f) => ctx.out(`${JSON.stringify({ type: 'failed', ...f })}\n`) }),
    };
    let summary;
    try {
      summary = await deletePrefix(opts);
    } finally {
      spinner.stop();
    }
    logger.info({ deleted: summary.deleted, failed: summary.failedCount, wallMs: Math.round(summary.wallMs) }, 'delete-prefix finished');
    await finishRun(ctx, flags, reports, summary, () => renderDeleteSummary(summary), summary.failedCount);
  });
}
