/**
 * The keep-alive agent of one endpoint, which the signed path (./signed-http.ts) and the SDK
 * (./sdk-client.ts) both send through, so a proxy or a CA bundle (config/network.ts) holds on
 * every path. Through a proxy, an https endpoint is reached by a CONNECT tunnel per socket
 * (TLS to the endpoint inside it, pooled as any other socket); an http endpoint by absolute-form
 * requests to the proxy (`GET http://host:port/bucket/key`), signed for the endpoint's Host.
 * The agents stay s3x's own (same keepAlive, maxSockets): the engine bounds requests in flight,
 * so sockets still being tunnelled (which Node's pool does not count yet) stay within that bound.
 */
import http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { bypassesProxy, proxyFor, type NetworkSpec, type ProxySpec } from '../config/network.js';
import { nodeHttps, nodeTls } from '../config/tls-modules.js';

export interface AgentSettings {
  keepAlive: boolean;
  maxSockets: number;
  keepAliveMsecs: number;
}

/** How long a proxy may take to open a tunnel, as the SDK's connectionTimeout (./sdk-client.ts). */
const CONNECT_TIMEOUT_MS = 10_000;
/** a proxy's answer to CONNECT larger than this is not one */
const MAX_CONNECT_ANSWER_BYTES = 16 * 1024;

type Callback = (err: Error | null, stream: Duplex) => void;

/**
 * The agent for `url` (an endpoint URL; undefined: AWS, https). A proxying agent still checks
 * NO_PROXY per host: AWS and virtual-hosted buckets reach hosts the endpoint URL does not name.
 */
export function makeAgent(url: string | undefined, settings: AgentSettings, network: NetworkSpec | undefined): http.Agent {
  const isHttps = url ? url.startsWith('https:') : true;
  const proxy = network === undefined ? undefined
    : url === undefined ? network.httpsProxy : proxyFor(url, network);
  const noProxy = network?.noProxy ?? '';
  if (!isHttps) return proxy ? new ForwardingAgent(settings, proxy, noProxy) : new http.Agent(settings);
  const tlsOptions: https.AgentOptions = {
    ...settings,
    ...(network?.ca && { secureContext: secureContextOf(network, network.ca) }),
    ...(network?.verifyTls === false && { rejectUnauthorized: false }),
  };
  return proxy ? new (tunnelingAgent())(tlsOptions, proxy, noProxy) : new (nodeHttps().Agent)(tlsOptions);
}

/**
 * One TLS context for the bundle's roots, shared by every agent. Given as `ca`, Node would parse
 * the ~150 roots again for each new connection (~0.1 s of CPU here) and concatenate them into the
 * pool key of every request (~0.8 ms each, https.Agent.getName).
 */
const secureContexts = new WeakMap<NetworkSpec, tls.SecureContext>();
function secureContextOf(network: NetworkSpec, ca: string[]): tls.SecureContext {
  let context = secureContexts.get(network);
  if (context === undefined) {
    context = nodeTls().createSecureContext({ ca });
    secureContexts.set(network, context);
  }
  return context;
}

/** An error about the proxy: Node's code kept (the retry policy reads it), the proxy named by host:port only. */
function proxyError(proxy: ProxySpec, err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  err.message = `proxy ${proxy.label}: ${err.message}`;
  return err;
}

