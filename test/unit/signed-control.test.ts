/**
 * The signed control plane (src/endpoints/signed-control.ts) against a local HTTP server with
 * canned answers: what goes on the wire (method, path, query, Content-MD5, escaped XML, signed
 * headers), and how answers become results or SDK-shaped errors that engine/retry-policy.ts
 * classifies as before (an <Error> inside a 200, an empty Complete, a HEAD 404 without body).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as control from '../../src/endpoints/signed-control.js';
import { SignedHttpClient } from '../../src/endpoints/signed-http.js';
import { decide, errorFacts } from '../../src/engine/retry-policy.js';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
type Answer = { status: number; headers?: Record<string, string>; body?: string };

let server: http.Server;
let agent: http.Agent;
let client: SignedHttpClient;
let answer: Answer = { status: 200 };
const seen: Seen[] = [];
const signal = new AbortController().signal;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  agent = new http.Agent({ keepAlive: true });
  client = new SignedHttpClient({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1', agent, pathStyle: true,
    credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret' }),
  });
});

afterAll(async () => {
  agent.destroy();
  await new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); });
});

function last(): Seen { return seen[seen.length - 1]!; }

describe('signed control plane on the wire', () => {
  it('ListObjectsV2: bucket path, encoded query, signed', async () => {
    answer = { status: 200, body: '<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t2</NextContinuationToken><Contents><Key>p/a &amp; b</Key><Size>1</Size></Contents></ListBucketResult>' };
    const page = await control.listObjectsV2(client, { bucket: 'b', prefix: 'p/ü&', delimiter: '/', maxKeys: 5, continuationToken: 'a+b/c=' }, signal);
    expect(page).toMatchObject({ IsTruncated: true, NextContinuationToken: 't2', Contents: [{ Key: 'p/a & b', Size: 1 }] });
    const s = last();
    expect(s.method).toBe('GET');
    expect(s.url).toBe('/b?list-type=2&continuation-token=a%2Bb%2Fc%3D&delimiter=%2F&max-keys=5&prefix=p%2F%C3%BC%26');
    expect(s.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  });

  it('DeleteObjects: POST ?delete, Content-MD5 of the escaped Quiet document, per-key errors kept', async () => {
    answer = { status: 200, body: '<DeleteResult><Error><Key>x&#10;y</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>' };
    const out = await control.deleteObjects(client, { bucket: 'b', keys: ['a', 'x\ny', 'q&<'] }, signal);
    expect(out).toEqual({ errors: [{ key: 'x\ny', code: 'AccessDenied', message: 'Access Denied' }] });
    const s = last();
    expect([s.method, s.url]).toEqual(['POST', '/b?delete']);
    expect(s.body).toBe(control.deleteObjectsXml(['a', 'x\ny', 'q&<']));
    expect(s.body).toContain('<Key>x&#x0A;y</Key><');
    expect(s.headers['content-md5']).toBe(crypto.createHash('md5').update(s.body).digest('base64'));
    expect(s.headers.authorization).toContain('SignedHeaders=content-length;content-md5;content-type;host;');
    answer = { status: 200, body: '' };
    expect(await control.deleteObjects(client, { bucket: 'b', keys: ['a'] }, signal)).toEqual({ errors: [] });
  });

  it('multipart: Create sends metadata, Complete lists parts, Abort and List address the upload', async () => {
    answer = { status: 200, body: '<InitiateMultipartUploadResult><UploadId>2~u/1+</UploadId></InitiateMultipartUploadResult>' };
    expect(await control.createMultipartUpload(client, { bucket: 'b', key: 'd/k 1', contentType: 'text/plain', metadata: { 'S3x-Mtime': '12' } }, signal)).toEqual({ uploadId: '2~u/1+' });
    expect([last().method, last().url, last().headers['x-amz-meta-s3x-mtime'], last().headers['content-type']]).toEqual(['POST', '/b/d/k%201?uploads', '12', 'text/plain']);

    // Ceph RGW answers Complete with an empty ETag: kept as '' for the caller to ask HEAD
    answer = { status: 200, body: '<CompleteMultipartUploadResult><Location>x</Location><ETag></ETag></CompleteMultipartUploadResult>' };
    expect(await control.completeMultipartUpload(client, { bucket: 'b', key: 'k', uploadId: '2~u/1+', parts: [{ partNumber: 1, etag: '"e1"' }] }, signal)).toEqual({ etag: '' });
    expect([last().method, last().url, last().body]).toEqual(['POST', '/b/k?uploadId=2~u%2F1%2B', control.completeXml([{ partNumber: 1, etag: '"e1"' }])]);

    answer = { status: 204 };
    await control.abortMultipartUpload(client, { bucket: 'b', key: 'k', uploadId: 'u' }, signal);
    expect([last().method, last().url]).toEqual(['DELETE', '/b/k?uploadId=u']);

    answer = { status: 200, body: '<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key><UploadId>u</UploadId></Upload></ListMultipartUploadsResult>' };
    expect(await control.listMultipartUploads(client, { bucket: 'b', prefix: 'p/', keyMarker: 'k0', uploadIdMarker: 'u0' }, signal)).toEqual({ uploads: [{ key: 'k', uploadId: 'u' }], isTruncated: false });
    expect(last().url).toBe('/b?uploads&key-marker=k0&prefix=p%2F&upload-id-marker=u0');
  });

  it('ListParts: GET the key with uploadId and part-number-marker; parts, truncation and the next marker read', async () => {
    answer = {
      status: 200,
      body: '<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>d/k 1</Key>'
        + '<UploadId>2~u/1+</UploadId><PartNumberMarker>2</PartNumberMarker><NextPartNumberMarker>4</NextPartNumberMarker><MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>'
        + '<Part><PartNumber>3</PartNumber><LastModified>2026-12-01T19:00:00.000Z</LastModified><ETag>&quot;e3&quot;</ETag><Size>5242880</Size></Part>'
        + '<Part><PartNumber>4</PartNumber><ETag>"e4"</ETag><Size>17</Size></Part></ListPartsResult>',
    };
    expect(await control.listParts(client, { bucket: 'b', key: 'd/k 1', uploadId: '2~u/1+', partNumberMarker: 2 }, signal)).toEqual({
      parts: [{ partNumber: 3, etag: '"e3"', size: 5242880 }, { partNumber: 4, etag: '"e4"', size: 17 }], isTruncated: true, nextPartNumberMarker: 4,
    });
    expect([last().method, last().url]).toEqual(['GET', '/b/d/k%201?uploadId=2~u%2F1%2B&part-number-marker=2']);
    answer = { status: 200, body: '<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>' };
    expect(await control.listParts(client, { bucket: 'b', key: 'k', uploadId: 'u' }, signal)).toEqual({ parts: [], isTruncated: false });
    expect(last().url).toBe('/b/k?uploadId=u');
  });

  it('HeadObject reads size, ETag, metadata and encryption from headers; ListBuckets goes to /', async () => {
    answer = { status: 200, headers: { etag: '"abc"', 'content-length': '42', 'x-amz-meta-s3x-mtime': '7', 'x-amz-server-side-encryption': 'AES256' } };
    expect(await control.headObject(client, { bucket: 'b', key: 'k' }, signal)).toEqual({ etag: '"abc"', contentLength: 42, metadata: { 's3x-mtime': '7' }, sse: 'AES256' });
    expect(last().method).toBe('HEAD');
    answer = { status: 200, body: '<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>' };
    await control.listBuckets(client, signal);
    expect([last().method, last().url]).toEqual(['GET', '/']);
  });
});

describe('signed control plane errors, as the SDK shapes them', () => {
  it('an XML error answer: its code, status and decision', async () => {
    answer = { status: 404, body: '<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>' };
    const err = await control.listObjectsV2(client, { bucket: 'nope' }, signal).catch((e: unknown) => e);
    expect(errorFacts(err)).toMatchObject({ code: 'NoSuchBucket', status: 404 });
    expect(decide(errorFacts(err))).toBe('fatal');
  });

  it('an <Error> inside a 200 (Complete) is that error with status 503: retried', async () => {
    answer = { status: 200, body: '<?xml version="1.0"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>' };
    const err = await control.completeMultipartUpload(client, { bucket: 'b', key: 'k', uploadId: 'u', parts: [] }, signal).catch((e: unknown) => e);
    expect(errorFacts(err)).toMatchObject({ code: 'InternalError', status: 503 });
    expect(decide(errorFacts(err))).toBe('retry');
  });

  it('an empty 200 to Complete is InternalError 503 (S3 aborted the request): retried', async () => {
    answer = { status: 200, body: '' };
    const err = await control.completeMultipartUpload(client, { bucket: 'b', key: 'k', uploadId: 'u', parts: [] }, signal).catch((e: unknown) => e);
    expect(errorFacts(err)).toMatchObject({ code: 'InternalError', status: 503 });
  });

  it('a HEAD 404 (no body) is NotFound; a 500 for an unknown upload id is retried', async () => {
    answer = { status: 404 };
    const head = await control.headObject(client, { bucket: 'b', key: 'k' }, signal).catch((e: unknown) => e);
    expect(errorFacts(head)).toMatchObject({ code: 'NotFound', status: 404 });
    answer = { status: 500, body: '' };
    const abort = await control.abortMultipartUpload(client, { bucket: 'b', key: 'k', uploadId: 'unknown' }, signal).catch((e: unknown) => e);
    expect(errorFacts(abort)).toMatchObject({ code: 'HTTP500', status: 500 });
    expect(decide(errorFacts(abort))).toBe('retry');
  });
});
