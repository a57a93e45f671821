/**
 * endpoints/raw-get.ts through SignedHttpClient.getObject({ bulk: true }) against local servers
 * on 127.0.0.1 (answers no gateway gives on demand) and a real gateway: a large body byte-exact
 * over a socket of its own (one request per connection); S3 error answers shaped as node:http's
 * path shapes them; a chunked answer turns the raw path off for that client; a body cut mid-way
 * or aborted fails the body, an abort before the head rejects; read buffers reused only once
 * every slice of them is released (a slice held meanwhile is never overwritten).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type fs from 'node:fs';
import { rawGet } from '../../src/endpoints/raw-get.js';
import { retainSlice, releaseSlice } from '../../src/fs/chunk-pool.js';
import { drainTo } from '../../src/ops/drain-to.js';
import { SignedHttpClient } from '../../src/endpoints/signed-http.js';
import { client, makeBucket, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const agent = new http.Agent({ keepAlive: true });
const servers: http.Server[] = [];

afterAll(() => {
  agent.destroy();
  for (const s of servers) s.close();
});

function signedClient(url: string): SignedHttpClient {
  return new SignedHttpClient({
    url, region: env.region, agent, pathStyle: true,
    credentials: async () => ({ accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey }),
  });
}

/** A local server answering every request with `handler`; counts connections and requests. */
async function local(handler: http.RequestListener): Promise<{ url: string; connections: () => number; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const server = http.createServer((req, res) => { requests++; handler(req, res); });
  server.on('connection', () => { connections++; });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections, requests: () => requests };
}

async function readAll(body: AsyncIterable<Uint8Array | string>): Promise<{ data: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c as Uint8Array));
  return { data: Buffer.concat(parts), chunks: parts.length };
}

