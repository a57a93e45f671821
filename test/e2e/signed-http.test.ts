/**
 * The SDK-free data path (src/endpoints/signed-http.ts) against real Ceph RGW gateways: what it
 * writes is checked with the SDK client (ListObjectsV2, HeadObject, GetObject MD5), never by
 * trusting the signed client itself.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { getEventListeners, setMaxListeners } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand,
  PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeKeyPath, SignedHttpClient, type SignedHttpConfig } from '../../src/endpoints/signed-http.js';
import { client, listAll, makeBucket, objectMd5, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;

const md5hex = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
const md5b64 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('base64');

let bucket: string;
let drop: () => Promise<void>;
let s3: S3Client;
let agent: http.Agent;
let signed: SignedHttpClient[];
let credentialCalls = 0;

function config(url: string, over: Partial<SignedHttpConfig> = {}): SignedHttpConfig {
  return {
    url, region: env.region, agent, pathStyle: true,
    credentials: async () => {
      credentialCalls++;
      return { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey };
    },
    ...over,
  };
}

/** A stream of `content` in `pieces` chunks. */
function streamOf(content: Buffer, pieces = 3): () => Readable {
  return () => {
    const step = Math.max(1, Math.ceil(content.length / pieces));
    const chunks: Buffer[] = [];
    for (let i = 0; i < content.length; i += step) chunks.push(content.subarray(i, i + step));
    return Readable.from(chunks);
  };
}

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function head(key: string): Promise<{ status: number; length?: number; type?: string; meta?: Record<string, string> }> {
  try {
    const r = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { status: 200, length: r.ContentLength!, type: r.ContentType!, meta: r.Metadata! };
  } catch (err) {
    return { status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0 };
  }
}

/** What a rejected promise rejected with (fails the test when it resolved). */
async function rejection(p: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  try {
    await p;
  } catch (err) {
    return err as Record<string, unknown> & Error;
  }
  throw new Error('expected a rejection');
}

const noSignal = (): AbortSignal => new AbortController().signal;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'signed'));
  s3 = client(env);
  agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  signed = env.endpoints.map((url) => new SignedHttpClient(config(url)));
});

afterAll(async () => {
  await drop?.();
  s3?.destroy();
  agent?.destroy();
});

describe('encodeKeyPath', () => {
  it('is RFC 3986 per segment with / kept', () => {
    expect(encodeKeyPath('plain/Key-1_2.3~x')).toBe('plain/Key-1_2.3~x');
    expect(encodeKeyPath('a b/c+d%e#f?g&h=i;j')).toBe('a%20b/c%2Bd%25e%23f%3Fg%26h%3Di%3Bj');
    expect(encodeKeyPath("!'()*")).toBe('%21%27%28%29%2A');
    expect(encodeKeyPath('ü/文件/😀')).toBe('%C3%BC/%E6%96%87%E4%BB%B6/%F0%9F%98%80');
    expect(encodeKeyPath('//x//y/')).toBe('//x//y/');
    expect(encodeKeyPath('lit%2Fslash')).toBe('lit%252Fslash');
  });
});

