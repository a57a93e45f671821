import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy, type FaultSpec } from '../support/fault-proxy.js';

// ---------------------------------------------------------------------------------------------
// A tiny upstream: records every request (complete or not) and echoes the body back, or sends
// `?down=N` deterministic bytes, or nothing for `?sink=1`. No S3 needed.
// ---------------------------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
  complete: boolean;
}

interface Upstream {
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let recorded = false;
    const record = (complete: boolean): void => {
      if (recorded) return;
      recorded = true;
      seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], body: Buffer.concat(chunks), complete });
    };
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => record(req.complete));
    req.on('end', () => {
      record(true);
      const down = /[?&]down=(\d+)/.exec(req.url ?? '');
      const sink = /[?&]sink=1/.test(req.url ?? '');
      const body = down ? pattern(Number(down[1])) : sink ? Buffer.alloc(0) : Buffer.concat(chunks);
      const status = req.method === 'DELETE' ? 204 : 200;
      res.writeHead(status, [
        'x-amz-request-id', 'UPSTREAM-1',
        'ETag', `"${createHash('md5').update(body).digest('hex')}"`,
        'X-Multi', 'one',
        'X-Multi', 'two',
        'x-echo-method', req.method ?? '',
        ...(status === 204 ? [] : ['Content-Length', String(body.length)]),
      ]);
      res.end(status === 204 || req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const up: Upstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(up.close);
  return up;
}

async function proxyFor(up: Upstream, faults?: FaultSpec, maxLifetimeMs?: number): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: up.url, ...(faults ? { faults } : {}), ...(maxLifetimeMs ? { maxLifetimeMs } : {}) });
  cleanups.push(() => p.close());
  return p;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

interface SendOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** send the body with chunked transfer-encoding, in 64 KiB writes */
  chunked?: boolean;
  expectContinue?: boolean;
  timeoutMs?: number;
  agent?: http.Agent;
}

