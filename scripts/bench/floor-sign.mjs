/**
 * SigV4 for the bench's floor scripts (put-floor.mjs, small-get-floor.mjs, get-floor.mjs,
 * ls-floor.mjs), and the ListObjectsV2 paging they share: path-style, header
 * signing with UNSIGNED-PAYLOAD as s3x signs, and no s3x code, so a floor measures Node alone.
 * Credentials and region from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION.
 */
import crypto from 'node:crypto';

const { AWS_ACCESS_KEY_ID: akid, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: region = 'us-east-1' } = process.env;
export const haveCredentials = Boolean(akid && secret);

const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
let keyDay = '';
let signingKey;

/** A query value as S3 canonicalizes it (RFC 3986: `!'()*` escaped too). */
const encodeValue = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A key or path segment as S3 canonicalizes it ('/' kept). */
export const encodePath = (s) => encodeValue(s).replace(/%2F/g, '/');

/** The canonical query of one ListObjectsV2 page under `prefix`, after the page whose NextContinuationToken is `token`. */
export const listQuery = (prefix, token) => [...(token ? [`continuation-token=${encodeValue(token)}`] : []), 'list-type=2', `prefix=${encodeValue(prefix)}`].join('&');

/** The token of the page after this one (a ListObjectsV2 answer), undefined on the last. */
export const nextToken = (xml) => (/<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]*)</.exec(xml)?.[1] : undefined);

/** XML text (a <Key>) with its five entities read. */
export const xmlText = (s) => s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'");

/**
 * Adds x-amz-date, x-amz-content-sha256 and authorization to `headers` (host among them) for
 * `method pathName?query`; `query` is the canonical query string (sorted, encoded).
 */
export function sign(method, pathName, query, headers) {
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  if (day !== keyDay) {
    signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 's3'), 'aws4_request');
    keyDay = day;
  }
  Object.assign(headers, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate });
  const names = Object.keys(headers).map((n) => n.toLowerCase()).sort();
  const canonical = [method, pathName, query, ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const signature = hmac(signingKey, ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')).toString('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${akid}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}
