/**
 * AWS Signature Version 4 for S3 header-signed requests, on node:crypto alone. It signs exactly
 * as @smithy/signature-v4 does with `uriEscapePath: false` and `applyChecksum: false` (the
 * options ./signed-http.ts used; test/unit/sigv4.test.ts compares both on the same requests).
 * Why our own: importing @smithy/signature-v4 pulls in ~200 KB of @smithy/core and node:stream
 * at start-up (issue 12: `s3x ls` in ≤ 0.1 s), and the signing key is cached per day here.
 * `presign` signs query-string URLs as smithy's presign does (ops/presign.ts; same test).
 */
import crypto from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** What is signed: the path and query exactly as sent (already encoded), lower-case header names. */
export interface RequestToSign {
  method: string;
  /** encoded request path, e.g. /bucket/a%20b */
  path: string;
  /** raw query values (encoded here as the canonical query wants) */
  query: Readonly<Record<string, string>>;
  /** lower-case names; must hold `host` and `x-amz-content-sha256` */
  headers: Record<string, string>;
}

/** Headers the signer never signs (smithy's ALWAYS_UNSIGNABLE_HEADERS). */
const UNSIGNABLE = new Set([
  'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma',
  'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id',
]);

const QUERY_SAFE = /^[A-Za-z0-9\-._~]*$/;
/** RFC 3986 encoding, as the canonical query wants it. */
export function rfc3986(value: string): string {
  return QUERY_SAFE.test(value) ? value : encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: crypto.BinaryLike | crypto.KeyObject, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** the last second formatted: thousands of requests are signed within one second */
let lastAmzDate: { second: number; long: string; short: string } | undefined;

/** `20261201T163414Z` and `20261201` of a signing time. */
function amzDate(at: Date): { long: string; short: string } {
  const second = Math.floor(at.getTime() / 1000);
  if (lastAmzDate?.second === second) return lastAmzDate;
  const long = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  lastAmzDate = { second, long, short: long.slice(0, 8) };
  return lastAmzDate;
}

/** Whitespace a canonical header value must lose: a run of it, or any but a plain space. */
const SQUEEZABLE = /\s\s|[^\S ]/;

/** A header value as the canonical request has it: trimmed, each run of whitespace one space (the test spares most values the replace). */
function canonicalValue(value: string): string {
  const trimmed = value.trim();
  return SQUEEZABLE.test(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
}

/** Canonical query: encoded names and values sorted by name; a bare name signs as `name=`. */
function canonicalQuery(query: Readonly<Record<string, string>>): string {
  const pairs: string[] = [];
  for (const name of Object.keys(query).sort()) pairs.push(`${rfc3986(name)}=${rfc3986(query[name]!)}`);
  return pairs.join('&');
}

/** Signs S3 requests for one region with the credentials the provider gives (resolved per request). */
export class SigV4Signer {
  private keyCache: { id: string; key: Buffer } | undefined;

  constructor(private readonly region: string, private readonly credentials: AwsCredentialIdentityProvider, private readonly service = 's3') {}

  /** The headers to send: the request's, plus x-amz-date, x-amz-security-token and authorization. */
  async sign(req: RequestToSign, at: Date): Promise<Record<string, string>> {
    const creds = await this.credentials();
    const { long, short } = amzDate(at);
    const headers: Record<string, string> = { ...req.headers, 'x-amz-date': long };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names = Object.keys(headers).filter((n) => !UNSIGNABLE.has(n)).sort();
    let canonicalHeaders = '';
    for (const n of names) canonicalHeaders += `${n}:${canonicalValue(String(headers[n]))}\n`;
    const signedHeaders = names.join(';');
    const payloadHash = headers['x-amz-content-sha256'];
    if (payloadHash === undefined) throw new TypeError('sigv4: x-amz-content-sha256 is required');
    const canonical = `${req.method}\n${req.path}\n${canonicalQuery(req.query)}\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const signature = this.signature(canonical, creds, long, short);
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${this.scope(short)}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  /**
   * The query of a presigned URL for `method` on host + path (encoded): X-Amz-* and the signature.
   * Only `host` is signed and the payload is UNSIGNED-PAYLOAD, so any client can send the body.
   */
  async presign(req: { method: string; host: string; path: string }, at: Date, expiresInSec: number): Promise<Record<string, string>> {
    const creds = await this.credentials();
    const { long, short } = amzDate(at);
    const query: Record<string, string> = {
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `${creds.accessKeyId}/${this.scope(short)}`,
      'X-Amz-Date': long,
      'X-Amz-Expires': String(expiresInSec),
      'X-Amz-SignedHeaders': 'host',
    };
    if (creds.sessionToken) query['X-Amz-Security-Token'] = creds.sessionToken;
    const canonical = `${req.method}\n${req.path}\n${canonicalQuery(query)}\nhost:${req.host}\n\nhost\nUNSIGNED-PAYLOAD`;
    query['X-Amz-Signature'] = this.signature(canonical, creds, long, short);
    return query;
  }

  private scope(day: string): string {
    return `${day}/${this.region}/${this.service}/aws4_request`;
  }

  private signature(canonical: string, creds: AwsCredentialIdentity, long: string, short: string): string {
    const toSign = `AWS4-HMAC-SHA256\n${long}\n${this.scope(short)}\n${crypto.createHash('sha256').update(canonical).digest('hex')}`;
    return crypto.createHmac('sha256', this.signingKey(creds, short)).update(toSign).digest('hex');
  }

  /** kSigning = HMAC chain over date, region, service; one per day and secret. */
  private signingKey(creds: AwsCredentialIdentity, day: string): Buffer {
    const id = `${day}\n${creds.accessKeyId}\n${creds.secretAccessKey}`;
    if (this.keyCache?.id === id) return this.keyCache.key;
    const kDate = hmac(`AWS4${creds.secretAccessKey}`, day);
    const key = hmac(hmac(hmac(kDate, this.region), this.service), 'aws4_request');
    this.keyCache = { id, key };
    return key;
  }
}
