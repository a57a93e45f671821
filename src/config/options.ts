/**
 * Options shared by every command that talks to S3, with their defaults and ranges, and the
 * function that checks them. Units are in the names.
 */
import { UsageError } from '../errors.js';
import { DEFAULT_ESTIMATOR, DEFAULT_HEDGE, DEFAULT_RETRY, type EstimatorConfig, type HedgeConfig, type RetryConfig } from './defaults.js';
import { MAX_PART_BYTES, MAX_PUT_BYTES, MIB, MIN_PART_BYTES } from './multipart.js';
import type { Logger } from '../logger.js';
import { MAX_TPS_LIMIT, resolvePoolSpec, type PoolSpec } from './pool-config.js';
import { MIN_BWLIMIT_BYTES_PER_SECOND, type BwLimit } from './units.js';
import { resolveNetwork, type NetworkSpec } from './network.js';

export interface ConnectionOptions {
  /** JSON pool config (endpoints with their own settings, mode, strategy, bucketMap); also S3X_CONFIG */
  configFile?: string;
  /** endpoint base URLs; several = endpoints in front of the same data; replaces the config's list. Empty: AWS S3 */
  endpointUrls?: string[];
  /** pool (default) | replicate | fallback */
  mode?: string;
  /** adaptive (default) | least-loaded | round-robin | bucket-map */
  strategy?: string;
  /** signing region; default AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1 */
  region?: string;
  /** AWS shared-config profile */
  profile?: string;
  /** explicit credentials (library use); default: the AWS chain (env, profile, …). Never logged. */
  credentials?: Credentials;
  /** --no-sign-request: send anonymous requests (public buckets); no credentials are looked up */
  unsigned?: boolean;
  /** requests in flight at once over all endpoints; default 16, range 1–1024 */
  concurrency?: number;
  retry?: Partial<RetryConfig>;
  estimator?: Partial<EstimatorConfig>;
  /** hedged requests (engine/request.ts): on by default, after the endpoint's p95 */
  hedge?: Partial<HedgeConfig>;
  logger?: Logger;
  /** aborts the run: in-flight requests are cut, open multipart uploads aborted */
  signal?: AbortSignal;
  /** --bwlimit: body bytes per second over the whole run (each endpoint may add its own in the config) */
  bwlimit?: BwLimit;
  /** --tpslimit: HTTP requests per second over the whole run (every attempt counts); 0 or absent: none */
  tpsLimit?: number;
  /** --tpslimit-burst: requests that may go at once after a pause; default 1 */
  tpsBurst?: number;
  /** PEM file of extra trusted CAs (aws-cli's --ca-bundle); default AWS_CA_BUNDLE */
  caBundle?: string;
  /** false: do not verify TLS certificates (aws-cli's --no-verify-ssl); default true */
  verifySsl?: boolean;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const DEFAULT_CONCURRENCY = 16;
/** Files at or above this size go multipart; default 64 MiB (one PUT is cheapest below it). */
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 64 * MIB;
/** Part size of multipart uploads; default 16 MiB, range 5 MiB – 5 GiB. */
export const DEFAULT_PART_SIZE_BYTES = 16 * MIB;

export interface ResolvedConnection {
  pool: PoolSpec;
  concurrency: number;
  retry: RetryConfig;
  estimator: EstimatorConfig;
  /** absent: no limits (unit tests build connections by hand) */
  limits?: RunLimits;
  /** proxy (HTTPS_PROXY/HTTP_PROXY/NO_PROXY) and trusted CAs, for every endpoint */
  network?: NetworkSpec;
  /** resolveConnection always sets it; absent (a hand-made connection): no hedging */
  hedge?: HedgeConfig;
}

/** The run-wide limits, checked (endpoints/endpoint.ts turns them and each endpoint's into token buckets). */
export interface RunLimits {
  bwlimit: BwLimit;
  /** requests per second, 0: none */
  tpsLimit: number;
  tpsBurst: number;
}


/** Checks the run-wide limits (library callers pass numbers; the CLI parsed them already). */
export function resolveLimits(o: Pick<ConnectionOptions, 'bwlimit' | 'tpsLimit' | 'tpsBurst'>): RunLimits {
  const bwlimit = o.bwlimit ?? {};
  for (const [k, v] of Object.entries(bwlimit) as Array<[string, number | undefined]>) {
    if (v !== undefined && !(Number.isFinite(v) && v >= MIN_BWLIMIT_BYTES_PER_SECOND)) {
      throw new UsageError(`--bwlimit: ${k} must be at least ${MIN_BWLIMIT_BYTES_PER_SECOND} bytes per second, got ${v}`);
    }
  }
  const tpsLimit = o.tpsLimit ?? 0;
  if (!(Number.isFinite(tpsLimit) && tpsLimit >= 0 && tpsLimit <= MAX_TPS_LIMIT)) throw new UsageError(`--tpslimit must be a number from 0 (none) to ${MAX_TPS_LIMIT}, got ${tpsLimit}`);
  const tpsBurst = o.tpsBurst ?? 1;
  if (!Number.isInteger(tpsBurst) || tpsBurst < 1 || tpsBurst > MAX_TPS_LIMIT) throw new UsageError(`--tpslimit-burst must be a whole number from 1 to ${MAX_TPS_LIMIT}, got ${tpsBurst}`);
  return { bwlimit, tpsLimit, tpsBurst };
}

export function resolveConnection(o: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 1024, got ${concurrency}`);
  }
  const retry = { ...DEFAULT_RETRY, ...o.retry };
  if (!Number.isInteger(retry.retries) || retry.retries < 0 || retry.retries > 100) {
    throw new UsageError(`--retries must be a whole number from 0 to 100, got ${retry.retries}`);
  }
  const estimator = { ...DEFAULT_ESTIMATOR, ...o.estimator };
  const hedge = { ...DEFAULT_HEDGE, ...o.hedge };
  if (!(hedge.afterQuantile >= 0.5 && hedge.afterQuantile <= 0.999)) {
    throw new UsageError(`--hedge-after must be a percentile from p50 to p99.9, got ${hedge.afterQuantile}`);
  }
  if (!(hedge.budgetFraction > 0 && hedge.budgetFraction <= 0.5)) {
    throw new UsageError(`--hedge-budget must be a share of requests above 0 and at most 50%, got ${hedge.budgetFraction}`);
  }
  const region = o.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (o.profile || env.AWS_PROFILE ? undefined : 'us-east-1');
  const pool = resolvePoolSpec({
    ...(o.configFile !== undefined && { configFile: o.configFile }),
    ...(o.endpointUrls !== undefined && { endpointUrls: o.endpointUrls }),
    ...(region !== undefined && { region }),
    ...(o.profile !== undefined && { profile: o.profile }),
    ...(o.mode !== undefined && { mode: o.mode }),
    ...(o.strategy !== undefined && { strategy: o.strategy }),
    ...(o.credentials !== undefined && { credentials: o.credentials }),
    ...(o.unsigned === true && { unsigned: true }),
  }, env);
  const network = resolveNetwork({
    ...(o.profile !== undefined && { profile: o.profile }),
    ...(o.caBundle !== undefined && { caBundle: o.caBundle }),
    ...(o.verifySsl !== undefined && { verifySsl: o.verifySsl }),
  }, env);
  return { pool, concurrency, retry, estimator, limits: resolveLimits(o), network, hedge };
}

/** Checks part size and threshold; returns them. */
export function resolveMultipart(partSizeBytes = DEFAULT_PART_SIZE_BYTES, thresholdBytes = DEFAULT_MULTIPART_THRESHOLD_BYTES): { partSizeBytes: number; thresholdBytes: number } {
  if (partSizeBytes < MIN_PART_BYTES || partSizeBytes > MAX_PART_BYTES) {
    throw new UsageError(`--part-size must be from 5 MiB to 5 GiB (S3's limits), got ${partSizeBytes} bytes`);
  }
  if (thresholdBytes < 1 || thresholdBytes > MAX_PUT_BYTES) {
    throw new UsageError(`--multipart-threshold must be from 1 byte to 5 GiB (S3's largest single PUT), got ${thresholdBytes} bytes`);
  }
  return { partSizeBytes, thresholdBytes };
}

/** `--hedge-budget 5%` (also `0.05`): hedges as a share of requests, more than 0 and at most 50% (a copy of every other request). */
export function parseHedgeBudget(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  // with % a percentage (5%), bare a share (0.05): a bare 5 is refused, not read as 500%
  const share = !m ? Number.NaN : m[2] ? Number(m[1]) / 100 : Number(m[1]);
  if (!(share > 0 && share <= 0.5)) {
    throw new UsageError(`--hedge-budget: '${text}' must be a share of requests above 0 and at most 50%, e.g. 5% or 0.05 (--no-hedge sends none)`);
  }
  return share;
}

/** `--hedge-after p95` (also `p99.9`, `95`): the percentile as a quantile, p50–p99.9. */
export function parseHedgeAfter(text: string): number {
  const m = /^p?(\d{2}(?:\.\d+)?)$/i.exec(text.trim());
  const pct = m ? Number(m[1]) : Number.NaN;
  if (!(pct >= 50 && pct <= 99.9)) throw new UsageError(`--hedge-after: '${text}' must be a percentile from p50 to p99.9, e.g. p95`);
  // two integers divided, so p99.9 is 0.999 (99.9 / 100 is 0.9990000000000001, past the run's check)
  return Math.round(pct * 1e6) / 1e8;
}