describe('raw GET of a large body', () => {
  let bucket: string;
  let drop: () => Promise<void>;
  const big = crypto.randomBytes(9 * MIB + 123);

  beforeAll(async () => {
    ({ bucket, drop } = await makeBucket(env, 'rawget'));
    const s3 = client(env, env.endpoints[0]!);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/big.bin', Body: big }));
    s3.destroy();
  }, 60_000);
  afterAll(async () => { await drop?.(); });

  it('reads a whole object and a range from a real gateway byte-exact, in large chunks; a missing key is NoSuchKey', async () => {
    const c = signedClient(env.endpoints[0]!);
    const whole = await c.getObject({ bucket, key: 'a/big.bin', bulk: true }, new AbortController().signal);
    expect(whole.status).toBe(200);
    expect(whole.headers['content-length']).toBe(String(big.length));
    expect(whole.headers.etag).toBe(`"${crypto.createHash('md5').update(big).digest('hex')}"`);
    const got = await readAll(whole.body);
    expect(got.data.equals(big)).toBe(true);
    // node:http hands out ≤ 64 KiB per chunk (≥ 145 for 9 MiB); reads into 1 MiB buffers take fewer
    expect(got.chunks).toBeLessThan(145);

    const part = await c.getObject({ bucket, key: 'a/big.bin', range: { start: MIB, end: 3 * MIB - 1 }, bulk: true }, new AbortController().signal);
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes ${MIB}-${3 * MIB - 1}/${big.length}`);
    expect((await readAll(part.body)).data.equals(big.subarray(MIB, 3 * MIB))).toBe(true);

    await expect(c.getObject({ bucket, key: 'a/missing', bulk: true }, new AbortController().signal))
      .rejects.toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
  });

  it('read buffers come back to the pool only when released: 40 GETs of 9 MiB drained through reused buffers, byte-exact, and slices held meanwhile are never overwritten', async () => {
    const c = signedClient(env.endpoints[0]!);
    const held: Array<{ slice: Buffer; copy: Buffer }> = [];
    for (let round = 0; round < 10; round++) { // 360 MiB through a pool that keeps 32 MiB
      await Promise.all(Array.from({ length: 4 }, async (_, i) => {
        const res = await c.getObject({ bucket, key: 'a/big.bin', bulk: true }, new AbortController().signal);
        const file = Buffer.alloc(big.length);
        const fh = { writev: async (bufs: Buffer[], pos: number) => { let at = pos; for (const b of bufs) { b.copy(file, at); at += b.length; } return { bytesWritten: at - pos }; } };
        // one chunk per GET held past its write by a second holder of the slice
        let holdOne = (round + i) % 2 === 0;
        async function* holding(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
          for await (const b of body) {
            if (holdOne) { holdOne = false; retainSlice(b); held.push({ slice: b, copy: Buffer.from(b) }); }
            yield b;
          }
        }
        const n = await drainTo(holding(res.body), { fh: fh as unknown as fs.promises.FileHandle, position: 0, maxBytes: big.length, onBytes: () => {}, tooLong: () => new Error('long') });
        expect(n).toBe(big.length);
        expect(file.equals(big)).toBe(true);
      }));
      if (round % 3 === 2) for (const h of held.splice(0, 3)) { expect(h.slice.equals(h.copy)).toBe(true); releaseSlice(h.slice); }
    }
    for (const h of held) expect(h.slice.equals(h.copy)).toBe(true);
  }, 120_000);

  it('one connection per GET; an S3 error answer is shaped as on node:http (code, status, Retry-After header)', async () => {
    const srv = await local((req, res) => {
      if (req.url!.includes('slow')) {
        const xml = '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r-1</RequestId></Error>';
        res.writeHead(503, { 'content-type': 'application/xml', 'retry-after': '2', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
        return;
      }
      res.writeHead(200, { 'content-length': 3 * MIB, etag: '"x"' });
      res.end(Buffer.alloc(3 * MIB, 7));
    });
    const c = signedClient(srv.url);
    for (let i = 0; i < 2; i++) {
      const r = await c.getObject({ bucket: 'b', key: 'k', bulk: true }, new AbortController().signal);
      expect((await readAll(r.body)).data.equals(Buffer.alloc(3 * MIB, 7))).toBe(true);
    }
    expect(srv.connections()).toBe(2);
    const err = await c.getObject({ bucket: 'b', key: 'slow', bulk: true }, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'SlowDown', message: 'Please reduce your request rate.', $metadata: { httpStatusCode: 503, requestId: 'r-1' } });
    expect((err as { $response: { headers: Record<string, string> } }).$response.headers['retry-after']).toBe('2');
  });

  it('a chunked answer fails once as a dropped connection (retried), then that client reads through node:http', async () => {
    const srv = await local((_req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.write(Buffer.alloc(1000, 1));
      res.end(Buffer.alloc(1000, 2));
    });
    const c = signedClient(srv.url);
    await expect(c.getObject({ bucket: 'b', key: 'k', bulk: true }, new AbortController().signal))
      .rejects.toMatchObject({ name: 'RawGetUnsupported', code: 'ECONNRESET' });
    const r = await c.getObject({ bucket: 'b', key: 'k', bulk: true }, new AbortController().signal);
    expect((await readAll(r.body)).data.length).toBe(2000);
    expect(srv.requests()).toBe(2);
  });

  it('a body cut mid-way fails the body; an abort before the head rejects with the reason, after it fails the body', async () => {
    let hold: (() => void) | undefined;
    const srv = await local((req, res) => {
      if (req.url!.includes('cut')) {
        res.writeHead(200, { 'content-length': 4 * MIB });
        res.write(Buffer.alloc(MIB), () => res.socket!.destroy());
        return;
      }
      if (req.url!.includes('nohead')) { hold = () => res.destroy(); return; }
      res.writeHead(200, { 'content-length': 4 * MIB });
      res.write(Buffer.alloc(MIB)); // and nothing more
    });
    const c = signedClient(srv.url);
    const cut = await c.getObject({ bucket: 'b', key: 'cut', bulk: true }, new AbortController().signal);
    await expect(readAll(cut.body)).rejects.toMatchObject({ code: 'ECONNRESET' });

    const early = new AbortController();
    const pending = c.getObject({ bucket: 'b', key: 'nohead', bulk: true }, early.signal);
    for (let i = 0; i < 100 && !hold; i++) await new Promise((r) => setTimeout(r, 10));
    early.abort(new Error('deadline before the head'));
    await expect(pending).rejects.toThrow('deadline before the head');
    hold?.();

    const late = new AbortController();
    const r = await c.getObject({ bucket: 'b', key: 'stall', bulk: true }, late.signal);
    const reading = readAll(r.body);
    setTimeout(() => late.abort(new Error('deadline mid-body')), 50);
    await expect(reading).rejects.toThrow('deadline mid-body');
  });

  it('a header value with CR/LF is refused before any connection (the checks node:http makes)', async () => {
    const srv = await local((_req, res) => res.end());
    const port = Number(new URL(srv.url).port);
    const toError = (status: number): Error => new Error(`status ${status}`);
    await expect(rawGet({ hostname: '127.0.0.1', port, path: '/b/k', headers: { host: `127.0.0.1:${port}`, 'x-amz-meta-a': 'v\r\nx-injected: 1' } }, new AbortController().signal, toError))
      .rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    const ok = await rawGet({ hostname: '127.0.0.1', port, path: '/b/k', headers: { host: `127.0.0.1:${port}` } }, new AbortController().signal, toError);
    ok.body.resume();
    expect(srv.connections()).toBe(1);
  });
});
