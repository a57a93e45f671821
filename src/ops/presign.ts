/**
 * `presign`: a SigV4 query-string-signed URL for one object, GET (download) or PUT (upload),
 * that anyone holding it can use with curl until it expires. Nothing is sent to the server.
 *
 * Signed by endpoints/sigv4.ts, the signer of the data path (test/unit/sigv4.test.ts checks
 * its URLs against @smithy/signature-v4's presign, which the SDK's presigner wraps). Only `host` is a
 * signed header and the payload is UNSIGNED-PAYLOAD, so `curl URL` and
 * `curl -X PUT --upload-file f URL` work as they are, with any Content-Type.
 */
import { resolveConnection, type ConnectionOptions } from '../config/options.js';
import { UsageError } from '../errors.js';
import { encodeKeyPath } from '../endpoints/signed-http.js';
import { rfc3986, SigV4Signer } from '../endpoints/sigv4.js';
import { silentLogger } from '../logger.js';
import { openPool } from '../run/context.js';

/** The longest a SigV4 presigned URL may live: 7 days, in seconds. */
export const MAX_PRESIGN_EXPIRES_SEC = 7 * 24 * 3600;
/** Default lifetime of a presigned URL, seconds (as aws-cli). */
export const DEFAULT_PRESIGN_EXPIRES_SEC = 3600;

export type PresignMethod = 'GET' | 'PUT';

export interface PresignOptions extends Pick<ConnectionOptions, 'configFile' | 'endpointUrls' | 'region' | 'profile' | 'credentials'> {
  bucket: string;
  key: string;
  /** GET (default) downloads the object, PUT uploads it */
  method?: PresignMethod;
  /** lifetime in seconds, 1 – 604800 (7 days); default 3600 */
  expiresInSec?: number;
  /** signing time; default now (tests pin it) */
  now?: Date;
}

export interface PresignedUrl {
  url: string;
  method: PresignMethod;
  expiresInSec: number;
  expiresAt: Date;
  /** the endpoint the URL points at (the first of endpointUrls, or AWS) */
  endpoint: string;
}

/** Checks a lifetime in seconds: a whole number from 1 to 604800. */
export function checkExpires(expiresInSec: number, flag = '--expires'): number {
  if (!Number.isInteger(expiresInSec) || expiresInSec < 1) {
    throw new UsageError(`${flag} must be a whole number of seconds ≥ 1, got ${expiresInSec}`);
  }
  if (expiresInSec > MAX_PRESIGN_EXPIRES_SEC) {
    throw new UsageError(`${flag} ${expiresInSec} is more than 7 days (${MAX_PRESIGN_EXPIRES_SEC} s), the longest a SigV4 presigned URL can live`);
  }
  return expiresInSec;
}

/** Presigns bucket/key for `method` with the first endpoint's credentials. */
export async function presign(opts: PresignOptions): Promise<PresignedUrl> {
  if (!opts.bucket) throw new UsageError('a bucket name is required');
  if (!opts.key) throw new UsageError('an object key is required');
  const method = opts.method ?? 'GET';
  if (method !== 'GET' && method !== 'PUT') throw new UsageError(`--method must be GET or PUT, got '${String(method)}'`);
  const expiresInSec = checkExpires(opts.expiresInSec ?? DEFAULT_PRESIGN_EXPIRES_SEC);
  const conn = resolveConnection({ ...opts, concurrency: 1 });
  // the first endpoint of the pool (the one fallback mode writes to) signs and is the URL's host
  const pool = openPool({ ...conn, pool: { ...conn.pool, endpoints: conn.pool.endpoints.slice(0, 1) } }, silentLogger);
  try {
    const ep = pool.endpoints[0]!;
    let region: string;
    try {
      region = ep.config.region ?? await (await ep.sdkClient()).config.region();
    } catch {
      throw new UsageError('no region: pass --region or set AWS_REGION');
    }
    let credentials;
    try {
      credentials = await ep.credentials();
    } catch {
      throw new UsageError('no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile');
    }
    const keyPath = encodeKeyPath(opts.key);
    let protocol: string;
    let host: string;
    let path: string;
    if (ep.config.url !== undefined) {
      const u = new URL(ep.config.url);
      const base = u.pathname.replace(/\/+$/, '');
      protocol = u.protocol;
      host = ep.config.pathStyle ? u.host : `${opts.bucket}.${u.host}`;
      path = ep.config.pathStyle ? `${base}/${opts.bucket}/${keyPath}` : `${base}/${keyPath}`;
    } else {
      // AWS: virtual-hosted style when the bucket name allows it (no dots: TLS wildcard)
      protocol = 'https:';
      const virtual = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(opts.bucket);
      host = virtual ? `${opts.bucket}.s3.${region}.amazonaws.com` : `s3.${region}.amazonaws.com`;
      path = virtual ? `/${keyPath}` : `/${opts.bucket}/${keyPath}`;
    }
    const now = opts.now ?? new Date();
    const signed = await new SigV4Signer(region, async () => credentials).presign({ method, host, path }, now, expiresInSec);
    const query = Object.entries(signed).map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
    return {
      url: `${protocol}//${host}${path}?${query}`, method, expiresInSec,
      expiresAt: new Date(now.getTime() + expiresInSec * 1000), endpoint: ep.label,
    };
  } finally {
    pool.destroy();
  }
}
