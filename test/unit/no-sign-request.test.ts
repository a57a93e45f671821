/**
 * --no-sign-request on both paths, against a local HTTP server that records what arrives: the
 * signed path (src/endpoints/signed-http.ts) and the SDK path (src/endpoints/sdk-client.ts) send
 * no Authorization and no signing headers, keep what the request needs (Content-MD5, metadata,
 * Range), and never ask for credentials.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConnection } from '../../src/config/options.js';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { makeS3Client } from '../../src/endpoints/sdk-client.js';
import { SignedHttpClient } from '../../src/endpoints/signed-http.js';
import { silentLogger } from '../../src/logger.js';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders }

let server: http.Server;
let url: string;
const seen: Seen[] = [];
const signal = new AbortController().signal;
const LISTING = '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      res.writeHead(200, { etag: '"x"', 'content-type': 'application/xml' });
      res.end(req.method === 'GET' ? LISTING : '');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); });
});

const SIGNING = ['authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'];
const asked = (): { count: number; provider: () => Promise<never> } => {
  const a = { count: 0, provider: (): Promise<never> => { a.count++; return Promise.reject(new Error('credentials asked for')); } };
  return a;
};

describe('--no-sign-request: the signed path', () => {
  it('PUT, GET and a control call go without any signing header; the rest is kept', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const creds = asked();
    const client = new SignedHttpClient({ url, region: 'us-east-1', agent, pathStyle: true, credentials: creds.provider, unsigned: true });
    try {
      seen.length = 0;
      const md5 = crypto.createHash('md5').update('abc').digest('base64');
      await client.putObject({ bucket: 'b', key: 'a b', body: Buffer.from('abc'), contentLength: 3, contentMd5: md5, metadata: { Who: 'me' } }, signal);
      const got = await client.getObject({ bucket: 'b', key: 'a b', range: { start: 0, end: 1 } }, signal);
      got.body.resume();
      await client.call({ method: 'GET', bucket: 'b', key: '', query: { 'list-type': '2' } }, signal);
      expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['PUT /b/a%20b', 'GET /b/a%20b', 'GET /b?list-type=2']);
      for (const s of seen) for (const h of SIGNING) expect(s.headers[h], `${s.method} ${h}`).toBeUndefined();
      expect(seen[0]!.headers).toMatchObject({ 'content-md5': md5, 'x-amz-meta-who': 'me', 'content-length': '3' });
      expect(seen[1]!.headers.range).toBe('bytes=0-1');
      expect(creds.count).toBe(0);
    } finally {
      agent.destroy();
    }
  });

  it('signs as before without the flag (the test server sees the signature)', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const client = new SignedHttpClient({ url, region: 'us-east-1', agent, pathStyle: true, credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 's' }) });
    try {
      seen.length = 0;
      await client.call({ method: 'GET', bucket: 'b', key: '', query: { 'list-type': '2' } }, signal);
      expect(seen[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\//);
    } finally {
      agent.destroy();
    }
  });
});

describe('--no-sign-request: the SDK path', () => {
  it('sends ListObjectsV2 with no Authorization, and looks no credentials up', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
    // with the chain in play, a missing key would fail the call: nothing to find here
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_PROFILE = 's3x-no-such-profile';
    const agent = new http.Agent({ keepAlive: true });
    const client = makeS3Client({ name: 'x', url, region: 'us-east-1', breaker: { threshold: 5, cooldownMs: 1000 }, pathStyle: true, weight: 1, unsigned: true }, agent, silentLogger, 0);
    try {
      seen.length = 0;
      const page = await client.send(new ListObjectsV2Command({ Bucket: 'b' }));
      expect(page.Contents?.map((o) => o.Key)).toEqual(['k']);
      expect(seen).toHaveLength(1);
      for (const h of SIGNING) expect(seen[0]!.headers[h], h).toBeUndefined();
    } finally {
      client.destroy();
      agent.destroy();
      for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret], ['AWS_PROFILE', saved.profile]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('--no-sign-request: configuration', () => {
  it('marks every endpoint unsigned; its credentials are never resolved', async () => {
    const conn = resolveConnection({ endpointUrls: [url, 'http://127.0.0.1:9'], unsigned: true }, {});
    expect(conn.pool.endpoints.map((e) => e.unsigned)).toEqual([true, true]);
    expect(resolveConnection({ endpointUrls: [url] }, {}).pool.endpoints[0]!.unsigned).toBeUndefined();
    const ep = new Endpoint(conn.pool.endpoints[0]!, { maxConcurrent: 2, estimator: DEFAULT_ESTIMATOR }, silentLogger);
    try {
      await expect(ep.credentials()).rejects.toThrow(/--no-sign-request/);
      seen.length = 0;
      await ep.store.listObjectsV2({ bucket: 'b', prefix: '' }, signal);
      expect(seen[0]!.headers.authorization).toBeUndefined();
    } finally {
      ep.destroy();
    }
  });
});
