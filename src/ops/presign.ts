/**
 * `presign`: a SigV4 query-string-signed URL for one object, GET (download) or PUT (upload),
 * that anyone holding it can use with curl until it expires. Nothing is sent to the server.
 *
 * Signed with @smithy/signature-v4 (the SDK's own signer, already a dependency) rather than
 * @aws-sdk/s3-request-presigner (not installed; it wraps the same signer). Only `host` is a
 * signed header and the payload is UNSIGNED-PAYLOAD, so `curl URL` and
 * `curl -X PUT --upload-file f URL` work as they are, with any Content-Type.
 */
import crypto from 'node:crypto';
import type { Checksum, HttpRequest, SourceData } from '@smithy/types';
import { resolveConnection, type ConnectionOptions } from '../config/options.js';
import { UsageError } from '../errors.js';
import { encodeKeyPath } from '../endpoints/signed-http.js';
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

const QUERY_SAFE = /^[A-Za-z0-9\-._~]*$/;
/** RFC 3986 encoding, as SigV4 canonicalises query keys and values. */
function rfc3986(v: string): string {
  return QUERY_SAFE.test(v) ? v : encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Checks a lifetime in seconds: a whole number from 1 to 604800. */
export function checkExpires(expiresInSec: number): number {
  if (!Number.isInteger(expiresInSec) || expiresInSec < 1) {
    throw new UsageError(`--expires must be a whole number of seconds ≥ 1, got ${expiresInSec}`);
  }
  if (expiresInSec > MAX_PRESIGN_EXPIRES_SEC) {
    throw new UsageError(`--expires ${expiresInSec} is more than 7 days (${MAX_PRESIGN_EXPIRES_SEC} s), the longest a SigV4 presigned URL can live`);
  }
  return expiresInSec;
}

/** SHA-256 / HMAC-SHA-256 for the signer (smithy `Checksum`), on node:crypto. */
class NodeSha256 implements Checksum {
  private hash: crypto.Hash | crypto.Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = NodeSha256.create(secret);
  }

  private static create(secret: SourceData | undefined): crypto.Hash | crypto.Hmac {
    if (secret === undefined) return crypto.createHash('sha256');
    // the signer passes strings (the secret, first round) and the previous digests (Uint8Array)
    if (typeof secret === 'string' || secret instanceof Uint8Array) return crypto.createHmac('sha256', secret);
    return crypto.createHmac('sha256', ArrayBuffer.isView(secret)
      ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
      : new Uint8Array(secret));
  }

  update(chunk: Uint8Array): void { this.hash.update(chunk); }
  digest(): Promise<Uint8Array> { return Promise.resolve(this.hash.digest()); }
  reset(): void { this.hash = NodeSha256.create(this.secret); }
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
    // loaded here only: the signer and what it imports cost start-up time every other command would pay
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const signer = new SignatureV4({ service: 's3', region, credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    const request: HttpRequest = {
      method, protocol, hostname: host.replace(/:\d+$/, ''), path, query: {},
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    };
    const now = opts.now ?? new Date();
    // x-amz-content-sha256 only tells the signer the payload is unsigned: neither sent nor signed
    const bare = new Set(['x-amz-content-sha256']);
    const signed = await signer.presign(request, { expiresIn: expiresInSec, signingDate: now, unhoistableHeaders: bare, unsignableHeaders: bare });
    const query = Object.entries(signed.query ?? {})
      .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string').map((x) => `${rfc3986(k)}=${rfc3986(x)}`))
      .join('&');
    return {
      url: `${protocol}//${host}${path}?${query}`, method, expiresInSec,
      expiresAt: new Date(now.getTime() + expiresInSec * 1000), endpoint: ep.label,
    };
  } finally {
    pool.destroy();
  }
}
