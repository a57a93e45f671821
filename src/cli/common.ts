/** Options every S3 command shares, and their mapping to ConnectionOptions. */
import { Option, type Command } from 'commander';
import {
  type ConnectionOptions, DEFAULT_CONCURRENCY, DEFAULT_ESTIMATOR, DEFAULT_RETRY, type Logger, MAX_TPS_LIMIT, parseBwLimit,
  parseIntInRange, parseNumberInRange,
} from '../index.js';
import { parseHedgeAfter, parseHedgeBudget } from '../index.js';
import { createLogger } from './logging.js';

/** commander accumulator for repeatable options */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export interface CommonFlags {
  config?: string;
  mode?: string;
  strategy?: string;
  stats?: boolean;
  endpointUrl?: string[];
  region?: string;
  profile?: string;
  /** false with --no-sign-request */
  signRequest: boolean;
  concurrency: string;
  retries: string;
  deadlineFraction: string;
  deadlineBackoff: string;
  minDeadlineMs: string;
  maxDeadlineMs: string;
  expectedMbps: string;
  hedge: boolean;
  hedgeAfter: string;
  hedgeBudget: string;
  json?: boolean;
  progress: boolean;
  logLevel: string;
  logFile?: string;
  bwlimit?: string;
  tpslimit?: string;
  tpslimitBurst?: string;
  caBundle?: string;
  verifySsl?: boolean;
}

/**
 * A command over s3://<bucket>/<prefix>/ by the folder rule (ls, delete-prefix, cleanup-multipart):
 * the same two arguments and --raw-prefix everywhere, worded with the command's own verb. The
 * action reads them with parseTarget (./target.ts): `bucket [prefix]` or `s3://bucket/prefix`.
 */
export function prefixCommand(program: Command, name: string, description: string, prefixHelp: string, rawPrefixExample: string): Command {
  return program
    .command(name)
    .description(description)
    .argument('<bucket>', 'bucket, or s3://bucket/prefix')
    .argument('[prefix]', `${prefixHelp} (when <bucket> is a plain name)`)
    .option('--raw-prefix', `match the prefix as a plain string: ${rawPrefixExample}`);
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--endpoint-url <url>', 'S3 endpoint; repeat for several gateways in front of the same data (default: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS S3), e.g. --endpoint-url http://127.0.0.1:7480', collect)
    .option('--config <file>', 'JSON endpoint pool config: endpoints with their own credentials, limits, breakers; mode; strategy; bucketMap (also S3X_CONFIG)')
    .addOption(new Option('--mode <mode>', 'pool: endpoints front the same data; replicate: write every object to every endpoint; fallback: write to the first, read in order').choices(['pool', 'replicate', 'fallback']))
    .addOption(new Option('--strategy <name>', 'how the pool picks an endpoint (default adaptive: earliest expected finish)').choices(['adaptive', 'least-loaded', 'round-robin', 'bucket-map']))
    .option('--stats', 'print per-endpoint usage statistics at the end (requests, bytes, errors, retries, breaker, estimates)')
    .option('--region <region>', 'signing region (default: AWS_REGION, the profile\'s, else us-east-1)')
    .option('--profile <name>', 'AWS shared-config profile for credentials')
    .option('--no-sign-request', 'send anonymous requests, for public buckets: no credentials needed or looked up, e.g. s3x ls s3://public-data/ --no-sign-request')
    .option('-c, --concurrency <n>', 'requests in flight at once, over all endpoints (1–1024)', String(DEFAULT_CONCURRENCY))
    .option('--retries <n>', 'retries per request after the first attempt (0–100)', String(DEFAULT_RETRY.retries))
    .addOption(new Option('--deadline-fraction <x>', 'request deadline = x × expected time from the bandwidth estimate (1–100)').default(String(DEFAULT_ESTIMATOR.fraction)))
    .addOption(new Option('--deadline-backoff <x>', 'deadline multiplier per retry (1–10)').default(String(DEFAULT_ESTIMATOR.backoff)))
    .addOption(new Option('--min-deadline-ms <ms>', 'smallest first-attempt deadline until the endpoint\'s p99 is known, ms (100–3600000)').default(String(DEFAULT_ESTIMATOR.minMs)))
    .addOption(new Option('--max-deadline-ms <ms>', 'largest first-attempt deadline, ms (1000–86400000)').default(String(DEFAULT_ESTIMATOR.maxMs)))
    .addOption(new Option('--expected-mbps <MBps>', 'bandwidth assumed per endpoint until measured, MB/s (0.01–100000)').default(String(DEFAULT_ESTIMATOR.expectedMBps)))
    .option('--hedge-after <pNN>', 'send a second copy of an idempotent request (PUT of a file, part, GET, HEAD, list page) once it has run past this percentile of its endpoint\'s times; the first answer wins, e.g. --hedge-after p99', 'p95')
    .option('--hedge-budget <percent>', 'hedges sent at most, as a share of requests (each request earns that share of a hedge, at most 10 saved), e.g. --hedge-budget 10%', '5%')
    .option('--no-hedge', 'never send a second copy of a slow request (default: hedge after the endpoint\'s p95, at most 5% of requests), e.g. s3x upload dir bkt --no-hedge')
    .option('--json', 'write NDJSON to stdout: one record per request, then the summary')
    .option('--no-progress', 'no live progress on stderr (it only shows on a terminal anyway)')
    .option('--log-level <level>', 'log level of the NDJSON log on stderr: fatal|error|warn|info|debug|trace|silent', 'warn')
    .option('--log-file <path>', 'write the log to this file instead of stderr')
    .option('--bwlimit <rate>', 'bandwidth limit of the whole run, bodies sent and received together, as rclone: 10M = 10 MiB/s, 512k, 50MiB/s, 50MB/s (10^6), a bare number is KiB/s; UP:DOWN for each way (10M:off); off = none. Example: --bwlimit 20MiB/s')
    .option('--tpslimit <n>', 'HTTP requests per second over the whole run, every request and retry counted (0 = none). Example: --tpslimit 50')
    .option('--tpslimit-burst <n>', 'requests --tpslimit lets go at once after a pause (default 1). Example: --tpslimit 50 --tpslimit-burst 10')
    .option('--ca-bundle <path>', 'PEM file of CA certificates to trust besides the system ones (default: AWS_CA_BUNDLE), e.g. --ca-bundle ./corp-ca.pem')
    .option('--no-verify-ssl', 'do not verify TLS certificates (as aws-cli; prints a warning), e.g. --endpoint-url https://10.0.0.5:7480 --no-verify-ssl');
}

