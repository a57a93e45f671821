/**
 * endpoints/lean-http.ts against a tiny scripted HTTP server on 127.0.0.1: framing (Content-Length,
 * chunked, until close), socket reuse only after an exact end, aborts, what turns it off, and
 * FileRange bodies (read from the file as they are written; a socket answered early is not reused).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FileRange, RANGE_CHUNK_BYTES } from '../../src/fs/file-range.js';
import { requestHead } from '../../src/endpoints/http-wire.js';
import { LeanHttp, LeanUnsupported, type LeanAnswer } from '../../src/endpoints/lean-http.js';
import { SignedHttpClient, toS3Error } from '../../src/endpoints/signed-http.js';

interface Req { head: string; body: Buffer; socket: net.Socket; n: number }
interface Server { port: number; requests: Req[]; connections: number; close(): Promise<void> }

const servers: Server[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-lean-http-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
/** A file of `bytes` random bytes and its content. */
function tmpFile(name: string, bytes: number): { path: string; data: Buffer } {
  const data = crypto.randomBytes(bytes);
  fs.writeFileSync(path.join(tmp, name), data);
  return { path: path.join(tmp, name), data };
}
afterEach(async () => { vi.restoreAllMocks(); for (const s of servers.splice(0)) await s.close(); });

/** A server that parses requests (Content-Length bodies) and lets `respond` answer each one. */
async function serve(respond: (r: Req) => void): Promise<Server> {
  const sockets = new Set<net.Socket>();
  const s: Server = { port: 0, requests: [], connections: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    s.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) return;
        const head = buf.toString('latin1', 0, at);
        const len = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < at + 4 + len) return;
        const r = { head, body: buf.subarray(at + 4, at + 4 + len), socket, n: s.requests.length + 1 };
        buf = buf.subarray(at + 4 + len);
        s.requests.push(r);
        respond(r);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.port = (server.address() as net.AddressInfo).port;
  s.close = () => new Promise<void>((resolve) => { for (const k of sockets) k.destroy(); server.close(() => resolve()); });
  servers.push(s);
  return s;
}

