/**
 * A small forward proxy on 127.0.0.1, as HTTPS_PROXY / HTTP_PROXY point at: CONNECT tunnels and
 * absolute-form requests (`GET http://host:port/path`), to loopback targets only. It counts what
 * it carries, records the local port of each upstream socket (to match against a
 * TLS terminator's peers) and can demand `Proxy-Authorization: Basic user:pass` (407 otherwise).
 */
import http from 'node:http';
import net from 'node:net';

export interface ForwardProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** CONNECT requests accepted (tunnels opened) */
  connects: number;
  /** absolute-form requests forwarded */
  forwarded: number;
  /** requests refused with 407 */
  refused: number;
  /** request targets seen (CONNECT host:port, or the absolute URL) */
  targets: string[];
  /** local port of every upstream socket opened for a tunnel */
  upstreamPorts: number[];
  close: () => Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

export async function startForwardProxy(opts: { auth?: string } = {}): Promise<ForwardProxy> {
  const sockets = new Set<net.Socket>();
  const expected = opts.auth ? `Basic ${Buffer.from(opts.auth).toString('base64')}` : undefined;
  const allowed = (h: http.IncomingHttpHeaders): boolean => expected === undefined || h['proxy-authorization'] === expected;
  const track = (s: net.Socket): void => { sockets.add(s); s.on('close', () => sockets.delete(s)); };

  const server = http.createServer((req, res) => {
    proxy.targets.push(req.url ?? '');
    if (!allowed(req.headers)) {
      proxy.refused++;
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', 'content-length': '0' }).end();
      return;
    }
    let u: URL;
    try { u = new URL(req.url ?? ''); } catch { u = new URL('http://invalid'); }
    if (u.protocol !== 'http:' || !LOOPBACK.has(u.hostname)) {
      res.writeHead(400, { 'content-length': '0' }).end();
      return;
    }
    proxy.forwarded++;
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = http.request({ host: u.hostname, port: u.port, method: req.method, path: u.pathname + u.search, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    track(client);
    proxy.targets.push(req.url ?? '');
    if (!allowed(req.headers)) {
      proxy.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const m = /^(.+):(\d+)$/.exec(req.url ?? '');
    if (!m || !LOOPBACK.has(m[1]!)) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    proxy.connects++;
    const upstream = net.connect({ host: m[1]!, port: Number(m[2]) }, () => {
      proxy.upstreamPorts.push(upstream.localPort ?? 0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', track);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: ForwardProxy = {
    url: `http://127.0.0.1:${port}`, connects: 0, forwarded: 0, refused: 0, targets: [], upstreamPorts: [],
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  return proxy;
}