export function connectionFromFlags(f: CommonFlags, signal: AbortSignal): { conn: ConnectionOptions; logger: Logger } {
  const logger = createLogger(f.logLevel, f.logFile);
  const conn: ConnectionOptions = {
    ...(f.config !== undefined && { configFile: f.config }),
    ...(f.mode !== undefined && { mode: f.mode }),
    ...(f.strategy !== undefined && { strategy: f.strategy }),
    ...(f.endpointUrl && { endpointUrls: f.endpointUrl }),
    ...(f.region !== undefined && { region: f.region }),
    ...(f.profile !== undefined && { profile: f.profile }),
    ...(f.signRequest === false && { unsigned: true }),
    concurrency: parseIntInRange(f.concurrency, '--concurrency', 1, 1024),
    retry: { retries: parseIntInRange(f.retries, '--retries', 0, 100) },
    estimator: {
      fraction: parseNumberInRange(f.deadlineFraction, '--deadline-fraction', 1, 100),
      backoff: parseNumberInRange(f.deadlineBackoff, '--deadline-backoff', 1, 10),
      minMs: parseNumberInRange(f.minDeadlineMs, '--min-deadline-ms', 100, 3_600_000),
      maxMs: parseNumberInRange(f.maxDeadlineMs, '--max-deadline-ms', 1000, 86_400_000),
      expectedMBps: parseNumberInRange(f.expectedMbps, '--expected-mbps', 0.01, 100_000),
    },
    hedge: { enabled: f.hedge, afterQuantile: parseHedgeAfter(f.hedgeAfter), budgetFraction: parseHedgeBudget(f.hedgeBudget) },
    logger,
    signal,
    ...(f.bwlimit !== undefined && { bwlimit: parseBwLimit(f.bwlimit, '--bwlimit') }),
    ...(f.tpslimit !== undefined && { tpsLimit: parseNumberInRange(f.tpslimit, '--tpslimit', 0, MAX_TPS_LIMIT) }),
    ...(f.tpslimitBurst !== undefined && { tpsBurst: parseIntInRange(f.tpslimitBurst, '--tpslimit-burst', 1, MAX_TPS_LIMIT) }),
    ...(f.caBundle !== undefined && { caBundle: f.caBundle }),
    ...(f.verifySsl === false && { verifySsl: false }),
  };
  if (f.verifySsl === false) process.stderr.write('s3x: warning: --no-verify-ssl: TLS certificates are not verified; anyone on the network path can read and change the data\n');
  return { conn, logger };
}