const ok = (body = '', extra = ''): string => `HTTP/1.1 200 OK\r\nETag: "e"\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const live = (): AbortSignal => new AbortController().signal;
const toError = (status: number, headers: http.IncomingHttpHeaders, body: string): Error => toS3Error(status, headers, body);

function send(pool: LeanHttp, mode: 'drain' | 'whole' | 'stream', signal = live(), body?: Buffer): Promise<LeanAnswer> {
  const head = requestHead(body ? 'PUT' : 'GET', '/b/k', { host: 'h', ...(body && { 'content-length': String(body.length) }) });
  const p = pool.request('127.0.0.1', head, body, mode, false, signal, toError);
  if (!p) throw new Error('no socket');
  return p;
}

function readAll(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer) => chunks.push(c)).once('end', () => resolve(Buffer.concat(chunks))).once('error', reject);
  });
}

const rejection = (p: Promise<unknown>): Promise<Error & { code?: string }> => p.then(() => { throw new Error('resolved'); }, (e: Error) => e);
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LeanHttp', { timeout: 10_000 }, () => {
  it('reuses a keep-alive socket after an answer read to its exact end', async () => {
    const s = await serve((r) => r.socket.write(ok('')));
    const pool = new LeanHttp(s.port, 4, 1000);
    const a = await send(pool, 'drain', live(), Buffer.from('abc'));
    expect(a.status).toBe(200);
    expect(a.headers.etag).toBe('"e"');
    await send(pool, 'drain', live(), Buffer.from('de'));
    expect(s.connections).toBe(1);
    expect(s.requests.map((r) => r.body.toString())).toEqual(['abc', 'de']);
    expect(s.requests[0]!.head).toMatch(/^PUT \/b\/k HTTP\/1\.1\r\nhost: h\r\ncontent-length: 3$/);
    expect(pool.openSockets).toBe(1);
    pool.close();
    expect(pool.openSockets).toBe(0);
  });

  it('opens a new socket once the server closed an idle one', async () => {
    const s = await serve((r) => r.socket.end(ok('x')));
    const pool = new LeanHttp(s.port, 4, 1000);
    expect((await send(pool, 'whole')).data.toString()).toBe('x');
    await tick();
    expect(pool.openSockets).toBe(0);
    expect((await send(pool, 'whole')).data.toString()).toBe('x');
    expect(s.connections).toBe(2);
  });

  it('a request on a kept socket the server drops unanswered fails as ECONNRESET and is not sent again', async () => {
    const s = await serve((r) => { if (r.n === 1) r.socket.write(ok('')); else r.socket.resetAndDestroy(); });
    const pool = new LeanHttp(s.port, 4, 1000);
    await send(pool, 'drain', live(), Buffer.from('1'));
    const err = await rejection(send(pool, 'drain', live(), Buffer.from('2')));
    expect(err.code).toBe('ECONNRESET');
    await tick();
    expect(s.requests).toHaveLength(2);
    expect(pool.openSockets).toBe(0);
  });

  it('a kept socket the server closes (FIN) unanswered, or whose write fails with EPIPE, fails as ECONNRESET', async () => {
    const s = await serve((r) => { if (r.n === 2) r.socket.end(); else r.socket.write(ok('')); });
    const pool = new LeanHttp(s.port, 4, 1000);
    await send(pool, 'drain', live(), Buffer.from('1'));
    expect((await rejection(send(pool, 'drain', live(), Buffer.from('2')))).code).toBe('ECONNRESET');
    await send(pool, 'drain', live(), Buffer.from('3'));
    // the next write on the kept socket meets a closed peer
    vi.spyOn(net.Socket.prototype, 'write').mockImplementationOnce(function (this: net.Socket) {
      process.nextTick(() => this.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
      return true;
    });
    expect((await rejection(send(pool, 'drain', live(), Buffer.from('4')))).code).toBe('ECONNRESET');
    expect(s.requests).toHaveLength(3);
  });

  it('does not reuse a socket after Connection: close or an HTTP/1.0 answer', async () => {
    const s = await serve((r) => r.socket.write(r.n === 1 ? ok('a', 'Connection: close\r\n') : `HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb`));
    const pool = new LeanHttp(s.port, 4, 1000);
    expect((await send(pool, 'whole')).data.toString()).toBe('a');
    expect((await send(pool, 'whole')).data.toString()).toBe('b');
    expect((await send(pool, 'whole')).data.toString()).toBe('b');
    expect(s.connections).toBe(3);
  });

  it('reads a chunked answer (extensions, trailers), whole and streamed, then reuses the socket', async () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n';
    const s = await serve((r) => r.socket.write(chunked));
    const pool = new LeanHttp(s.port, 4, 1000);
    expect((await send(pool, 'whole')).data.toString()).toBe('hello, world');
    const streamed = await send(pool, 'stream');
    expect((await readAll(streamed.body!)).toString()).toBe('hello, world');
    expect(s.connections).toBe(1);
  });

  it('turns an error answer into an S3-shaped error from its XML body, and keeps the socket', async () => {
    const xml = '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message><RequestId>r1</RequestId></Error>';
    const s = await serve((r) => r.socket.write(r.n === 1 ? `HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}` : ok('y')));
    const pool = new LeanHttp(s.port, 4, 1000);
    const err = await rejection(send(pool, 'stream')) as Error & { Code: string; $metadata: { httpStatusCode: number; requestId: string } };
    expect(err.name).toBe('NoSuchKey');
    expect(err.$metadata).toMatchObject({ httpStatusCode: 404, requestId: 'r1' });
    expect((await send(pool, 'whole')).data.toString()).toBe('y');
    expect(s.connections).toBe(1);
  });

  it('reads an error answer without framing until the server closes', async () => {
    const s = await serve((r) => r.socket.end('HTTP/1.1 503 Slow Down\r\n\r\n<Error><Code>SlowDown</Code></Error>'));
    const pool = new LeanHttp(s.port, 4, 1000);
    const err = await rejection(send(pool, 'drain', live(), Buffer.from('z')));
    expect(err.name).toBe('SlowDown');
  });

  it('an abort before the head rejects with the reason and destroys the socket', async () => {
    const s = await serve(() => undefined);
    const pool = new LeanHttp(s.port, 4, 1000);
    const ac = new AbortController();
    const p = send(pool, 'stream', ac.signal);
    await tick();
    const reason = new Error('deadline');
    ac.abort(reason);
    expect(await rejection(p)).toBe(reason);
    expect(pool.openSockets).toBe(0);
  });

  it('an abort after the head fails the body with the reason', async () => {
    const s = await serve((r) => r.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345'));
    const pool = new LeanHttp(s.port, 4, 1000);
    const ac = new AbortController();
    const a = await send(pool, 'stream', ac.signal);
    const reason = new Error('deadline');
    const read = rejection(readAll(a.body!));
    await tick();
    ac.abort(reason);
    expect(await read).toBe(reason);
    expect(pool.openSockets).toBe(0);
  });

  it('a connection cut mid-body fails the body with ECONNRESET', async () => {
    const s = await serve((r) => r.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345'));
    const pool = new LeanHttp(s.port, 4, 1000);
    const a = await send(pool, 'stream');
    expect((await rejection(readAll(a.body!))).code).toBe('ECONNRESET');
  });

  it('reads an answer split across many tiny TCP writes', async () => {
    const answer = 'HTTP/1.1 200 OK\r\nETag: "e"\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
    const s = await serve((r) => {
      r.socket.setNoDelay(true);
      let i = 0;
      const next = (): void => { if (i < answer.length) { r.socket.write(answer.slice(i, i + 3)); i += 3; setTimeout(next, 1); } };
      next();
    });
    const pool = new LeanHttp(s.port, 4, 1000);
    const a = await send(pool, 'whole');
    expect(a.data.toString()).toBe('abcde');
    expect(a.headers.etag).toBe('"e"');
    await send(pool, 'whole');
    expect(s.connections).toBe(1);
  });

  it('does not reuse a socket that sent bytes after the end of an answer', async () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n';
    const s = await serve((r) => r.socket.write(`${r.n < 3 ? ok('a') : chunked}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nX`));
    const pool = new LeanHttp(s.port, 4, 1000);
    expect((await send(pool, 'whole')).data.toString()).toBe('a');
    expect((await send(pool, 'whole')).data.toString()).toBe('a');
    expect((await send(pool, 'whole')).data.toString()).toBe('c');
    expect((await send(pool, 'whole')).data.toString()).toBe('c');
    expect(s.connections).toBe(4);
  });

  it('does not reuse an idle socket that receives bytes', async () => {
    const s = await serve((r) => { r.socket.write(ok('a')); setTimeout(() => r.socket.write('junk'), 5); });
    const pool = new LeanHttp(s.port, 4, 1000);
    await send(pool, 'whole');
    await tick(40);
    expect(pool.openSockets).toBe(0);
    expect((await send(pool, 'whole')).data.toString()).toBe('a');
    expect(s.connections).toBe(2);
  });

  it('refuses what it does not read: 1xx, a 2xx without framing, a head over 64 KiB, not HTTP/1.x', async () => {
    const answers = [
      'HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\nbody', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
      'SSH-2.0-OpenSSH\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
    ];
    const s = await serve((r) => r.socket.write(answers[r.n - 1]!));
    const pool = new LeanHttp(s.port, 4, 1000);
    for (const _ of answers) {
      const err = await rejection(send(pool, 'whole'));
      expect(err).toBeInstanceOf(LeanUnsupported);
      expect(err.code).toBe('ECONNRESET');
    }
    expect(pool.openSockets).toBe(0);
  });

  it('streams a large body with backpressure: every byte, in order, then reuses the socket', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
    const s = await serve((r) => { r.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`); r.socket.write(big); });
    const pool = new LeanHttp(s.port, 4, 1000);
    const a = await send(pool, 'stream');
    const chunks: Buffer[] = [];
    let buffered = 0; // the most bytes waiting in the body: the socket is paused while it is full
    await new Promise<void>((resolve, reject) => {
      let paused = 0;
      a.body!.on('data', (c: Buffer) => {
        chunks.push(c);
        buffered = Math.max(buffered, a.body!.readableLength);
        if (paused++ < 20) { a.body!.pause(); setTimeout(() => a.body!.resume(), 2); }
      }).once('end', resolve).once('error', reject);
    });
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    expect(buffered).toBeLessThan(256 * 1024);
    expect((await readAll((await send(pool, 'stream')).body!)).length).toBe(big.length);
    expect(s.connections).toBe(1);
  });

  it('a HEAD answer has no body whatever its Content-Length says', async () => {
    const s = await serve((r) => r.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'));
    const pool = new LeanHttp(s.port, 4, 1000);
    for (let i = 0; i < 2; i++) {
      const a = await pool.request('127.0.0.1', requestHead('HEAD', '/b/k', { host: 'h' }), undefined, 'whole', true, live(), toError);
      expect(a).toMatchObject({ status: 200, headers: { 'content-length': '10' } });
    }
    expect(s.connections).toBe(1);
  });

  it('closes an idle socket a second before the server\'s Keep-Alive timeout; 1 s or less: does not keep it', async () => {
    const s = await serve((r) => r.socket.write(ok('', `Keep-Alive: timeout=${r.n === 1 ? 1 : 2}\r\n`)));
    const pool = new LeanHttp(s.port, 4, 1000);
    await send(pool, 'drain');
    expect(pool.openSockets).toBe(0);
    await send(pool, 'drain');
    expect(pool.openSockets).toBe(1);
    await tick(1300);
    expect(pool.openSockets).toBe(0);
  });

  it('opens at most maxSockets sockets; beyond, the caller goes another way', async () => {
    const s = await serve((r) => setTimeout(() => r.socket.write(ok('')), 10));
    const pool = new LeanHttp(s.port, 1, 1000);
    const first = send(pool, 'drain');
    expect(pool.request('127.0.0.1', requestHead('GET', '/', {}), undefined, 'drain', false, live(), toError)).toBeUndefined();
    await first;
    await send(pool, 'drain');
    expect(s.connections).toBe(1);
  });
});

