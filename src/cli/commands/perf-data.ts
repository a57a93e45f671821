/** `s3x perf-data [dir] [bucket] [prefix]`: repeated uploads, per-request table, statistics. */
import type { Command } from 'commander';
import {
  type ConnectionOptions, ensureGenerated, envEndpointUrl, EXIT, formatBytes, generatedDir, parseGenerate, perfData, type PerfSummary, type RequestReport,
  type Stat, UsageError,
} from '../../index.js';
import type { CliContext } from '../context.js';
import { useLocalGateways } from '../local-gateways.js';
import { renderRequestTable } from '../render.js';
import { parseTarget } from '../target.js';
import { addTransferOptions, startTransfer, type TransferFlags } from '../transfer.js';

interface PerfFlags extends TransferFlags {
  n: string;
  generate?: string;
  local?: boolean;
  requests: boolean;
}

export function registerPerfData(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('perf-data')
    .description('benchmark runs (s3-algo\'s perf_data): upload a directory -n times; per-request table, per-run and across-run statistics')
    .argument('[dir]', 'directory to upload (with --generate: a new or empty directory for the generated tree; default a temp dir)')
    .argument('[bucket]', 'bucket, or s3://bucket/prefix (default s3x-perf)', 's3x-perf')
    .argument('[prefix]', 'key prefix when <bucket> is a plain name (each run overwrites the same keys; default perf-data)')
    .option('-n <runs>', 'number of runs', '3')
    .option('--generate <spec>', 'generate a deterministic tree first: files=N,size=S[,dirs=D] (e.g. files=2000,size=4KiB,dirs=20)')
    .option('--local', 'start local Ceph gateways with scripts/ceph-rgw.sh (or reuse running ones) and use them')
    .option('--no-requests', 'do not print the per-request table of each run');
  addTransferOptions(cmd);
  cmd.addHelpText('after', `
Examples:
  $ s3x perf-data --local --generate files=2000,size=4KiB,dirs=20 -n 3
  $ s3x perf-data ./data s3://bench/run --config pool.json -n 5 --no-requests --json`);

  cmd.action(async (dirArg: string | undefined, target: string, prefixArg: string | undefined, flags: PerfFlags) => {
    const { bucket, prefix } = parseTarget(target, prefixArg, 'perf-data');
    const spec = flags.generate !== undefined ? parseGenerate(flags.generate) : undefined;
    const dir = dirArg ?? (spec ? generatedDir(spec) : undefined);
    if (!dir) throw new UsageError('perf-data needs a directory, or --generate files=N,size=S to make one');
    // --local: the gateways' credentials and region go in as options (process.env is left alone)
    let local: Pick<ConnectionOptions, 'credentials' | 'region'> = {};
    if (flags.local) {
      const gw = await useLocalGateways(bucket, flags.region);
      flags.endpointUrl = gw.urls;
      local = gw.conn;
    } else if (!flags.endpointUrl && !flags.config && !process.env.S3X_CONFIG && !Object.keys(process.env).some((k) => k.startsWith('S3X_ENDPOINT_'))
      && !envEndpointUrl(process.env)) {
      throw new UsageError('perf-data needs endpoints: pass --endpoint-url URL (repeatable) or --config FILE, or --local to start local Ceph gateways');
    }
    if (spec) await ensureGenerated(dir, spec);
    const run = await startTransfer(ctx, dir, bucket, prefix, flags);
    let reports: RequestReport[] = [];
    const summary = await perfData({
      ...run.opts,
      ...local,
      runs: Number(flags.n),
      onReport: (r) => { reports.push(r); run.opts.onReport?.(r); },
      onRun: async (r) => {
        run.stop();
        const s = r.summary;
        if (flags.json) ctx.out(`${JSON.stringify({ type: 'run', run: r.run, cpuMs: r.cpuMs, cpuMsPerRequest: r.cpuMsPerRequest, ...s })}\n`);
        else {
          if (flags.requests && reports.length > 0) ctx.out(`${await renderRequestTable(reports)}\n`);
          ctx.out(`run ${r.run}: ${s.files} files, ${formatBytes(s.bytes)} in ${(s.wallMs / 1000).toFixed(2)} s: ${s.mbps.toFixed(1)} MB/s, ` +
            `${s.objectsPerSec.toFixed(1)} objects/s, ${s.requests} requests, ${s.retries} retries, ${s.failed.length} failed, ` +
            `client CPU ${r.cpuMsPerRequest.toFixed(3)} ms/request\n`);
        }
        reports = [];
      },
    });
    if (flags.json) ctx.out(`${JSON.stringify({ type: 'summary', ...summary, runs: summary.runs.length })}\n`);
    else ctx.out(renderAcrossRuns(summary));
    const last = summary.runs.at(-1)?.summary;
    ctx.exitCode = last?.fatal ? EXIT.USAGE : last?.interrupted ? EXIT.INTERRUPTED : summary.failed > 0 ? EXIT.PARTIAL : EXIT.OK;
  });
}

/** The across-runs statistics block of the human output. */
function renderAcrossRuns(summary: PerfSummary): string {
  const fmt = (x: Stat, d: number, unit: string): string => `${x.median.toFixed(d)} ${unit} (min ${x.min.toFixed(d)}, max ${x.max.toFixed(d)})`;
  return `Across ${summary.runs.length} runs (median, min, max):\n` +
    `  wall        ${fmt({ median: summary.wallMs.median / 1000, min: summary.wallMs.min / 1000, max: summary.wallMs.max / 1000 }, 2, 's')}\n` +
    `  throughput  ${fmt(summary.mbps, 1, 'MB/s')}\n` +
    `  objects/s   ${fmt(summary.objectsPerSec, 1, '')}\n` +
    `  client CPU  ${fmt(summary.cpuMsPerRequest, 3, 'ms/request')}\n` +
    `  peak RSS    ${formatBytes(summary.peakRssBytes)}; retries ${summary.retries}; failed ${summary.failed}\n`;
}