/** Opens a CONNECT tunnel to host:port through the proxy; resolves with the raw socket. */
export function openTunnel(proxy: ProxySpec, host: string, port: number, keepAliveMsecs: number): Promise<net.Socket> {
  const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveMsecs });
    let answer = Buffer.alloc(0);
    let settled = false;
    const fail = (err: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(proxyError(proxy, err));
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => fail(Object.assign(new Error(`no answer to CONNECT ${target} within ${CONNECT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
    socket.on('error', fail);
    // a proxy that hangs up without answering: Node's own code for a cut connection
    const onClose = (): void => fail(Object.assign(new Error(`closed the connection before answering CONNECT ${target}`), { code: 'ECONNRESET' }));
    socket.once('close', onClose);
    socket.once('connect', () => {
      const auth = proxy.authorization ? `Proxy-Authorization: ${proxy.authorization}\r\n` : '';
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
    const onData = (chunk: Buffer): void => {
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (answer.length > MAX_CONNECT_ANSWER_BYTES) fail(Object.assign(new Error('answer to CONNECT too long'), { code: 'ProxyRefused' }));
        return;
      }
      socket.off('data', onData);
      const statusLine = answer.subarray(0, answer.indexOf('\r\n')).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (status < 200 || status > 299) {
        fail(Object.assign(new Error(`refused CONNECT ${target}: ${statusLine.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}`), { code: 'ProxyRefused' }));
        return;
      }
      socket.off('error', fail);
      socket.off('close', onClose);
      socket.setTimeout(0);
      const rest = answer.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      settled = true;
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/**
 * https endpoints through a proxy: each pooled socket is TLS inside its own CONNECT tunnel. The
 * class is made on first use, as it extends https.Agent (config/tls-modules.ts says why).
 */
let tunnelingAgentClass: ReturnType<typeof makeTunnelingAgent> | undefined;
const tunnelingAgent = (): ReturnType<typeof makeTunnelingAgent> => (tunnelingAgentClass ??= makeTunnelingAgent());

const makeTunnelingAgent = () => class TunnelingAgent extends nodeHttps().Agent {
  private readonly keepAliveMs: number;
  constructor(options: https.AgentOptions, private readonly proxy: ProxySpec, private readonly noProxy: string) {
    super(options);
    this.keepAliveMs = options.keepAliveMsecs ?? 1000;
  }

  override createConnection(options: https.RequestOptions, callback?: Callback): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port ?? 443);
    if (bypassesProxy(host, port, this.noProxy)) return super.createConnection(options, callback);
    openTunnel(this.proxy, host, port, this.keepAliveMs).then((socket) => {
      let secure: Duplex | null | undefined;
      try {
        // https.Agent's own: servername, TLS session reuse, our ca/rejectUnauthorized, over the tunnel
        secure = super.createConnection({ ...options, socket } as https.RequestOptions);
      } catch (err) {
        socket.destroy();
        callback?.(err as Error, socket);
        return;
      }
      callback?.(null, secure!);
    }, (err: Error) => callback?.(err, undefined as unknown as Duplex));
    return undefined;
  }
};

/** http endpoints through a proxy: the request line names the endpoint, the socket goes to the proxy. */
class ForwardingAgent extends http.Agent {
  private readonly keepAliveMs: number;
  constructor(options: http.AgentOptions, private readonly proxy: ProxySpec, private readonly noProxy: string) {
    super(options);
    this.keepAliveMs = options.keepAliveMsecs ?? 1000;
  }

  /** Node calls this once per request, before any socket: the request's head is not on the wire yet. */
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const origin = `http://${net.isIPv6(host) ? `[${host}]` : host}${options.port ? `:${options.port}` : ''}`;
    if (!bypassesProxy(host, Number(options.port ?? 80), this.noProxy) && !/^[a-z]+:\/\//i.test(req.path)) toAbsoluteForm(req, `${origin}${req.path}`, this.proxy.authorization);
    (http.Agent.prototype as unknown as { addRequest: (r: http.ClientRequest, o: http.RequestOptions) => void }).addRequest.call(this, req, options);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port ?? 80);
    if (bypassesProxy(host, port, this.noProxy)) {
      return net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: this.keepAliveMs });
    }
    void callback; // the request's own host and port are in its absolute-form path
    const socket = net.connect({ host: this.proxy.host, port: this.proxy.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: this.keepAliveMs });
    // the request sees this error next, naming the proxy
    socket.once('error', (err: NodeJS.ErrnoException) => proxyError(this.proxy, err));
    return socket;
  }
}

/** What Node's ClientRequest keeps of a head it has stored but not sent (node:_http_outgoing). */
interface StoredHead {
  _header: string | null;
  outputData?: Array<{ data: unknown }>;
  outputSize: number;
}

/**
 * Points the request line at `absolutePath` and adds Proxy-Authorization. A request with an
 * `Expect: 100-continue` header (the SDK sends one for bodies over 2 MB) has its head stored and
 * queued already, before the agent sees it: that queued text is rewritten in place.
 */
function toAbsoluteForm(req: http.ClientRequest, absolutePath: string, authorization: string | undefined): void {
  const r = req as unknown as StoredHead;
  const stored = r._header;
  if (stored === null || stored === undefined || stored === '') {
    req.path = absolutePath;
    if (authorization) req.setHeader('proxy-authorization', authorization);
    return;
  }
  const queued = r.outputData?.[0];
  if (queued === undefined || typeof queued.data !== 'string' || !queued.data.startsWith(stored)) {
    throw new Error('http proxy: cannot rewrite a request whose head was already sent');
  }
  const lines = stored.split('\r\n');
  const [method, , version] = lines[0]!.split(' ');
  lines[0] = `${method} ${absolutePath} ${version}`;
  if (authorization) lines.splice(1, 0, `Proxy-Authorization: ${authorization}`);
  const head = lines.join('\r\n');
  queued.data = head + queued.data.slice(stored.length);
  r.outputSize += head.length - stored.length;
  r._header = head;
  req.path = absolutePath;
}
