/** `s3x ls <bucket> [prefix]` or `s3x ls s3://bucket/prefix`: flags → ListOptions → list(), printing each entry as its page arrives. */
import type { Command } from 'commander';
import { EXIT, list, type ListOptions, parseIntInRange } from '../../index.js';
import { addCommonOptions, connectionFromFlags, prefixCommand, type CommonFlags } from '../common.js';
import { renderEndpointStats } from '../render.js';
import { renderListEntry, renderListSummary } from '../render-objects.js';
import type { CliContext } from '../context.js';
import { parseTarget } from '../target.js';

interface LsFlags extends CommonFlags {
  recursive?: boolean;
  humanReadable?: boolean;
  rawPrefix?: boolean;
  pageSize?: string;
}

export function registerLs(program: Command, ctx: CliContext): void {
  const cmd = prefixCommand(program, 'ls', 'list objects under s3://<bucket>/<prefix>/, one level (folders as PRE) or --recursive',
    'lists under "<prefix>/" ("logs" lists logs/…, not logs-old/…); default: the whole bucket', '"logs" also lists logs-old/… and logs.txt')
    .option('-r, --recursive', 'every key under the prefix, not only one level')
    .option('-H, --human-readable', 'sizes as KiB/MiB/GiB instead of exact bytes')
    .option('--page-size <n>', 'keys per ListObjectsV2 page (1–1000; default the server\'s, 1000)');
  addCommonOptions(cmd);
  cmd.addHelpText('after', `
Output: "<UTC date> <time>  <size> <key>" per object and "PRE <prefix>" per folder, in key order,
then a total line. --json: one {"type":"object"|"prefix",…} record per entry, then the summary.
Pages are printed as they arrive, so memory stays flat for millions of keys.

Examples:
  $ s3x ls s3://artifacts/ --endpoint-url http://127.0.0.1:7480
  $ s3x ls s3://artifacts/builds/42 -r -H --endpoint-url http://127.0.0.1:7480
  $ s3x ls artifacts builds/42 -r -H --endpoint-url http://127.0.0.1:7480          # the same
  $ AWS_ENDPOINT_URL_S3=http://127.0.0.1:7480 s3x ls s3://artifacts/               # endpoint from the environment
  $ s3x ls s3://public-data/ --no-sign-request --endpoint-url http://127.0.0.1:7480  # a public bucket, no credentials`);

  cmd.action(async (target: string, prefixArg: string | undefined, flags: LsFlags) => {
    const { bucket, prefix } = parseTarget(target, prefixArg);
    const { conn, logger } = connectionFromFlags(flags, ctx.signal);
    const human = flags.humanReadable ?? false;
    const opts: ListOptions = {
      ...conn, bucket, prefix,
      recursive: flags.recursive ?? false,
      rawPrefix: flags.rawPrefix ?? false,
      ...(flags.pageSize !== undefined && { pageSizeKeys: parseIntInRange(flags.pageSize, '--page-size', 1, 1000) }),
      onEntry: (e) => ctx.out(flags.json ? `${JSON.stringify(e)}\n` : `${renderListEntry(e, human)}\n`),
      ...(flags.json && { onReport: (r) => ctx.out(`${JSON.stringify({ type: 'request', ...r })}\n`) }),
    };
    const summary = await list(opts);
    if (flags.json) ctx.out(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
    else {
      if (flags.stats && summary.endpoints.length > 0) ctx.out(`${await renderEndpointStats(summary.endpoints)}\n`);
      ctx.out(`${renderListSummary(summary, human)}\n`);
    }
    logger.info({ objects: summary.objects, pages: summary.pages, wallMs: Math.round(summary.wallMs) }, 'ls finished');
    ctx.exitCode = summary.interrupted ? EXIT.INTERRUPTED : EXIT.OK;
  });
}
