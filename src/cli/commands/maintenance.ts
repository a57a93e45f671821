/** `s3x cleanup-multipart` and `s3x report merge`: the tools around resumable, sharded runs. */
import type { Command } from 'commander';
import { cleanupMultipart, EXIT, mergeSummaries, parseDurationMs, readSummary } from '../../index.js';
import { addCommonOptions, connectionFromFlags, prefixCommand, type CommonFlags } from '../common.js';
import type { CliContext } from '../context.js';
import { printable } from '../printable.js';
import { hedgeLine } from '../render-objects.js';
import { parseTarget } from '../target.js';

interface CleanupFlags extends CommonFlags { olderThan: string; dryRun?: boolean; rawPrefix?: boolean }

export function registerMaintenance(program: Command, ctx: CliContext): void {
  const cleanup = prefixCommand(program, 'cleanup-multipart', 'abort multipart uploads left open under <prefix> (by runs that were killed) and older than --older-than',
    'only uploads of keys under "<prefix>/" ("ci" selects ci/…, not ci-other/…); default: the whole bucket', '"ci" also selects ci-other/… and ci.bin')
    .option('--older-than <duration>', 'only uploads started at least this long ago (90s, 30m, 24h, 7d)', '24h')
    .option('--dry-run', 'list what would be aborted; abort nothing');
  addCommonOptions(cleanup);
  cleanup.addHelpText('after', `
The prefix names a folder, as in delete-prefix: "ci", "ci/" and "/ci/" select the uploads of keys
that start with "ci/". In --mode replicate and fallback each store is listed on its own and an
upload is aborted on the store that holds it.

Examples:
  $ s3x cleanup-multipart s3://artifacts/ci/ --older-than 2h --endpoint-url http://127.0.0.1:7480
  $ s3x cleanup-multipart artifacts ci/ --older-than 2h --endpoint-url http://127.0.0.1:7480   # the same

Exit codes: 0 done; 1 some uploads could not be aborted; 2 usage, config, bucket or credential error; 130 interrupted.`);
  cleanup.action(async (target: string, prefixArg: string | undefined, flags: CleanupFlags) => {
    const { bucket, prefix } = parseTarget(target, prefixArg);
    const { conn } = connectionFromFlags(flags, ctx.signal);
    const s = await cleanupMultipart({
      ...conn, bucket, prefix, rawPrefix: flags.rawPrefix ?? false, olderThanMs: parseDurationMs(flags.olderThan, '--older-than'), dryRun: flags.dryRun ?? false,
      onUpload: (u) => {
        if (flags.json) ctx.out(`${JSON.stringify({ type: flags.dryRun ? 'plan-abort' : 'aborted', ...u })}\n`);
        else ctx.out(`${flags.dryRun ? 'would abort' : 'aborted'} ${printable(u.key)} (upload ${u.uploadId}${u.initiated ? `, started ${u.initiated.toISOString()}` : ''}${u.store ? `, on ${printable(u.store)}` : ''})\n`);
      },
    });
    if (flags.json) ctx.out(`${JSON.stringify({ type: 'summary', ...s })}\n`);
    else {
      ctx.out(`Open multipart uploads under ${printable(`s3://${bucket}/${s.prefix}`)}: ${s.found}; ${s.dryRun ? 'would abort' : 'aborted'} ${s.aborted}; kept (younger than ${flags.olderThan}) ${s.kept}${s.interrupted ? ' (interrupted: not every upload was looked at)' : ''}\n`);
      for (const f of s.failed) ctx.out(`  failed ${printable(f.key)} (${f.uploadId}${f.store ? `, on ${printable(f.store)}` : ''}): ${printable(f.error)}\n`);
    }
    ctx.exitCode = s.interrupted ? EXIT.INTERRUPTED : s.failed.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  });

  const report = program.command('report').description('work with --json outputs of runs');
  report
    .command('merge')
    .description('merge the --json outputs of the shards of one run (--shard k/n) into one summary')
    .argument('<files...>', 'NDJSON files written with --json, one per shard')
    .option('--json', 'write the merged summary as one JSON record')
    .addHelpText('after', `
Example (CI matrix of 4 jobs, then one job that merges):
  $ s3x sync ./build s3://artifacts/run-42 --shard 2/4 --json > shard-2.ndjson
  $ s3x report merge shard-*.ndjson`)
    .action((files: string[], flags: { json?: boolean }) => {
      const merged = mergeSummaries(files.map(readSummary));
      if (flags.json) ctx.out(`${JSON.stringify({ type: 'summary', ...merged })}\n`);
      else {
        ctx.out(`${merged.shards} shards: ${merged.files} files, ${(merged.bytes / 1e6).toFixed(1)} MB in ${(merged.wallMs / 1000).toFixed(2)} s (longest shard): ` +
          `${merged.mbps.toFixed(1)} MB/s, ${merged.objectsPerSec.toFixed(1)} objects/s; requests ${merged.requests}, retries ${merged.retries}\n`);
        if (merged.plan) ctx.out(`Plan: ${merged.plan.new} new, ${merged.plan.changed} changed, ${merged.plan.unchanged} unchanged, ${merged.plan.remoteOnly} remote-only${merged.deleted !== undefined ? `, ${merged.deleted} deleted` : ''}\n`);
        if (merged.notAttempted) ctx.out(`Not attempted: ${merged.notAttempted}\n`);
        if (merged.hedged) ctx.out(`${hedgeLine(merged)}\n`);
        ctx.out(`Failed: ${merged.failed.length}\n`);
        for (const f of merged.failed as Array<{ path?: string; error?: string }>) ctx.out(`  ${printable(f.path ?? '?')}: ${printable(f.error ?? '')}\n`);
        for (const f of merged.fatal) ctx.out(`Fatal: ${printable(f)}\n`);
      }
      ctx.exitCode = merged.fatal.length > 0 ? EXIT.USAGE : merged.interrupted ? EXIT.INTERRUPTED : merged.failed.length > 0 ? EXIT.PARTIAL : EXIT.OK;
    });
}
