/**
 * endpoints/agents.ts against loopback servers: CONNECT tunnels for https (NO_PROXY checked per
 * host, as AWS and virtual-hosted buckets reach hosts the endpoint URL does not name), the
 * absolute-form rewrite for http (also of a head Node stored early for Expect: 100-continue),
 * and a proxy's refusal as one error that names the proxy and never its password.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAgent } from '../../src/endpoints/agents.js';
import { resolveNetwork } from '../../src/config/network.js';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { makeTestCa, type TestCa } from '../support/tls-terminator.js';

const SETTINGS = { keepAlive: true, maxSockets: 4, keepAliveMsecs: 1000 };
const PASSWORD = 'unit-pr0xy-pw';
let ca: TestCa;
let proxy: ForwardProxy;
let tlsServer: https.Server;
let plainServer: http.Server;
let tlsPort: number;
let plainPort: number;
const seen: string[] = [];

const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  let n = 0;
  req.on('data', (c: Buffer) => (n += c.length));
  req.on('end', () => { seen.push(`${req.method} ${req.url} ${req.headers.host} ${n} ${req.headers['proxy-authorization'] ?? '-'}`); res.end('ok'); });
};

beforeAll(async () => {
  ca = makeTestCa();
  proxy = await startForwardProxy({ auth: `u:${PASSWORD}` });
  tlsServer = https.createServer({ key: fs.readFileSync(ca.keyFile), cert: fs.readFileSync(ca.certFile) }, answer);
  plainServer = http.createServer(answer);
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', r));
  tlsPort = (tlsServer.address() as net.AddressInfo).port;
  plainPort = (plainServer.address() as net.AddressInfo).port;
});

afterAll(async () => {
  tlsServer?.closeAllConnections();
  plainServer?.closeAllConnections();
  await new Promise((r) => tlsServer?.close(r));
  await new Promise((r) => plainServer?.close(r));
  await proxy?.close();
  ca?.remove();
});

function send(mod: typeof http | typeof https, agent: http.Agent, port: number, opts: { body?: Buffer; headers?: Record<string, string> } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = mod.request({ agent, host: '127.0.0.1', port, method: opts.body ? 'PUT' : 'GET', path: '/bkt/k?x=1', headers: { ...opts.headers, ...(opts.body && { 'content-length': String(opts.body.length) }) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const networkWith = (env: Record<string, string>): ReturnType<typeof resolveNetwork> =>
  resolveNetwork({}, { AWS_CA_BUNDLE: ca.caFile, ...env });

describe('https through a proxy', () => {
  it('AWS (no endpoint URL): tunnels per socket, reuses the socket for the next request', async () => {
    const agent = makeAgent(undefined, SETTINGS, networkWith({ HTTPS_PROXY: proxy.url.replace('//', `//u:${PASSWORD}@`) }));
    const before = proxy.connects;
    expect(await send(https, agent, tlsPort)).toBe('200 ok');
    expect(await send(https, agent, tlsPort)).toBe('200 ok');
    expect(proxy.connects - before).toBe(1);
    expect(proxy.targets.at(-1)).toBe(`127.0.0.1:${tlsPort}`);
    agent.destroy();
  });

  it('NO_PROXY is checked per host even when the endpoint URL is unknown', async () => {
    const agent = makeAgent(undefined, SETTINGS, networkWith({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }));
    const before = proxy.targets.length;
    expect(await send(https, agent, tlsPort)).toBe('200 ok');
    expect(proxy.targets.length).toBe(before);
    agent.destroy();
  });

  it('a refused tunnel: code ProxyRefused, the proxy named by host:port, no password', async () => {
    const agent = makeAgent(`https://127.0.0.1:${tlsPort}`, SETTINGS, networkWith({ HTTPS_PROXY: proxy.url.replace('//', '//u:wrong-secret@') }));
    const err = await send(https, agent, tlsPort).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(err?.code).toBe('ProxyRefused');
    expect(err?.message).toMatch(new RegExp(`^proxy 127\\.0\\.0\\.1:\\d+: refused CONNECT 127\\.0\\.0\\.1:${tlsPort}: HTTP/1\\.1 407`));
    expect(err?.message).not.toContain('wrong-secret');
    agent.destroy();
  });
  it('a proxy that hangs up without answering: ECONNRESET naming the proxy, not a hang', async () => {
    const mute = net.createServer((s) => s.once('data', () => s.end()));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const mutePort = (mute.address() as net.AddressInfo).port;
    try {
      const agent = makeAgent(`https://127.0.0.1:${tlsPort}`, SETTINGS, networkWith({ HTTPS_PROXY: `127.0.0.1:${mutePort}` }));
      const err = await send(https, agent, tlsPort).then(() => undefined, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).toBe('ECONNRESET');
      expect(err?.message).toBe(`proxy 127.0.0.1:${mutePort}: closed the connection before answering CONNECT 127.0.0.1:${tlsPort}`);
      agent.destroy();
    } finally {
      await new Promise((r) => mute.close(r));
    }
  }, 15_000);
});

describe('a CA bundle', () => {
  it('is one TLS context shared by the agents, not a ca list (which Node parses per connection and puts in every pool key)', async () => {
    const network = networkWith({});
    const a = makeAgent(`https://127.0.0.1:${tlsPort}`, SETTINGS, network) as https.Agent;
    const b = makeAgent(`https://localhost:${tlsPort}`, SETTINGS, network) as https.Agent;
    expect(a.options.ca).toBeUndefined();
    expect(a.options.secureContext).toBeDefined();
    expect(b.options.secureContext).toBe(a.options.secureContext);
    expect(a.getName({ host: '127.0.0.1', port: tlsPort }).length).toBeLessThan(200);
    expect(await send(https, a, tlsPort)).toBe('200 ok'); // and the server's certificate is trusted through it
    a.destroy();
    b.destroy();
  });
});

describe('http through a proxy', () => {
  it('absolute-form with Proxy-Authorization; the Host header stays the endpoint\'s', async () => {
    const agent = makeAgent(`http://127.0.0.1:${plainPort}`, SETTINGS, networkWith({ HTTP_PROXY: proxy.url.replace('//', `//u:${PASSWORD}@`) }));
    const before = proxy.forwarded;
    expect(await send(http, agent, plainPort)).toBe('200 ok');
    expect(proxy.forwarded - before).toBe(1);
    expect(proxy.targets.at(-1)).toBe(`http://127.0.0.1:${plainPort}/bkt/k?x=1`);
    expect(seen.at(-1)).toBe(`GET /bkt/k?x=1 127.0.0.1:${plainPort} 0 -`); // the proxy drops its own header
    agent.destroy();
  });

  it('a request with Expect: 100-continue (head stored before the agent sees it) is rewritten too', async () => {
    const agent = makeAgent(`http://127.0.0.1:${plainPort}`, SETTINGS, networkWith({ HTTP_PROXY: proxy.url.replace('//', `//u:${PASSWORD}@`) }));
    const [before, refusedBefore] = [proxy.forwarded, proxy.refused];
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    expect(await send(http, agent, plainPort, { body, headers: { expect: '100-continue' } })).toBe('200 ok');
    expect(proxy.forwarded - before).toBe(1);
    expect(proxy.refused).toBe(refusedBefore); // the rewritten head carried Proxy-Authorization
    expect(seen.at(-1)).toBe(`PUT /bkt/k?x=1 127.0.0.1:${plainPort} ${body.length} -`);
    agent.destroy();
  });
});
