/**
 * What every command needs to send requests: the endpoint pool and the request engine, built
 * from ConnectionOptions, plus the preflight check that turns a wrong bucket, wrong
 * credentials or an unreachable endpoint into one clear error before any work starts.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { FatalRunError } from '../errors.js';
import type { ResolvedConnection } from '../config/options.js';
import { Endpoint } from '../endpoints/endpoint.js';
import { EndpointPool } from '../endpoints/pool.js';
import type { Logger } from '../logger.js';
import { RequestEngine, RequestFailed, type RequestReport } from './request.js';
import { errorFacts } from './retry-policy.js';

export function openPool(conn: ResolvedConnection, logger: Logger): EndpointPool {
  const urls: (string | undefined)[] = conn.endpointUrls.length > 0 ? conn.endpointUrls : [undefined];
  const endpoints = urls.map((url, i) => new Endpoint({
    name: urls.length > 1 ? `ep${i + 1}` : url ? new URL(url).host : 'aws',
    ...(url !== undefined && { url }),
    ...(conn.region !== undefined && { region: conn.region }),
    ...(conn.profile !== undefined && { profile: conn.profile }),
    ...(conn.credentials !== undefined && { credentials: conn.credentials }),
    // each endpoint may take the whole concurrency: the limiter bounds the total
    maxConcurrent: conn.concurrency,
    pathStyle: url !== undefined,
  }, conn.estimator, logger));
  // Several --endpoint-url are, by definition, gateways in front of the same data.
  return new EndpointPool(endpoints, true);
}

/** Turns an error that stops the whole run into its one-line message. */
export function describeFatal(err: unknown, bucket: string, endpointLabel: string): string {
  const f = errorFacts(err instanceof RequestFailed ? err.facts : err);
  switch (f.code) {
    case 'NoSuchBucket': return `bucket '${bucket}' does not exist at ${endpointLabel}`;
    case 'InvalidAccessKeyId': return `credentials rejected by ${endpointLabel}: the access key id is unknown (InvalidAccessKeyId)`;
    case 'SignatureDoesNotMatch': return `credentials rejected by ${endpointLabel}: the secret key does not match (SignatureDoesNotMatch)`;
    case 'InvalidBucketName': return `'${bucket}' is not a valid bucket name`;
    case 'CredentialsProviderError': return 'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile';
    case 'ENOTFOUND': return `cannot resolve the host of ${endpointLabel}`;
    default:
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
  await Promise.all(pool.endpoints.map(async (ep) => {
    try {
      await engine.run({
        op: 'ListObjectsV2', key: bucket, bytes: 0, endpoint: ep, retries: 2, unreported: true,
        send: (e, signal) => e.client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }), { abortSignal: signal }),
      });
    } catch (err) {
      if (err instanceof RequestFailed && err.facts.code === 'AccessDenied') {
        logger.info({ endpoint: ep.name }, 'preflight list denied; going on (write may still be allowed)');
        return;
      }
      if (err instanceof RequestFailed || !(err instanceof Error) || err.name === 'CredentialsProviderError' || /region/i.test(err.message)) {
        throw new FatalRunError(describeFatal(err, bucket, ep.label));
      }
      throw err;
    }
  }));
}

export type { RequestReport };
