/**
 * src/endpoints/sigv4.ts signs exactly as @smithy/signature-v4 (the SDK's signer, with the
 * options the signed path used before: uriEscapePath false, applyChecksum false): same headers,
 * same Authorization, for data and control requests, query parameters that need encoding,
 * session tokens, header values with runs of spaces, and a cached key across days.
 */
import crypto from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { SigV4Signer, type RequestToSign } from '../../src/endpoints/sigv4.js';

class Sha256 implements Checksum {
  private h: crypto.Hash | crypto.Hmac;
  constructor(private readonly secret?: SourceData) { this.h = Sha256.make(secret); }
  private static make(secret?: SourceData): crypto.Hash | crypto.Hmac {
    if (secret === undefined) return crypto.createHash('sha256');
    return crypto.createHmac('sha256', typeof secret === 'string' ? secret : new Uint8Array(secret as ArrayBuffer));
  }
  update(chunk: Uint8Array): void { this.h.update(chunk); }
  digest(): Promise<Uint8Array> { return Promise.resolve(this.h.digest()); }
  reset(): void { this.h = Sha256.make(this.secret); }
}

const plain = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const withToken = { ...plain, sessionToken: 'FwoGZXIvYXdzEPT//////////wEaDK+token==' };

async function both(req: RequestToSign, creds: typeof plain, at: Date, region = 'us-east-1'): Promise<[Record<string, string>, Record<string, string>]> {
  const smithy = new SignatureV4({ service: 's3', region, credentials: async () => creds, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const theirs = await smithy.sign({ method: req.method, protocol: 'http:', hostname: '127.0.0.1', path: req.path, query: { ...req.query }, headers: { ...req.headers } }, { signingDate: at });
  const ours = await new SigV4Signer(region, async () => creds).sign(req, at);
  return [ours, theirs.headers as Record<string, string>];
}

const at = new Date('2026-12-01T16:34:14.567Z');
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('SigV4Signer signs as @smithy/signature-v4', () => {
  it.each<[string, RequestToSign]>([
    ['a PUT with metadata and Content-MD5', {
      method: 'PUT', path: '/bucket/dir/a%20b%2B%26c.txt', query: {},
      headers: { host: '127.0.0.1:7480', 'content-length': '3', 'content-type': 'text/plain', 'content-md5': 'kAFQmDzST7DWlj99KOF/cg==', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-s3x-mtime': '  1 2   3 ' },
    }],
    ['header values with a tab, a lone tab among spaces and a single space', {
      method: 'PUT', path: '/b/k', query: {},
      headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-a': 'a\tb', 'x-amz-meta-b': ' c \t d\t', 'x-amz-meta-c': 'e f' },
    }],
    ['an UploadPart', { method: 'PUT', path: '/b/k', query: { partNumber: '7', uploadId: '2~abc/def+ghi=' }, headers: { host: 'h', 'content-length': '5', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }],
    ['a ranged GET', { method: 'GET', path: '/b/%E6%97%A5/%F0%9F%98%80', query: {}, headers: { host: 'h', range: 'bytes=0-99', 'x-amz-content-sha256': EMPTY } }],
    ['a listing with a token, prefix and delimiter', {
      method: 'GET', path: '/b', query: { 'list-type': '2', 'continuation-token': '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=', prefix: "a b/ü&(x)*!'", delimiter: '/' },
      headers: { host: 'h', 'x-amz-content-sha256': EMPTY },
    }],
    ['a DeleteObjects (bare ?delete)', { method: 'POST', path: '/b', query: { delete: '' }, headers: { host: 'b.h', 'content-md5': 'x==', 'content-type': 'application/xml', 'content-length': '120', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }],
    ['ListBuckets', { method: 'GET', path: '/', query: {}, headers: { host: 'h', 'x-amz-content-sha256': EMPTY } }],
  ])('%s', async (_, req) => {
    for (const creds of [plain, withToken]) {
      const [ours, theirs] = await both(req, creds, at);
      expect(ours).toEqual(theirs);
    }
  });

  it('another region and another day (the cached key is per day)', async () => {
    const req: RequestToSign = { method: 'GET', path: '/b/k', query: {}, headers: { host: 'h', 'x-amz-content-sha256': EMPTY } };
    const signer = new SigV4Signer('eu-west-3', async () => plain);
    for (const when of [at, new Date('2026-12-02T00:00:01Z'), at]) {
      const smithy = new SignatureV4({ service: 's3', region: 'eu-west-3', credentials: async () => plain, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
      const theirs = await smithy.sign({ method: 'GET', protocol: 'http:', hostname: 'h', path: '/b/k', query: {}, headers: { ...req.headers } }, { signingDate: when });
      expect(await signer.sign(req, when)).toEqual(theirs.headers);
    }
  });

  it('x-amz-date within one second, across a second and back (the formatted date is cached per second)', async () => {
    const req: RequestToSign = { method: 'GET', path: '/b/k', query: {}, headers: { host: 'h', 'x-amz-content-sha256': EMPTY } };
    const signer = new SigV4Signer('us-east-1', async () => plain);
    const times = ['2026-12-01T16:34:14.000Z', '2026-12-01T16:34:14.999Z', '2026-12-01T16:34:15.000Z', '2026-12-01T16:35:15.000Z', '2026-12-01T16:34:14.500Z'];
    for (const iso of times) {
      const when = new Date(iso);
      const smithy = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: async () => plain, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
      const theirs = await smithy.sign({ method: 'GET', protocol: 'http:', hostname: 'h', path: '/b/k', query: {}, headers: { ...req.headers } }, { signingDate: when });
      expect(await signer.sign(req, when)).toEqual(theirs.headers);
    }
  });

  it.each<[string, string, string]>([
    ['a GET of a key that needs encoding, on a local gateway', 'GET', '/bucket/dir/a%20b%2B%26c%E6%97%A5.txt'],
    ['a PUT on AWS (virtual-hosted)', 'PUT', '/k'],
  ])('presign: %s, as smithy presigns (ops/presign.ts sends this query)', async (_, method, path) => {
    const host = method === 'GET' ? '127.0.0.1:7480' : 'b.s3.eu-west-3.amazonaws.com';
    for (const creds of [plain, withToken]) {
      const smithy = new SignatureV4({ service: 's3', region: 'eu-west-3', credentials: async () => creds, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
      const bare = new Set(['x-amz-content-sha256']);
      const theirs = await smithy.presign({ method, protocol: 'http:', hostname: host.replace(/:\d+$/, ''), path, query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
        { expiresIn: 900, signingDate: at, unhoistableHeaders: bare, unsignableHeaders: bare });
      const ours = await new SigV4Signer('eu-west-3', async () => creds).presign({ method, host, path }, at, 900);
      expect(ours).toEqual(theirs.query);
    }
  });
});