/** One HTTP request; rejects on socket errors or when timeoutMs elapses (AbortError). */
function send(base: string, o: SendOptions): Promise<Reply> {
  const u = new URL(base);
  const body = o.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (!o.chunked) headers['Content-Length'] = String(body.length);
  if (o.expectContinue) headers['Expect'] = '100-continue';
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: Number(u.port),
      method: o.method ?? 'PUT',
      path: o.path,
      headers,
      agent: o.agent ?? false,
      signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
    });
    const writeBody = (): void => {
      if (o.chunked) {
        for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536));
        req.end();
      } else {
        req.end(body);
      }
    };
    if (o.expectContinue) {
      req.on('continue', writeBody);
      req.flushHeaders();
    } else {
      writeBody();
    }
  });
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${(e as NodeJS.ErrnoException).code ?? ''} ${e.name} ${e.message}`;
  return String(e);
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

/** Sequential small PUTs; returns the 1-based indexes that timed out (stalled). */
async function stalledIndexes(p: FaultProxy, n: number, timeoutMs: number, prefix: string): Promise<number[]> {
  const stalled: number[] = [];
  for (let i = 1; i <= n; i++) {
    try {
      const r = await send(p.url, { path: `/bkt/${prefix}${i}`, body: Buffer.from(`body-${i}`), timeoutMs });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`body-${i}`);
    } catch (e) {
      expect((e as Error).name).toBe('AbortError');
      stalled.push(i);
    }
  }
  return stalled;
}

describe('fault-proxy', () => {
  it('forwards method, path+query, headers (Host, Authorization) and bodies faithfully both ways', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up);
    expect(p.url).toBe(`http://127.0.0.1:${p.port}`);

    const big = randomBytes(2 * 1024 * 1024);
    const path = '/bkt/dir%2Fsome%20key~x?partNumber=1&uploadId=a%2Fb%3D%3D&x-id=UploadPart';
    const headers = {
      Host: 's3.example.test:9000',
      Authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc',
      'X-Amz-Date': '20240101T000000Z',
      'x-amz-content-sha256': createHash('sha256').update(big).digest('hex'),
      'Content-MD5': createHash('md5').update(big).digest('base64'),
      'X-Custom-Case': 'MiXeD',
    };
    const r = await send(p.url, { method: 'PUT', path, headers, body: big });
    expect(r.status).toBe(200);
    expect(r.body.equals(big)).toBe(true);
    expect(r.headers['x-amz-request-id']).toBe('UPSTREAM-1');
    expect(r.headers['etag']).toBe(`"${createHash('md5').update(big).digest('hex')}"`);
    expect(r.rawHeaders.filter((_, i, a) => i % 2 === 1 && a[i - 1] === 'X-Multi')).toEqual(['one', 'two']);

    const s = up.seen[0]!;
    expect(s.method).toBe('PUT');
    expect(s.url).toBe(path);
    expect(s.complete).toBe(true);
    expect(s.body.equals(big)).toBe(true);
    const raw = s.rawHeaders;
    for (const [k, v] of Object.entries(headers)) {
      const i = raw.findIndex((h) => h.toLowerCase() === k.toLowerCase());
      expect(i, k).toBeGreaterThanOrEqual(0);
      expect(raw[i + 1], k).toBe(v);
    }
    expect(raw.filter((h) => h.toLowerCase() === 'host')).toHaveLength(1);

    // 0-byte body
    const z = await send(p.url, { method: 'PUT', path: '/bkt/empty', body: Buffer.alloc(0) });
    expect(z.status).toBe(200);
    expect(z.body.length).toBe(0);
    expect(up.seen[1]).toMatchObject({ method: 'PUT', url: '/bkt/empty', complete: true });
    expect(up.seen[1]!.body.length).toBe(0);

    // chunked upload (unknown length), Expect: 100-continue, GET download, HEAD, DELETE 204
    const mid = randomBytes(300 * 1024);
    const c = await send(p.url, { path: '/bkt/chunked', body: mid, chunked: true, expectContinue: true });
    expect(c.status).toBe(200);
    expect(c.body.equals(mid)).toBe(true);
    const g = await send(p.url, { method: 'GET', path: '/bkt/?list-type=2&prefix=a%2Fb&delimiter=%2F&down=1048576' });
    expect(g.body.equals(pattern(1048576))).toBe(true);
    expect(up.seen.at(-1)!.url).toBe('/bkt/?list-type=2&prefix=a%2Fb&delimiter=%2F&down=1048576');
    const h = await send(p.url, { method: 'HEAD', path: '/bkt/obj?down=10' });
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe('10');
    const d = await send(p.url, { method: 'DELETE', path: '/bkt/obj' });
    expect(d.status).toBe(204);

    const st = p.stats();
    expect(st).toMatchObject({ requests: 6, matched: 6, forwarded: 6, stalled: 0, resets: 0, slowDowns: 0, corrupted: 0 });
    expect(st.bytesUp).toBe(big.length + mid.length);
    expect(st.bytesDown).toBe(big.length + mid.length + 1048576);
  });

  it('reuses keep-alive client connections', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    for (let i = 0; i < 5; i++) {
      const r = await send(p.url, { path: `/bkt/ka${i}`, body: Buffer.from(`v${i}`), agent });
      expect(r.body.toString()).toBe(`v${i}`);
    }
    expect(p.stats().forwarded).toBe(5);
  });

  it('stallEvery: 3 stalls exactly the 3rd and 6th matching requests', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { stallEvery: 3 });
    const stalled = await stalledIndexes(p, 7, 300, 'k');
    expect(stalled).toEqual([3, 6]);
    expect(p.stats()).toMatchObject({ requests: 7, matched: 7, stalled: 2, forwarded: 5 });
    expect(up.seen.map((s) => s.url)).toEqual(['/bkt/k1', '/bkt/k2', '/bkt/k4', '/bkt/k5', '/bkt/k7']);
  });

  it('stallNth: [1, 4] stalls exactly the 1st and 4th matching requests', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { stallNth: [1, 4] });
    const stalled = await stalledIndexes(p, 5, 300, 'n');
    expect(stalled).toEqual([1, 4]);
    expect(p.stats()).toMatchObject({ requests: 5, matched: 5, stalled: 2, forwarded: 3 });
    await expect(startFaultProxy({ target: 'http://127.0.0.1:1', faults: { stallNth: [0] } })).rejects.toThrow(/stallNth/);
  });

  it('stallFirstPerPath stalls the first request for each path only, whatever came before it', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { stallFirstPerPath: true });
    // a: stalled, then passes twice (a hedge and its own hedge); b: stalled, then passes; a query does not make a new path
    const paths = ['/bkt/a', '/bkt/a', '/bkt/a?x=1', '/bkt/b', '/bkt/b'];
    const stalled: string[] = [];
    for (const [i, path] of paths.entries()) {
      try {
        const r = await send(p.url, { path, body: Buffer.from(`body-${i}`), timeoutMs: 300 });
        expect(r.status).toBe(200);
      } catch (e) {
        expect((e as Error).name).toBe('AbortError');
        stalled.push(`${i}`);
      }
    }
    expect(stalled).toEqual(['0', '3']);
    expect(p.stats()).toMatchObject({ requests: 5, matched: 5, stalled: 2, forwarded: 3 });
  });

  it('stallFraction with a seed is reproducible across proxies', async () => {
    const up = await startUpstream();
    const spec: FaultSpec = { stallFraction: 0.4, seed: 42 };
    const a = await proxyFor(up, spec);
    const b = await proxyFor(up, spec);
    const sa = await stalledIndexes(a, 8, 200, 'a');
    const sb = await stalledIndexes(b, 8, 200, 'b');
    expect(sa).toEqual(sb);
    expect(sa.length).toBeGreaterThan(0);
    expect(sa.length).toBeLessThan(8);
    expect(a.stats().stalled).toBe(sa.length);
  });

  it('delayMs adds at least that latency', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { delayMs: 250 });
    const t0 = performance.now();
    const r = await send(p.url, { path: '/bkt/slow', body: Buffer.from('x') });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(245);
    expect(r.status).toBe(200);
    expect(p.stats().delayed).toBe(1);
  });

  it('responseDelayMs holds the answer after the upstream has acted on the request', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { match: /^POST /, responseDelayMs: 300 });
    const t0 = performance.now();
    const late = send(p.url, { method: 'POST', path: '/bkt/k?uploadId=1', body: Buffer.from('x'), timeoutMs: 150 }).then(() => 'answered', () => 'cut');
    await waitFor(() => up.seen.length === 1, 1000);
    expect(performance.now() - t0).toBeLessThan(150); // forwarded at once
    expect(await late).toBe('cut');
    const r = await send(p.url, { method: 'POST', path: '/bkt/k?uploadId=1', body: Buffer.from('y') });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(295);
    expect(r.status).toBe(200);
    expect((await send(p.url, { path: '/bkt/fast' })).status).toBe(200);
    expect(p.stats()).toMatchObject({ responsesDelayed: 2, forwarded: 3 });
  });

  it('resetEvery resets the client mid-body; the upstream sees an incomplete body', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { resetEvery: 2 });
    const body = randomBytes(256 * 1024);
    expect((await send(p.url, { path: '/bkt/r1', body })).status).toBe(200);

    const err = await send(p.url, { path: '/bkt/r2', body }).then(
      () => 'no error',
      (e: unknown) => errorText(e),
    );
    expect(err).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    await waitFor(() => up.seen.some((s) => s.url === '/bkt/r2'), 1000);
    const partial = up.seen.filter((s) => s.url === '/bkt/r2');
    for (const s of partial) {
      expect(s.complete).toBe(false);
      expect(s.body.length).toBeLessThan(body.length);
    }
    expect(p.stats().resets).toBe(1);

    // 0-byte body: reset before answering, not forwarded
    p.setFaults({ resetEvery: 1 });
    const err0 = await send(p.url, { path: '/bkt/r0', body: Buffer.alloc(0) }).then(
      () => 'no error',
      (e: unknown) => errorText(e),
    );
    expect(err0).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    expect(up.seen.some((s) => s.url === '/bkt/r0')).toBe(false);
    expect(p.stats().resets).toBe(2);

    // chunked body (unknown length): cut after about half of the first chunk
    const errC = await send(p.url, { path: '/bkt/rc', body, chunked: true }).then(
      () => 'no error',
      (e: unknown) => errorText(e),
    );
    expect(errC).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    await waitFor(() => up.seen.some((s) => s.url === '/bkt/rc'), 1000);
    for (const s of up.seen.filter((x) => x.url === '/bkt/rc')) expect(s.complete).toBe(false);
    expect(p.stats().resets).toBe(3);
  });

  it('slowDownEvery answers 503 SlowDown with Retry-After without reaching the upstream', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { slowDownEvery: 2, retryAfterSec: 3 });
    const body = randomBytes(100 * 1024);
    expect((await send(p.url, { path: '/bkt/s1', body })).status).toBe(200);
    const r = await send(p.url, { path: '/bkt/s2', body });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('3');
    expect(r.headers['content-type']).toBe('application/xml');
    expect(r.body.toString()).toContain('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>');
    expect(up.seen.map((s) => s.url)).toEqual(['/bkt/s1']);
    expect(p.stats()).toMatchObject({ slowDowns: 1, forwarded: 1 });

    // no Retry-After when retryAfterSec is not given; counters restart on setFaults
    p.setFaults({ slowDownEvery: 2 });
    expect((await send(p.url, { path: '/bkt/s3', body })).status).toBe(200);
    const r4 = await send(p.url, { path: '/bkt/s4', body });
    expect(r4.status).toBe(503);
    expect(r4.headers['retry-after']).toBeUndefined();
  });

  it('failAfter answers the chosen S3 error after delayMs, without reaching the upstream', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { failAfter: 1, failStatus: 404, failCode: 'NoSuchUpload', delayMs: 200 });
    expect((await send(p.url, { method: 'POST', path: '/bkt/k?uploadId=1', body: Buffer.from('<x/>') })).status).toBe(200);
    const t0 = performance.now();
    const r = await send(p.url, { method: 'POST', path: '/bkt/k?uploadId=1', body: Buffer.from('<x/>') });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(195);
    expect(r.status).toBe(404);
    expect(r.body.toString()).toContain('<Code>NoSuchUpload</Code>');
    expect((await send(p.url, { method: 'POST', path: '/bkt/k?uploadId=1', body: Buffer.from('<x/>') })).status).toBe(404);
    expect(up.seen).toHaveLength(1);
    p.setFaults({ failAfter: 0 });
    const d = await send(p.url, { path: '/bkt/k' });
    expect(d.status).toBe(500);
    expect(d.body.toString()).toContain('<Code>InternalError</Code>');
    expect(p.stats()).toMatchObject({ failures: 3, forwarded: 1 });
    expect(() => p.setFaults({ failAfter: 0, failStatus: 200 })).toThrow(/fault-proxy/);
    expect(() => p.setFaults({ failAfter: 0, failCode: '<x>' })).toThrow(/fault-proxy/);
  });

  it('slowDownStormMs answers every matching request 503 SlowDown for that long after slowDownStormAfter, then forwards again', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { match: /^PUT /, slowDownStormAfter: 2, slowDownStormMs: 400 });
    const body = randomBytes(1024);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(p.url, { path: `/bkt/a${i}`, body })).status);
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    expect((await send(p.url, { method: 'GET', path: '/bkt/other' })).status).toBe(200); // not matching: forwarded
    await new Promise((r) => setTimeout(r, 450));
    expect((await send(p.url, { path: '/bkt/after', body })).status).toBe(200);
    expect(p.stats()).toMatchObject({ slowDowns: 3, forwarded: 4 });
    expect(up.seen.map((s) => s.url)).toEqual(['/bkt/a0', '/bkt/a1', '/bkt/other', '/bkt/after']);
    // setFaults restarts the storm: the first matching request starts it again
    p.setFaults({ slowDownStormMs: 10_000 });
    expect((await send(p.url, { path: '/bkt/b', body })).status).toBe(503);
    expect(() => p.setFaults({ slowDownStormMs: 0 })).toThrow(/slowDownStormMs/);
    expect(() => p.setFaults({ slowDownStormMs: 10, slowDownStormAfter: -1 })).toThrow(/slowDownStormAfter/);
  });

  it('corruptEvery flips exactly one byte of the forwarded body', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { corruptEvery: 1 });
    const body = randomBytes(200 * 1024 + 3);
    const r = await send(p.url, { path: '/bkt/c', body });
    expect(r.status).toBe(200);
    const got = up.seen[0]!.body;
    expect(got.length).toBe(body.length);
    const diffs: number[] = [];
    for (let i = 0; i < body.length; i++) if (got[i] !== body[i]) diffs.push(i);
    expect(diffs).toEqual([Math.floor(body.length / 2)]);
    expect(p.stats().corrupted).toBe(1);
  });

  it('corruptResponseEvery flips exactly one byte of the response body, every Nth request', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { corruptResponseEvery: 2 });
    const want = pattern(100_001);
    const bodies: Buffer[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await send(p.url, { method: 'GET', path: `/bkt/r${i}?down=100001` })).body);
    const diffs = bodies.map((b) => { const d: number[] = []; for (let i = 0; i < want.length; i++) if (b[i] !== want[i]) d.push(i); return d; });
    expect(bodies.map((b) => b.length)).toEqual([100_001, 100_001, 100_001, 100_001]);
    expect(diffs).toEqual([[], [50_000], [], [50_000]]);
    expect(p.stats().responsesCorrupted).toBe(2);
  });

  it('randomEtag and responseHeaders rewrite matching 2xx answers only (an SSE-KMS-like ETag), body untouched', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { match: /^PUT /, randomEtag: true, responseHeaders: { 'x-amz-server-side-encryption': 'aws:kms' } });
    const body = randomBytes(1000);
    const md5 = createHash('md5').update(body).digest('hex');
    const a = await send(p.url, { path: '/bkt/a', body });
    const b = await send(p.url, { path: '/bkt/b', body });
    for (const r of [a, b]) {
      expect(r.status).toBe(200);
      expect(r.body.equals(body)).toBe(true);
      expect(r.headers['etag']).toMatch(/^"[0-9a-f]{32}"$/);
      expect(r.headers['etag']).not.toBe(`"${md5}"`);
      expect(r.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(r.rawHeaders.filter((h) => h.toLowerCase() === 'etag')).toHaveLength(1);
    }
    expect(a.headers['etag']).not.toBe(b.headers['etag']);
    // not matching: forwarded as the upstream answered
    const g = await send(p.url, { method: 'GET', path: '/bkt/g?down=10' });
    expect(g.headers['etag']).toBe(`"${createHash('md5').update(pattern(10)).digest('hex')}"`);
    expect(g.headers['x-amz-server-side-encryption']).toBeUndefined();
    expect(p.stats().responsesRewritten).toBe(2);
    // seeded: the same ETags again after setFaults; only the header, without randomEtag
    p.setFaults({ match: /^PUT /, randomEtag: true });
    expect((await send(p.url, { path: '/bkt/a', body })).headers['etag']).toBe(a.headers['etag']);
    p.setFaults({ responseHeaders: { 'x-amz-server-side-encryption': 'aws:kms' } });
    const c = await send(p.url, { path: '/bkt/c', body });
    expect(c.headers['etag']).toBe(`"${md5}"`);
    expect(c.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    // a RegExp: the ETag of matching requests that also match it; the headers of all matching ones
    p.setFaults({ match: /^PUT /, randomEtag: /^PUT \/bkt\/r/, responseHeaders: { 'x-amz-server-side-encryption': 'aws:kms' } });
    expect((await send(p.url, { path: '/bkt/r1', body })).headers['etag']).not.toBe(`"${md5}"`);
    const kept = await send(p.url, { path: '/bkt/k1', body });
    expect(kept.headers['etag']).toBe(`"${md5}"`);
    expect(kept.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(() => p.setFaults({ responseHeaders: { 'bad header': 'x' } })).toThrow(/fault-proxy/);
    expect(() => p.setFaults({ responseHeaders: { ok: 'a\r\nb' } })).toThrow(/fault-proxy/);
  });

  it('throttles per connection in both directions (lower bounds only)', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { throttleBytesPerSecPerConn: 512 * 1024 });
    const body = randomBytes(1024 * 1024);
    const t0 = performance.now();
    const r = await send(p.url, { path: '/bkt/up?sink=1', body, timeoutMs: 10_000 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500); // ~2 s at 512 KiB/s
    expect(r.status).toBe(200);
    expect(up.seen[0]!.body.equals(body)).toBe(true);
    const t1 = performance.now();
    const g = await send(p.url, { method: 'GET', path: '/bkt/dl?down=524288', timeoutMs: 10_000 });
    expect(performance.now() - t1).toBeGreaterThanOrEqual(750); // ~1 s at 512 KiB/s
    expect(g.body.equals(pattern(524288))).toBe(true);
  }, 15_000);

  it('throttles all connections together with the total limit', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { throttleBytesPerSecTotal: 512 * 1024 });
    const a = randomBytes(512 * 1024);
    const b = randomBytes(512 * 1024);
    const t0 = performance.now();
    const [ra, rb] = await Promise.all([
      send(p.url, { method: 'PUT', path: '/bkt/ta?sink=1', body: a, timeoutMs: 10_000 }),
      send(p.url, { method: 'PUT', path: '/bkt/tb?sink=1', body: b, timeoutMs: 10_000 }),
    ]);
    // 1 MiB over two connections sharing one 512 KiB/s bucket: ~2 s (each alone would be unthrottled)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(ra.status).toBe(200);
    expect(rb.status).toBe(200);
    const byUrl = new Map(up.seen.map((s) => [s.url, s.body]));
    expect(byUrl.get('/bkt/ta?sink=1')!.equals(a)).toBe(true);
    expect(byUrl.get('/bkt/tb?sink=1')!.equals(b)).toBe(true);
  }, 15_000);

  it('match restricts faults to matching requests', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { match: /^PUT \/bkt\/slow\//, slowDownEvery: 1 });
    expect((await send(p.url, { path: '/bkt/slow/x' })).status).toBe(503);
    expect((await send(p.url, { path: '/bkt/fast/x' })).status).toBe(200);
    expect((await send(p.url, { method: 'GET', path: '/bkt/slow/x' })).status).toBe(200);
    expect((await send(p.url, { path: '/bkt/slow/y?partNumber=2' })).status).toBe(503);
    expect(p.stats()).toMatchObject({ requests: 4, matched: 2, slowDowns: 2, forwarded: 2 });
  });

  it('refuses non-loopback or non-http targets and invalid specs', async () => {
    for (const target of ['http://example.com', 'http://10.0.0.1:9000', 'https://127.0.0.1:9000', 'http://127.0.0.1.nip.io:80', 'http://[::ffff:8.8.8.8]:80', 'not a url']) {
      await expect(startFaultProxy({ target }), target).rejects.toThrow(/fault-proxy/);
    }
    await expect(startFaultProxy({ target: 'http://127.0.0.1:1', faults: { stallEvery: 0 } })).rejects.toThrow(/stallEvery/);
    const ok = await startFaultProxy({ target: 'http://localhost:1' });
    await ok.close();
  });

  it('answers 502 when the upstream is down', async () => {
    const tmp = http.createServer();
    await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
    const port = (tmp.address() as AddressInfo).port;
    await new Promise<void>((resolve) => tmp.close(() => resolve()));
    const p = await startFaultProxy({ target: `http://127.0.0.1:${port}` });
    cleanups.push(() => p.close());
    const r = await send(p.url, { path: '/bkt/x', body: randomBytes(1000) });
    expect(r.status).toBe(502);
  });

  it('close() is idempotent and destroys stalled sockets', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { stallEvery: 1 });
    const pending = send(p.url, { path: '/bkt/stuck', body: Buffer.from('abc'), timeoutMs: 5000 }).then(
      () => 'no error',
      (e: unknown) => errorText(e),
    );
    expect(await waitFor(() => p.stats().stalled === 1, 2000)).toBe(true);
    await Promise.all([p.close(), p.close()]);
    await p.close();
    const err = await pending;
    expect(err).not.toMatch(/AbortError/); // ended by close(), not by the client's own timeout
    expect(err).toMatch(/ECONNRESET|socket hang up/);
    const after = await send(p.url, { path: '/bkt/x', timeoutMs: 1000 }).then(
      () => 'no error',
      (e: unknown) => errorText(e),
    );
    expect(after).toMatch(/ECONNREFUSED/);
  });

  it('maxLifetimeMs closes the proxy by itself', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, undefined, 200);
    expect((await send(p.url, { path: '/bkt/alive' })).status).toBe(200);
    let refused = '';
    for (let i = 0; i < 60 && !/ECONNREFUSED/.test(refused); i++) {
      await new Promise((r) => setTimeout(r, 50));
      refused = await send(p.url, { path: '/bkt/x', timeoutMs: 1000 }).then(
        () => 'no error',
        (e: unknown) => errorText(e),
      );
    }
    expect(refused).toMatch(/ECONNREFUSED/);
  });
});