describe('SignedHttpClient against RGW', () => {
  it('puts a Buffer with content type, Content-MD5 and metadata', async () => {
    const body = crypto.randomBytes(4096 + 17);
    const r = await signed[0]!.putObject({
      bucket, key: 'put/buffer.bin', body, contentLength: body.length, contentType: 'application/x-s3x-test',
      contentMd5: md5b64(body), metadata: { Owner: 'alice', 'run-id': 'r 42' },
    }, noSignal());
    expect(r.status).toBe(200);
    expect(r.etag).toBe(`"${md5hex(body)}"`);
    const h = await head('put/buffer.bin');
    expect(h).toMatchObject({ status: 200, length: body.length, type: 'application/x-s3x-test' });
    expect(h.meta).toEqual({ owner: 'alice', 'run-id': 'r 42' });
    expect(await objectMd5(env, bucket, 'put/buffer.bin', env.endpoints[1])).toBe(md5hex(body));
  });

  it('puts stream bodies (a fresh stream per request) and 0-byte objects', async () => {
    const body = crypto.randomBytes(300 * 1024 + 5);
    let made = 0;
    const factory = streamOf(body, 7);
    const r = await signed[1]!.putObject({ bucket, key: 'put/stream.bin', body: () => { made++; return factory(); }, contentLength: body.length }, noSignal());
    expect(r.etag).toBe(`"${md5hex(body)}"`);
    expect(made).toBe(1);
    expect(await objectMd5(env, bucket, 'put/stream.bin')).toBe(md5hex(body));

    const empty = Buffer.alloc(0);
    await signed[0]!.putObject({ bucket, key: 'put/empty-buffer', body: empty, contentLength: 0, contentMd5: md5b64(empty) }, noSignal());
    await signed[2]!.putObject({ bucket, key: 'put/empty-stream', body: () => Readable.from([]), contentLength: 0 }, noSignal());
    expect(await head('put/empty-buffer')).toMatchObject({ status: 200, length: 0 });
    expect(await head('put/empty-stream')).toMatchObject({ status: 200, length: 0 });
  });

  it('rejects a wrong Content-MD5 like the SDK would (BadDigest/InvalidDigest, 400) and stores nothing', async () => {
    const body = Buffer.from('the body');
    const err = await rejection(signed[0]!.putObject({
      bucket, key: 'put/bad-md5', body, contentLength: body.length, contentMd5: md5b64(Buffer.from('another body')),
    }, noSignal()));
    expect(['BadDigest', 'InvalidDigest']).toContain(err.name);
    expect(err.Code).toBe(err.name);
    expect((err.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
    expect((err.$response as { statusCode: number }).statusCode).toBe(400);
    expect(await head('put/bad-md5')).toEqual({ status: 404 });
  });

  it('addresses awkward keys exactly as the SDK does', async () => {
    const keys = [
      'awk/with space.txt', 'awk/plus+sign', 'awk/per%cent%20', 'awk/lit%2Fslash', 'awk/hash#tag', 'awk/question?mark',
      'awk/amp&er=sand;semi', 'awk/ünï cødé 文件 😀.txt', 'awk/tilde~', "awk/sub!'()*", 'awk//double//slashes',
      'awk/trailing/', 'awk/a/./b', 'awk/a/../c', 'awk/./lead', 'awk/tab\tand,comma:colon@at$dollar[]{}|^`"<>\\',
      `awk/long-${'k'.repeat(1000 - 'awk/long-'.length)}`,
    ];
    expect(Buffer.byteLength(keys.at(-1)!)).toBe(1000);
    // RGW keeps '.' and '..' segments as part of the key (no normalisation), so they are tested too.
    await Promise.all(keys.map((key, i) =>
      signed[i % signed.length]!.putObject({ bucket, key, body: Buffer.from(`content of ${key}`), contentLength: Buffer.byteLength(`content of ${key}`) }, noSignal())));
    const listed = (await listAll(env, bucket, 'awk/')).map((o) => o.Key);
    expect(listed.sort()).toEqual([...keys].sort());
    for (const [i, key] of keys.entries()) {
      expect(await objectMd5(env, bucket, key, env.endpoints[(i + 1) % env.endpoints.length]), key).toBe(md5hex(Buffer.from(`content of ${key}`)));
      // and read back through the signed client (same path encoding on GET)
      const g = await signed[(i + 2) % signed.length]!.getObject({ bucket, key }, noSignal());
      expect((await readAll(g.body)).toString(), key).toBe(`content of ${key}`);
    }
  });

  it('uploads parts through two gateways into an SDK-created multipart upload', async () => {
    const key = 'mpu/through gateways+ü.bin';
    const parts = [crypto.randomBytes(5 * MIB), crypto.randomBytes(5 * MIB), crypto.randomBytes(MIB + 123)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    try {
      const etags = await Promise.all(parts.map((part, i) => {
        const via = signed[i % 2]!;
        return via.uploadPart({
          bucket, key, uploadId: UploadId!, partNumber: i + 1, contentLength: part.length, contentMd5: md5b64(part),
          body: i === 1 ? streamOf(part, 40) : part,
        }, noSignal());
      }));
      etags.forEach((r, i) => expect(r.etag).toBe(`"${md5hex(parts[i]!)}"`));
      await s3.send(new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId,
        MultipartUpload: { Parts: etags.map((r, i) => ({ PartNumber: i + 1, ETag: r.etag! })) },
      }));
    } catch (err) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      throw err;
    }
    expect(await objectMd5(env, bucket, key, env.endpoints[2])).toBe(md5hex(Buffer.concat(parts)));
  });

  it('gets objects whole and by range', async () => {
    const body = crypto.randomBytes(256 * 1024 + 3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'get/obj.bin', Body: body, ContentType: 'application/x-got' }));
    const whole = await signed[1]!.getObject({ bucket, key: 'get/obj.bin' }, noSignal());
    expect(whole.status).toBe(200);
    expect(whole.headers['content-length']).toBe(String(body.length));
    expect(whole.headers['content-type']).toBe('application/x-got');
    expect(md5hex(await readAll(whole.body))).toBe(md5hex(body));

    const part = await signed[2]!.getObject({ bucket, key: 'get/obj.bin', range: { start: 1000, end: 70_000 } }, noSignal());
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-70000/${body.length}`);
    expect((await readAll(part.body)).equals(body.subarray(1000, 70_001))).toBe(true);

    const last = await signed[0]!.getObject({ bucket, key: 'get/obj.bin', range: { start: body.length - 1, end: body.length - 1 } }, noSignal());
    expect((await readAll(last.body)).equals(body.subarray(body.length - 1))).toBe(true);

    const missing = await rejection(signed[0]!.getObject({ bucket, key: 'get/missing' }, noSignal()));
    expect(missing.name).toBe('NoSuchKey');
    expect((missing.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
  });

  it('turns S3 and network failures into SDK-shaped / Node errors', async () => {
    const body = Buffer.from('x');
    const put = (c: SignedHttpClient, b = bucket): Promise<unknown> => c.putObject({ bucket: b, key: 'err/x', body, contentLength: 1 }, noSignal());

    const badSecret = await rejection(put(new SignedHttpClient(config(env.endpoints[0]!, {
      credentials: async () => ({ accessKeyId: env.accessKeyId, secretAccessKey: `${env.secretAccessKey}x` }),
    }))));
    expect(badSecret.name).toBe('SignatureDoesNotMatch');
    expect(badSecret.Code).toBe('SignatureDoesNotMatch');
    expect(badSecret.$metadata).toMatchObject({ httpStatusCode: 403 });
    expect((badSecret.$response as { headers: Record<string, string> }).headers['content-type']).toMatch(/xml/);

    const badKey = await rejection(put(new SignedHttpClient(config(env.endpoints[1]!, {
      credentials: async () => ({ accessKeyId: 'S3XNOSUCHACCESSKEY99', secretAccessKey: env.secretAccessKey }),
    }))));
    expect(badKey.name).toBe('InvalidAccessKeyId');
    expect(badKey.$metadata).toMatchObject({ httpStatusCode: 403 });

    const noBucket = await rejection(put(signed[2]!, `${bucket}-missing`));
    expect(noBucket.name).toBe('NoSuchBucket');
    expect(noBucket.$metadata).toMatchObject({ httpStatusCode: 404 });

    const refused = await rejection(put(new SignedHttpClient(config('http://127.0.0.1:9'))));
    expect(refused.code).toBe('ECONNREFUSED');

    const credsFail = new Error('no credentials');
    credsFail.name = 'CredentialsProviderError';
    const noCreds = await rejection(put(new SignedHttpClient(config(env.endpoints[0]!, { credentials: async () => { throw credsFail; } }))));
    expect(noCreds).toBe(credsFail);

    expect(await head('err/x')).toEqual({ status: 404 });
  });

  it('refuses a stream body whose length is not contentLength, and reports unreadable files', async () => {
    const data = crypto.randomBytes(10_000);
    const longer = await rejection(signed[0]!.putObject({ bucket, key: 'len/longer', body: streamOf(data, 4), contentLength: 9_000 }, noSignal()));
    expect(longer.code).toBe('BodyLengthMismatch');
    const shorter = await rejection(signed[1]!.putObject({ bucket, key: 'len/shorter', body: streamOf(data, 4), contentLength: 11_000 }, noSignal()));
    expect(shorter.code).toBe('BodyLengthMismatch');
    const missing = await rejection(signed[2]!.uploadPart({
      bucket, key: 'len/part', uploadId: 'whatever', partNumber: 1, contentLength: 5,
      body: () => fs.createReadStream(path.join(os.tmpdir(), `s3x-no-such-file-${crypto.randomBytes(4).toString('hex')}`)),
    }, noSignal()));
    expect(missing.code).toBe('ENOENT');
    expect(await head('len/longer')).toEqual({ status: 404 });
    expect(await head('len/shorter')).toEqual({ status: 404 });
    // the same gateways still answer through the same agent
    await signed[0]!.putObject({ bucket, key: 'len/exact', body: streamOf(data, 4), contentLength: data.length }, noSignal());
    expect(await objectMd5(env, bucket, 'len/exact')).toBe(md5hex(data));
  });

  it('aborts a request mid-body with the signal\'s reason, and the agent stays usable', async () => {
    const ac = new AbortController();
    const reason = new Error('deadline for this test');
    let stream: Readable | undefined;
    const never = (): Readable => {
      // one chunk, then nothing: the request can only end by the abort
      stream = new Readable({ read() {} });
      stream.push(Buffer.alloc(64 * 1024, 1));
      return stream;
    };
    const t0 = performance.now();
    const timer = setTimeout(() => ac.abort(reason), 200);
    const err = await rejection(signed[0]!.putObject({ bucket, key: 'abort/never', body: never, contentLength: 10 * MIB }, ac.signal));
    clearTimeout(timer);
    expect(err).toBe(reason);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(stream!.destroyed).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);

    // a non-Error reason comes back as it is
    const ac2 = new AbortController();
    const token = { why: 'interrupted' };
    setTimeout(() => ac2.abort(token), 100);
    expect(await rejection(signed[0]!.putObject({ bucket, key: 'abort/never2', body: never, contentLength: MIB }, ac2.signal))).toBe(token);

    // already aborted: rejects at once, without opening the body
    let opened = false;
    const ac3 = new AbortController();
    ac3.abort(reason);
    expect(await rejection(signed[0]!.putObject({ bucket, key: 'abort/pre', body: () => { opened = true; return Readable.from([]); }, contentLength: 0 }, ac3.signal))).toBe(reason);
    expect(opened).toBe(false);

    // same agent, same gateway: still works
    const ok = Buffer.from('after the abort');
    await signed[0]!.putObject({ bucket, key: 'abort/after', body: ok, contentLength: ok.length }, noSignal());
    expect(await objectMd5(env, bucket, 'abort/after')).toBe(md5hex(ok));
    expect(await head('abort/never')).toEqual({ status: 404 });
  });

  it('an abort while reading a GetObject body fails the body with the reason', async () => {
    const body = crypto.randomBytes(8 * MIB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'abort/big-get', Body: body }));
    const ac = new AbortController();
    const reason = new Error('stop the download');
    const r = await signed[1]!.getObject({ bucket, key: 'abort/big-get' }, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1); // armed until the body closes
    const err = await rejection((async () => {
      let seen = 0;
      for await (const chunk of r.body) {
        seen += (chunk as Buffer).length;
        if (seen > 64 * 1024 && !ac.signal.aborted) ac.abort(reason);
      }
    })());
    expect(err).toBe(reason);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('shares one signal across many concurrent requests without leaking listeners', async () => {
    const ac = new AbortController();
    setMaxListeners(0, ac.signal); // 16 requests listen at once, as the engine's run signal does
    const calls0 = credentialCalls;
    const n = 60;
    const bodies = Array.from({ length: n }, (_, i) => crypto.randomBytes(1000 + i));
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < n; i = next++) {
        await signed[i % signed.length]!.putObject({ bucket, key: `many/${i}`, body: bodies[i]!, contentLength: bodies[i]!.length }, ac.signal);
      }
    }));
    for (let i = 0; i < 3; i++) {
      const g = await signed[i]!.getObject({ bucket, key: `many/${i}` }, ac.signal);
      expect((await readAll(g.body)).equals(bodies[i]!)).toBe(true);
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(credentialCalls - calls0).toBe(n + 3); // the provider is asked per request
    const listed = await listAll(env, bucket, 'many/');
    expect(listed).toHaveLength(n);
    for (const o of listed) expect(o.Size).toBe(bodies[Number(o.Key!.slice(5))]!.length);
  });
});

describe('virtual-hosted addressing', () => {
  it('sends Host bucket.host:port and the key as the path', async () => {
    const seen: { host?: string; url?: string; auth?: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ host: req.headers.host!, url: req.url!, auth: req.headers.authorization! });
      req.resume();
      req.on('end', () => { res.setHeader('etag', '"e"'); res.end(); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    // *.localhost may not resolve here: the agent connects to 127.0.0.1 whatever the host name
    const vAgent = new http.Agent({ keepAlive: true });
    (vAgent as unknown as { createConnection: typeof net.createConnection }).createConnection = ((opts: net.NetConnectOpts) =>
      net.createConnection({ ...(opts as net.TcpNetConnectOpts), host: '127.0.0.1', port })) as typeof net.createConnection;
    try {
      const c = new SignedHttpClient({ ...config(`http://localhost:${port}`), agent: vAgent, pathStyle: false });
      const r = await c.putObject({ bucket: 'my-bucket', key: 'dir/a b+c', body: Buffer.from('v'), contentLength: 1 }, noSignal());
      expect(r).toEqual({ etag: '"e"', status: 200 });
      const u = await c.uploadPart({ bucket: 'my-bucket', key: 'k', uploadId: "2~ab/c+d=e!'", partNumber: 7, body: Buffer.from('p'), contentLength: 1 }, noSignal());
      expect(u.status).toBe(200);
      expect(seen[0]).toMatchObject({ host: `my-bucket.localhost:${port}`, url: '/dir/a%20b%2Bc' });
      expect(seen[0]!.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=S3X\w+\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
      expect(seen[1]).toMatchObject({ url: '/k?partNumber=7&uploadId=2~ab%2Fc%2Bd%3De%21%27' });
    } finally {
      vAgent.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