describe('SignedHttpClient over LeanHttp', { timeout: 10_000 }, () => {
  const client = (port: number, agent: http.Agent): SignedHttpClient => new SignedHttpClient({
    url: `http://127.0.0.1:${port}`, region: 'us-east-1', agent, pathStyle: true,
    credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }),
  });

  it('sends small PUTs and GETs on its own sockets, and goes back to node:http after an answer it cannot read', async () => {
    const s = await serve((r) => r.socket.write(r.n === 3 ? 'HTTP/1.1 200 OK\r\n\r\n' : ok('v')));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const c = client(s.port, agent);
      expect(await c.putObject({ bucket: 'b', key: 'k', body: Buffer.from('v'), contentLength: 1 }, live())).toEqual({ etag: '"e"', status: 200 });
      const got = await c.getObject({ bucket: 'b', key: 'k' }, live());
      expect((await readAll(got.body)).toString()).toBe('v');
      expect(await rejection(c.getObject({ bucket: 'b', key: 'k' }, live()))).toBeInstanceOf(LeanUnsupported);
      await c.putObject({ bucket: 'b', key: 'k', body: Buffer.from('v'), contentLength: 1 }, live());
      // node:http names the connection it keeps; this client does not
      expect(s.requests.map((r) => /\r\nconnection: keep-alive/i.test(r.head))).toEqual([false, false, false, true]);
      c.close();
    } finally {
      agent.destroy();
    }
  });

  it('calls onBodySent once the whole body is written, before the answer, on both paths (the engine times the wait after it)', async () => {
    let answer: (() => void) | undefined;
    const s = await serve((r) => { answer = () => r.socket.write(ok('')); });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const c = client(s.port, agent);
      const body = Buffer.alloc(2 * 1024 * 1024, 1);
      fs.writeFileSync(path.join(tmp, 'sent.bin'), body);
      // a Buffer and a FileRange go over lean-http, a stream over node:http
      for (const b of [body, new FileRange(path.join(tmp, 'sent.bin'), 0, body.length), () => Readable.from([body])]) {
        const events: string[] = [];
        const put = c.putObject({ bucket: 'b', key: 'k', body: b, contentLength: body.length, onBodySent: () => events.push('sent') }, live())
          .then(() => events.push('answered'));
        answer = undefined;
        for (let i = 0; i < 400 && (events.length === 0 || !answer); i++) await tick(5);
        expect(events).toEqual(['sent']); // the server has the whole body and has not answered
        answer!();
        await put;
        expect(events).toEqual(['sent', 'answered']);
      }
      expect(s.requests.map((r) => r.body.length)).toEqual([body.length, body.length, body.length]);
      c.close();
    } finally {
      agent.destroy();
    }
  });

  it('leaves stream bodies to node:http', async () => {
    const s = await serve((r) => r.socket.write(ok('')));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const c = client(s.port, agent);
      await c.putObject({ bucket: 'b', key: 'k', body: () => Readable.from([Buffer.from('v')]), contentLength: 1 }, live());
      expect(/\r\nconnection: keep-alive/i.test(s.requests[0]!.head)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('sends a FileRange over lean-http: exactly the range, then the socket is reused', async () => {
    const f = tmpFile('range.bin', 3 * RANGE_CHUNK_BYTES + 99);
    const s = await serve((r) => r.socket.write(ok('')));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const c = client(s.port, agent);
      for (const [start, len] of [[0, f.data.length], [17, 2 * RANGE_CHUNK_BYTES + 1]] as const) {
        await c.putObject({ bucket: 'b', key: 'k', body: new FileRange(f.path, start, len), contentLength: len }, live());
      }
      expect(s.requests.map((r) => r.body.equals(f.data.subarray(0, f.data.length)) || r.body.equals(f.data.subarray(17, 17 + 2 * RANGE_CHUNK_BYTES + 1)))).toEqual([true, true]);
      expect(s.requests[1]!.body.length).toBe(2 * RANGE_CHUNK_BYTES + 1);
      expect(s.requests.some((r) => /\r\nconnection: keep-alive/i.test(r.head))).toBe(false); // not node:http
      expect(s.connections).toBe(1);
      c.close();
    } finally {
      agent.destroy();
    }
  });

  it('an error answered before the FileRange was all sent: the error, and the socket is not reused for the next request', async () => {
    const f = tmpFile('early.bin', 8 * RANGE_CHUNK_BYTES);
    let connections = 0;
    const heads: string[] = [];
    const server = net.createServer((socket) => {
      connections++;
      socket.on('error', () => undefined);
      let seen = '';
      let answered = false;
      socket.on('data', (d: Buffer) => {
        if (answered) return;
        seen += d.toString('latin1');
        if (!seen.includes('\r\n\r\n')) return;
        answered = true;
        heads.push(seen.slice(0, seen.indexOf('\r\n\r\n')));
        // the first request is refused at its head; the next (a new socket) gets a clean 200
        if (heads.length === 1) socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        else socket.write(ok(''));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const c = client(port, agent);
      const err = await rejection(c.putObject({ bucket: 'b', key: 'k', body: new FileRange(f.path, 0, f.data.length), contentLength: f.data.length }, live()));
      expect(err).toMatchObject({ name: 'HTTP403' });
      await c.putObject({ bucket: 'b', key: 'k2', body: Buffer.from('v'), contentLength: 1 }, live());
      expect(connections).toBe(2);
      expect(heads[1]).toMatch(/^PUT \/b\/k2 HTTP\/1\.1/);
      c.close();
    } finally {
      agent.destroy();
      server.close();
    }
  });

  it('a FileRange whose file ends early fails the request (BodyLengthMismatch) and drops the socket', async () => {
    const f = tmpFile('short.bin', RANGE_CHUNK_BYTES + 10);
    const s = await serve((r) => r.socket.write(ok('')));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const c = client(s.port, agent);
      const err = await rejection(c.putObject({ bucket: 'b', key: 'k', body: new FileRange(f.path, 0, f.data.length + 100), contentLength: f.data.length + 100 }, live()));
      expect(err).toMatchObject({ code: 'BodyLengthMismatch' });
      await c.putObject({ bucket: 'b', key: 'k', body: Buffer.from('v'), contentLength: 1 }, live());
      expect(s.connections).toBe(2);
      expect(s.requests.map((r) => r.body.toString())).toEqual(['v']);
      c.close();
    } finally {
      agent.destroy();
    }
  });
});