describe('fault-proxy: slow-not-stalled and mid-body stalls (hedging, issue 14)', () => {
  it('responseDelayEvery: 3 delays only the 3rd and 6th answers; the rest pass at once', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { responseDelayEvery: 3, responseDelayMs: 60_000 });
    // a 60 s delay: the delayed ones are the ones cut by the 1 s client timeout
    const cut = await stalledIndexes(p, 7, 1000, 'd');
    expect(cut).toEqual([3, 6]);
    expect(p.stats()).toMatchObject({ responsesDelayed: 2, forwarded: 7, stalled: 0 });
    expect(up.seen).toHaveLength(7); // every request reached the upstream: slow, not stalled
    // the bench tells the requests the proxy made slow from the gateway's own stragglers by this log
    expect(p.faultLog()).toEqual([{ request: 'PUT /bkt/d3', fault: 'responseDelayed' }, { request: 'PUT /bkt/d6', fault: 'responseDelayed' }]);
    p.setFaults({ stallEvery: 2 });
    expect(await stalledIndexes(p, 2, 500, 's')).toEqual([2]);
    expect(p.faultLog().at(-1)).toEqual({ request: 'PUT /bkt/s2', fault: 'stalled' });
  });

  it('responseDelayFraction is seeded: the same requests are delayed on two proxies', async () => {
    const up = await startUpstream();
    const spec: FaultSpec = { responseDelayFraction: 0.4, responseDelayMs: 60_000, seed: 5 };
    const a = await stalledIndexes(await proxyFor(up, spec), 8, 500, 'a');
    const b = await stalledIndexes(await proxyFor(up, spec), 8, 500, 'b');
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(0);
    expect(a.length).toBeLessThan(8);
  });

  it('stallAfterBytes on a PUT: the upstream gets exactly that many body bytes, never an end; a client abort is counted', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { stallEvery: 1, stallAfterBytes: 1000 });
    const r = await send(p.url, { path: '/bkt/big', body: randomBytes(256 * 1024), timeoutMs: 500 }).then(() => 'answered', () => 'cut');
    expect(r).toBe('cut');
    await waitFor(() => up.seen.length === 1 && p.stats().stalledClosedByClient === 1, 3000);
    expect([up.seen.length, p.stats().stalledClosedByClient]).toEqual([1, 1]);
    expect(up.seen[0]!.complete).toBe(false);
    expect(up.seen[0]!.body.length).toBe(1000);
    expect(p.stats()).toMatchObject({ stalled: 1, bytesUp: 1000 });
  });

  it('stallAfterBytes on a GET: the answer\'s headers and that many body bytes, then nothing', async () => {
    const up = await startUpstream();
    const p = await proxyFor(up, { match: /^GET /, stallEvery: 2, stallAfterBytes: 5000 });
    const get = (path: string): Promise<{ status: number; bytes: number; ended: boolean }> => new Promise((resolve) => {
      const u = new URL(p.url);
      let bytes = 0;
      let status = 0;
      const req = http.request({ host: u.hostname, port: Number(u.port), method: 'GET', path }, (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (c: Buffer) => { bytes += c.length; });
        res.on('end', () => { clearTimeout(t); resolve({ status, bytes, ended: true }); });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      const t = setTimeout(() => { req.destroy(); resolve({ status, bytes, ended: false }); }, 1500);
      req.end();
    });
    expect(await get('/bkt/o1?down=100000')).toEqual({ status: 200, bytes: 100000, ended: true });
    expect(await get('/bkt/o2?down=100000')).toEqual({ status: 200, bytes: 5000, ended: false });
    expect(p.stats()).toMatchObject({ stalled: 1, matched: 2 });
  });

  it('refuses a bad responseDelayEvery, responseDelayFraction or stallAfterBytes', async () => {
    await expect(startFaultProxy({ target: 'http://127.0.0.1:1', faults: { responseDelayEvery: 0 } })).rejects.toThrow(/responseDelayEvery/);
    await expect(startFaultProxy({ target: 'http://127.0.0.1:1', faults: { responseDelayFraction: 2 } })).rejects.toThrow(/responseDelayFraction/);
    await expect(startFaultProxy({ target: 'http://127.0.0.1:1', faults: { stallAfterBytes: -1 } })).rejects.toThrow(/stallAfterBytes/);
  });
});
