/** `s3x endpoints check [bucket]`: a health table of every endpoint of the pool. */
import type { Command } from 'commander';
import { checkEndpoints, EXIT } from '../../index.js';
import { addCommonOptions, connectionFromFlags, type CommonFlags } from '../common.js';
import type { CliContext } from '../context.js';
import { parseBucketOnly } from '../target.js';

export function registerEndpoints(program: Command, ctx: CliContext): void {
  const endpoints = program.command('endpoints').description('check the endpoints of the pool (reachability, credentials, bucket access, latency)');
  const check = endpoints
    .command('check')
    .description('check every endpoint: reachable, credentials valid, bucket readable (when named), latency; exit 1 if any fails')
    .argument('[bucket]', 'also check that this bucket (a name or s3://bucket) can be listed');
  addCommonOptions(check);
  check.addHelpText('after', `
Examples:
  $ s3x endpoints check --config pool.json
  $ s3x endpoints check my-bucket --endpoint-url http://127.0.0.1:7480 --endpoint-url http://127.0.0.1:7481`);
  check.action(async (bucketArg: string | undefined, flags: CommonFlags) => {
    const bucket = bucketArg === undefined ? undefined : parseBucketOnly(bucketArg);
    const { conn } = connectionFromFlags(flags, ctx.signal);
    const results = await checkEndpoints({ ...conn, ...(bucket !== undefined && { bucket }) });
    if (flags.json) {
      for (const r of results) ctx.out(`${JSON.stringify({ type: 'endpoint-check', ...r })}\n`);
    } else {
      const { default: Table } = await import('cli-table3');
      const table = new Table({
        head: ['endpoint', 'url', 'reachable', 'credentials', ...(bucket !== undefined ? [`bucket ${bucket}`] : []), 'latency ms', 'result'],
        style: { head: [], border: [], compact: true },
      });
      const yn = (v: boolean | undefined): string => (v === undefined ? '?' : v ? 'yes' : 'NO');
      for (const r of results) {
        table.push([
          r.name, r.url, yn(r.reachable), conn.unsigned && r.credentialsValid ? 'anonymous' : yn(r.credentialsValid),
          ...(bucket !== undefined ? [r.bucketAccess ?? '?'] : []),
          r.latencyMs !== undefined ? r.latencyMs.toFixed(1) : '-', r.ok ? 'ok' : `FAIL: ${r.problem}`,
        ]);
      }
      ctx.out(`${table.toString()}\n`);
    }
    ctx.exitCode = results.every((r) => r.ok) ? EXIT.OK : EXIT.PARTIAL;
  });
}
