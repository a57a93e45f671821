/**
 * What every command needs to send requests: the endpoint pool and the request engine, built
 * from ConnectionOptions, plus the preflight check that turns a wrong bucket, wrong
 * credentials or an unreachable endpoint into one clear error before any work starts.
 */
import { FatalRunError } from '../errors.js';
import type { ResolvedConnection } from '../config/options.js';
import { Endpoint } from '../endpoints/endpoint.js';
import { EndpointPool } from '../endpoints/pool.js';
import { endpointLimits, joinLimits, runLimits } from '../endpoints/limits.js';
import type { Logger } from '../logger.js';
import type { EndpointSummary } from './summary.js';
import { RequestEngine, RequestFailed, type RequestReport } from '../engine/request.js';
import { errorFacts } from '../engine/retry-policy.js';

export function openPool(conn: ResolvedConnection, logger: Logger): EndpointPool {
  // By default each endpoint may take the whole concurrency: the limiter bounds the total.
  // --bwlimit / --tpslimit: one set of buckets for the run, shared by every endpoint, plus each endpoint's own
  const shared = runLimits(conn.limits, conn.concurrency);
  const tpsBurst = conn.limits?.tpsBurst ?? 1;
  const endpoints = conn.pool.endpoints.map((spec) => new Endpoint(spec, {
    maxConcurrent: conn.concurrency, estimator: conn.estimator,
    limits: joinLimits(shared, endpointLimits(spec, tpsBurst, Math.min(spec.maxConcurrent ?? conn.concurrency, conn.concurrency))),
    ...(conn.network && { network: conn.network }),
  }, logger));
  return new EndpointPool(endpoints, conn.pool);
}

/** Node's codes for a certificate it cannot trust (tls.connect's verification errors). */
function isCertificateError(code: string): boolean {
  return /CERT|^UNABLE_TO_(GET_ISSUER|VERIFY_LEAF)/.test(code);
}

/** Turns an error that stops the whole run into its one-line message. */
export function describeFatal(err: unknown, bucket: string, endpointLabel: string): string {
  // a RequestFailed already holds the facts: read again as an error they would lose the HTTP status
  const f = err instanceof RequestFailed ? err.facts : errorFacts(err);
  switch (f.code) {
    case 'NoSuchBucket': return `bucket '${bucket}' does not exist at ${endpointLabel}`;
    case 'InvalidAccessKeyId': return `credentials rejected by ${endpointLabel}: the access key id is unknown (InvalidAccessKeyId)`;
    case 'SignatureDoesNotMatch': return `credentials rejected by ${endpointLabel}: the secret key does not match (SignatureDoesNotMatch)`;
    case 'InvalidBucketName': return `'${bucket}' is not a valid bucket name`;
    case 'CredentialsProviderError': return 'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile (or --no-sign-request for a public bucket)';
    case 'ENOTFOUND': return `cannot resolve the host of ${endpointLabel}`;
    case 'ProxyRefused': return `cannot reach ${endpointLabel}: ${f.message}`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return `TLS certificate of ${endpointLabel} does not name its host: ${f.message} (${f.code})`;
    default:
      if (isCertificateError(f.code)) return `TLS certificate of ${endpointLabel} not trusted: ${f.message} (${f.code}); pass --ca-bundle PATH or set AWS_CA_BUNDLE`;
      if (f.status === 407 || f.code === 'HTTP407') return `the proxy refused the request to ${endpointLabel}: HTTP 407 Proxy Authentication Required (check the proxy's user and password)`;
      if (/region is missing/i.test(f.message)) return 'no region: pass --region or set AWS_REGION';
      if (f.status === undefined) return `cannot reach ${endpointLabel}: ${f.code}${f.message && f.message !== f.code ? ` (${f.message})` : ''}`;
      return `${endpointLabel} refused the request: ${f.code} (HTTP ${f.status})`;
  }
}

/**
 * Lists one key of `bucket` through every endpoint (in parallel, 2 retries). Throws
 * FatalRunError when the bucket is missing, credentials are rejected or an endpoint cannot be
 * reached. AccessDenied passes: a user allowed to write may not be allowed to list.
 */
export async function preflight(engine: RequestEngine, pool: EndpointPool, bucket: string, logger: Logger): Promise<void> {
  const unreachable: string[] = [];
  await Promise.all(pool.endpoints.map(async (ep) => {
    try {
      await engine.run({
        op: 'ListObjectsV2', key: bucket, bytes: 0, endpoint: ep, retries: 2, unreported: true, kind: 'read',
        send: (e, signal) => e.store.listObjectsV2({ bucket, maxKeys: 1 }, signal),
      });
    } catch (err) {
      if (err instanceof RequestFailed && err.facts.code === 'AccessDenied') {
        logger.info({ endpoint: ep.name }, 'preflight list denied; going on (write may still be allowed)');
        return;
      }
      // In pool mode an unreachable endpoint is one of several in front of the same data: the
      // run goes on without it (its breaker is open) as long as one endpoint answers.
      if (err instanceof RequestFailed && err.facts.status === undefined && err.decision === 'retry' && pool.mode === 'pool' && pool.endpoints.length > 1) {
        const message = describeFatal(err, bucket, ep.label);
        logger.warn({ endpoint: ep.name, error: message }, 'endpoint unreachable at start; going on without it');
        unreachable.push(message);
        return;
      }
      if (err instanceof RequestFailed || !(err instanceof Error) || err.name === 'CredentialsProviderError' || /region/i.test(err.message)) {
        throw new FatalRunError(describeFatal(err, bucket, ep.label));
      }
      throw err;
    }
  }));
  if (unreachable.length === pool.endpoints.length) throw new FatalRunError(unreachable.join('; '));
}

/** Usage statistics of every endpoint of the pool, as runs report them (`--stats`, `--json`). */
export function endpointSummaries(pool: EndpointPool, copies?: ReadonlyMap<Endpoint, { ok: number; failed: number }>): EndpointSummary[] {
  return pool.endpoints.map((e) => ({
    name: e.name, url: e.label, requests: e.stats.requests, bytes: e.stats.bytes, errors: e.stats.errors,
    retries: e.stats.retries, inFlightPeak: e.stats.inFlightPeak, hedged: e.stats.hedged, hedgeWon: e.stats.hedgeWon, mbpsEst: e.estimator.mbps,
    latencyMsEst: e.estimator.latencyMs, breaker: e.breaker.state, breakerTransitions: e.breaker.transitions,
    ...(copies && { filesOk: copies.get(e)?.ok ?? 0, filesFailed: copies.get(e)?.failed ?? 0 }),
  }));
}

export type { RequestReport };
