/**
 * fault-proxy — a deterministic, bounded, fault-injecting HTTP/1.1 reverse proxy for tests and benchmarks.
 *
 * What it is for
 * --------------
 * s3x has to survive stalled connections, resets, throttling (503 SlowDown), corrupted uploads and slow
 * links. Real S3-compatible servers almost never do those things on demand, so tests and benchmarks put this
 * proxy between the s3x S3 client (path-style requests such as `PUT /bucket/key?partNumber=1&uploadId=x`) and
 * an S3 server listening on loopback, then point s3x's endpoint at `proxy.url`:
 *
 *   const proxy = await startFaultProxy({ target: 'http://127.0.0.1:7480', faults: { stallEvery: 3 } });
 *   // ... run s3x with endpoint = proxy.url, assert that the transfer still completes ...
 *   expect(proxy.stats().stalled).toBeGreaterThan(0);
 *   proxy.setFaults({ slowDownEvery: 2, retryAfterSec: 1 }); // change faults mid-run; "every N" counters restart
 *   await proxy.close();
 *
 * Guarantees
 * ----------
 * - Faithful forwarding: method, path+query exactly as received, every end-to-end header unchanged (including
 *   Host and Authorization, so SigV4 signatures stay valid); only hop-by-hop connection-management headers
 *   (Connection, Keep-Alive, Proxy-Connection, Upgrade, TE, Trailer and those named by Connection) are left to
 *   each hop. Bodies are streamed both ways with backpressure, never buffered whole.
 * - Deterministic: matching requests are numbered 1..n in arrival order; "every N" faults hit the requests whose
 *   number is a multiple of N, and `stallFraction` draws from a seeded PRNG once per matching request.
 * - Per-request precedence when several faults are configured: slowDown (storm, then every N), then fail, then stall, then reset, then corrupt,
 *   then corruptResponse.
 *   `delayMs`, the throttles and the response-header rewrites (`randomEtag`, `responseHeaders`) apply to whatever
 *   is actually forwarded (including reset/corrupted requests).
 * - Bounded: it listens on 127.0.0.1 only, forwards only to http://127.0.0.1 or http://localhost, and closes
 *   itself after `maxLifetimeMs` (default 10 min; the timer is unref'd so it never keeps a process alive).
 *   `close()` destroys every socket, including stalled ones, and is idempotent.
 * - Upstream failures: 502 with a short text body, or the client socket is destroyed if headers were already
 *   sent.
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

export interface FaultSpec {
  /** Which requests the faults apply to, tested against `${method} ${url}` (e.g. "PUT /bkt/key?partNumber=1&uploadId=x"); default: all requests. */
  match?: RegExp;
  /** Stall (read the whole request, never answer) matching request n when n % stallEvery === 0; positive integer. */
  stallEvery?: number;
  /** Stall this seeded pseudo-random fraction (0..1) of matching requests; reproducible for a given seed and request order. */
  stallFraction?: number;
  /** Stall exactly the matching requests with these numbers (1-based, arrival order), e.g. [1]: a key's first GET, not its hedge. */
  stallNth?: readonly number[];
  /** Stall the first matching request for each path (the URL without its query): a key's first copy, never its hedge or resend, however many copies came before. */
  stallFirstPerPath?: boolean;
  /** Latency added before forwarding each matching request that is forwarded, in milliseconds. */
  delayMs?: number;
  /**
   * Hold the response of each matching forwarded request this long before answering, in milliseconds: the upstream
   * has already acted on the request (a slow server, or an answer cut by the client's deadline after the fact).
   */
  responseDelayMs?: number;
  /**
   * "Slow, not stalled": apply `responseDelayMs` only to matching request n when n % responseDelayEvery === 0
   * (and/or to a seeded `responseDelayFraction` of them) instead of to every matching request.
   */
  responseDelayEvery?: number;
  /** Delay the response of this seeded pseudo-random fraction (0..1) of matching requests (a PRNG stream of its own). */
  responseDelayFraction?: number;
  /**
   * Stall mid-body: a request picked by `stallEvery` / `stallFraction` is forwarded, but only its first
   * `stallAfterBytes` body bytes go upstream when its body is longer (a large PUT or part); otherwise (a GET) the
   * answer is relayed up to `stallAfterBytes` bytes of its body. Then nothing more either way, never an end.
   */
  stallAfterBytes?: number;
  /** Reset (TCP RST) the client socket after forwarding about half the request body, on every Nth matching request; 0-byte bodies are reset before answering, without forwarding. */
  resetEvery?: number;
  /** Answer 503 SlowDown (S3 XML error) without forwarding, after draining the request body, on every Nth matching request. */
  slowDownEvery?: number;
  /**
   * Answer an S3 XML error (`failCode`, HTTP `failStatus`) without forwarding, on every matching request after the
   * first `failAfter` ones (0: all of them), after draining the request body and waiting `delayMs` (a server that
   * took that long to refuse it). E.g. 1: the first attempt goes through, every retry is refused.
   */
  failAfter?: number;
  /** HTTP status of `failAfter` answers (default 500). */
  failStatus?: number;
  /** S3 error code of `failAfter` answers (default InternalError), e.g. NoSuchUpload. */
  failCode?: string;
  /**
   * SlowDown storm: every matching request answers 503 SlowDown (like `slowDownEvery: 1`) for this many
   * milliseconds, starting at the first matching request after `slowDownStormAfter` of them; then all pass again.
   */
  slowDownStormMs?: number;
  /** Matching requests let through before the SlowDown storm starts (default 0: the first one starts it). */
  slowDownStormAfter?: number;
  /** Value of the Retry-After header on SlowDown answers, in whole seconds; header omitted when undefined. */
  retryAfterSec?: number;
  /** Flip (XOR 0xff) the middle byte of the request body on every Nth matching request, forwarding the rest unchanged. */
  corruptEvery?: number;
  /** Flip (XOR 0xff) the middle byte of the response body on every Nth matching request (a download corrupted in transit). */
  corruptResponseEvery?: number;
  /**
   * Replace the ETag header of every matching 2xx response that has one with a fresh random 32-hex ETag (seeded):
   * what SSE-KMS / SSE-C objects answer, an ETag that is not the body's MD5. A RegExp: only for matching requests
   * that also match it (tested like `match`).
   */
  randomEtag?: boolean | RegExp;
  /** Headers set on every matching 2xx response (replacing any of the same name), e.g. { 'x-amz-server-side-encryption': 'aws:kms' }. */
  responseHeaders?: Record<string, string>;
  /** Bandwidth limit for request+response bodies of matching requests, per client connection, in bytes per second. */
  throttleBytesPerSecPerConn?: number;
  /** Bandwidth limit for request+response bodies of matching requests over all connections together (one shared bucket), in bytes per second. */
  throttleBytesPerSecTotal?: number;
  /**
   * Gateway pause: when matching request `pauseAfter` + 1 arrives, every matching response (of requests already
   * in flight or arriving later) is held until `pauseMs` have passed since; the upstream acts on each request as
   * usual. A hiccup by time, not by request count: what RGW does now and then on these 2 cores.
   */
  pauseAfter?: number;
  /** Length of the `pauseAfter` pause, ms. */
  pauseMs?: number;
  /** PRNG seed for stallFraction (default 1). */
  seed?: number;
}

export interface FaultProxyStats {
  /** Requests received (all of them, matching or not). */
  requests: number;
  /** Requests that matched `FaultSpec.match` (all requests when no match is set). */
  matched: number;
  /** Requests stalled (read, never answered; or cut mid-body with `stallAfterBytes`). */
  stalled: number;
  /** Stalled requests whose client closed the connection itself (a deadline or a winning hedge aborted it) before close(). */
  stalledClosedByClient: number;
  /** Forwarded requests that were delayed by `delayMs`. */
  delayed: number;
  /** Responses held by a `pauseAfter` pause. */
  paused: number;
  /** Responses held by `responseDelayMs`. */
  responsesDelayed: number;
  /** Client sockets reset by `resetEvery`. */
  resets: number;
  /** 503 SlowDown answers produced by `slowDownEvery`. */
  slowDowns: number;
  /** Error answers produced by `failAfter`. */
  failures: number;
  /** Request bodies with one byte flipped by `corruptEvery`. */
  corrupted: number;
  /** Response bodies with one byte flipped by `corruptResponseEvery`. */
  responsesCorrupted: number;
  /** 2xx responses whose headers were changed by `randomEtag` / `responseHeaders`. */
  responsesRewritten: number;
  /** Requests sent upstream (including reset and corrupted ones). */
  forwarded: number;
  /** Request-body bytes written upstream. */
  bytesUp: number;
  /** Response-body bytes written back to clients (forwarded responses only). */
  bytesDown: number;
}

export interface FaultProxy {
  /** Base URL of the proxy, e.g. "http://127.0.0.1:41234". */
  url: string;
  /** TCP port the proxy listens on (127.0.0.1). */
  port: number;
  /** Snapshot of the counters. */
  stats(): FaultProxyStats;
  /** `${method} ${url}` of every request received, in arrival order (the first MAX_LOGGED_REQUESTS). */
  requestLog(): string[];
  /** The Content-MD5 header of each request in requestLog() (undefined: none), in the same order. */
  contentMd5Log(): Array<string | undefined>;
  /** `${method} ${url}` of every request stalled or whose answer `responseDelayMs` held, with which (the first MAX_LOGGED_REQUESTS). */
  faultLog(): Array<{ request: string; fault: 'stalled' | 'responseDelayed' }>;
  /** Replace the faults at runtime; the "every N" counters and the PRNG restart. Throws on an invalid spec. */
  setFaults(spec: FaultSpec): void;
  /** Close the listener and destroy every socket (stalled ones included); idempotent. */
  close(): Promise<void>;
}

export interface StartFaultProxyOptions {
  /** Upstream base URL; must be http://127.0.0.1[:port] or http://localhost[:port] (no path). */
  target: string;
  /** Port to listen on, on 127.0.0.1 (default 0 = ephemeral). */
  port?: number;
  /** Initial faults (default: none, a transparent proxy). */
  faults?: FaultSpec;
  /** The proxy closes itself after this many milliseconds (default 600000 = 10 minutes). */
  maxLifetimeMs?: number;
}

const DEFAULT_MAX_LIFETIME_MS = 10 * 60 * 1000;
/** Requests kept by requestLog(): a bound on the proxy's memory in long benchmarks. */
const MAX_LOGGED_REQUESTS = 100_000;
/** Burst allowance of the pacers, in milliseconds of bandwidth. Kept small so pacing is real. */
const PACER_BURST_MS = 25;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

type Action = 'forward' | 'slowDown' | 'fail' | 'stall' | 'stallBody' | 'reset' | 'corrupt' | 'corruptResponse';
type PumpResult = 'end' | 'cut' | 'error';

/** GCRA-style pacer: reserves time slots at `rate` bytes/s, allowing a PACER_BURST_MS burst. */
class Pacer {
  private tat = 0;
  constructor(readonly rate: number) {}
  /** Reserve n bytes; returns how long (ms) the caller must wait before sending them. */
  reserve(n: number): number {
    const now = performance.now();
    this.tat = Math.max(this.tat, now) + (n * 1000) / this.rate;
    return Math.max(0, this.tat - now - PACER_BURST_MS);
  }
}

interface PumpOptions {
  pacers: readonly Pacer[];
  signal: AbortSignal;
  count: (n: number) => void;
  /** Change a chunk before it is sent; offset is the body offset of its first byte. */
  mutate?: (chunk: Buffer, offset: number) => Buffer;
  /** Stop after this many bytes (computed from the first chunk's length); the last write is flushed first. */
  cutAfter?: (firstChunkLength: number) => number;
  /** After a cut, leave src alive (not destroyed) for the caller to drain. */
  keepSrc?: boolean;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function emptyStats(): FaultProxyStats {
  return {
    requests: 0,
    matched: 0,
    stalled: 0,
    stalledClosedByClient: 0,
    delayed: 0,
    paused: 0,
    responsesDelayed: 0,
    resets: 0,
    slowDowns: 0,
    failures: 0,
    corrupted: 0,
    responsesCorrupted: 0,
    responsesRewritten: 0,
    forwarded: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
}

function checkSpec(spec: FaultSpec): FaultSpec {
  const positiveInt = (name: keyof FaultSpec, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`fault-proxy: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('stallEvery', spec.stallEvery);
  for (const k of spec.stallNth ?? []) positiveInt('stallNth', k);
  positiveInt('resetEvery', spec.resetEvery);
  positiveInt('slowDownEvery', spec.slowDownEvery);
  if (spec.failAfter !== undefined && !(Number.isInteger(spec.failAfter) && spec.failAfter >= 0)) throw new Error(`fault-proxy: failAfter must be an integer >= 0, got ${spec.failAfter}`);
  if (spec.failStatus !== undefined && !(Number.isInteger(spec.failStatus) && spec.failStatus >= 400 && spec.failStatus <= 599)) {
    throw new Error(`fault-proxy: failStatus must be an HTTP error status 400..599, got ${spec.failStatus}`);
  }
  if (spec.failCode !== undefined && !/^[A-Za-z0-9.]+$/.test(spec.failCode)) throw new Error(`fault-proxy: failCode must be a plain S3 error code, got ${spec.failCode}`);
  positiveInt('corruptEvery', spec.corruptEvery);
  positiveInt('corruptResponseEvery', spec.corruptResponseEvery);
  for (const name of ['stallFraction', 'responseDelayFraction'] as const) {
    const v = spec[name];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new Error(`fault-proxy: ${name} must be within 0..1, got ${v}`);
  }
  positiveInt('responseDelayEvery', spec.responseDelayEvery);
  if (spec.stallAfterBytes !== undefined && !(Number.isInteger(spec.stallAfterBytes) && spec.stallAfterBytes >= 0)) {
    throw new Error(`fault-proxy: stallAfterBytes must be an integer >= 0, got ${spec.stallAfterBytes}`);
  }
  if (spec.pauseAfter !== undefined && !(Number.isInteger(spec.pauseAfter) && spec.pauseAfter >= 0)) {
    throw new Error(`fault-proxy: pauseAfter must be an integer >= 0, got ${spec.pauseAfter}`);
  }
  for (const name of ['delayMs', 'responseDelayMs', 'pauseMs'] as const) {
    const v = spec[name];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new Error(`fault-proxy: ${name} must be a finite number >= 0, got ${v}`);
  }
  if (spec.slowDownStormMs !== undefined && !(Number.isFinite(spec.slowDownStormMs) && spec.slowDownStormMs > 0)) {
    throw new Error(`fault-proxy: slowDownStormMs must be a number > 0, got ${spec.slowDownStormMs}`);
  }
  if (spec.slowDownStormAfter !== undefined && !(Number.isInteger(spec.slowDownStormAfter) && spec.slowDownStormAfter >= 0)) {
    throw new Error(`fault-proxy: slowDownStormAfter must be an integer >= 0, got ${spec.slowDownStormAfter}`);
  }
  if (spec.retryAfterSec !== undefined && !(Number.isInteger(spec.retryAfterSec) && spec.retryAfterSec >= 0)) {
    throw new Error(`fault-proxy: retryAfterSec must be an integer >= 0, got ${spec.retryAfterSec}`);
  }
  for (const name of ['throttleBytesPerSecPerConn', 'throttleBytesPerSecTotal'] as const) {
    const v = spec[name];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`fault-proxy: ${name} must be a number > 0, got ${v}`);
  }
  for (const [name, value] of Object.entries(spec.responseHeaders ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n]/.test(value)) throw new Error(`fault-proxy: bad response header ${JSON.stringify(name)}`);
  }
  if (spec.seed !== undefined && !Number.isFinite(spec.seed)) throw new Error(`fault-proxy: seed must be finite, got ${spec.seed}`);
  return { ...spec };
}

/** Parse and check the upstream target: plain http on loopback only. */
function parseTarget(target: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    throw new Error(`fault-proxy: invalid target URL ${JSON.stringify(target)}`);
  }
  if (u.protocol !== 'http:') throw new Error(`fault-proxy: target must use http:, got ${u.protocol}`);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
    throw new Error(`fault-proxy: target must be 127.0.0.1 or localhost (traffic stays on loopback), got ${u.hostname}`);
  }
  if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new Error(`fault-proxy: target must be a bare origin like http://127.0.0.1:9000, got ${target}`);
  }
  // "localhost" may resolve to ::1 first; always connect to the IPv4 loopback.
  return { host: '127.0.0.1', port: u.port ? Number(u.port) : 80 };
}

/** rawHeaders minus hop-by-hop connection-management headers (and those named in Connection). */
function endToEndHeaders(raw: readonly string[]): string[] {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      for (const tok of raw[i + 1]!.split(',')) {
        const t = tok.trim().toLowerCase();
        // Never let Connection strip message-framing or end-to-end identity headers.
        if (t && t !== 'host' && t !== 'content-length' && t !== 'transfer-encoding' && t !== 'authorization') drop.add(t);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!drop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function isDead(w: Writable): boolean {
  return w.destroyed || w.writableEnded;
}

/** Resolve when w drains, closes or errors, or the signal aborts. */
function waitDrain(w: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      w.off('error', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
    w.on('error', done);
    signal.addEventListener('abort', done);
    if (signal.aborted || isDead(w)) done();
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return ms > 0 ? sleepTimer(ms, undefined, { signal }) : Promise.resolve();
}

/**
 * Copy src into dst chunk by chunk with backpressure and pacing. Never ends or destroys dst. When dst dies,
 * the rest of src is read and discarded (so a 502 can still be answered on a live client connection).
 */
async function pump(src: Readable, dst: Writable, o: PumpOptions): Promise<PumpResult> {
  const pieceMax = o.pacers.length
    ? Math.max(1024, Math.min(16384, Math.floor(Math.min(...o.pacers.map((p) => p.rate)) / 32)))
    : Number.POSITIVE_INFINITY;
  let offset = 0;
  let cut: number | undefined;
  try {
    const chunks: AsyncIterable<unknown> = o.keepSrc ? src.iterator({ destroyOnReturn: false }) : src;
    for await (const raw of chunks) {
      let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
      if (o.cutAfter && cut === undefined) cut = o.cutAfter(chunk.length);
      if (o.mutate) chunk = o.mutate(chunk, offset);
      let last = false;
      if (cut !== undefined && offset + chunk.length >= cut) {
        chunk = chunk.subarray(0, cut - offset);
        last = true;
      }
      offset += chunk.length;
      for (let p = 0; p < chunk.length || (last && p === 0); p += pieceMax) {
        const piece = chunk.subarray(p, Math.min(chunk.length, p + pieceMax));
        const isFinal = last && p + pieceMax >= chunk.length;
        if (isDead(dst)) break;
        for (const pacer of o.pacers) await sleep(pacer.reserve(piece.length), o.signal);
        if (isDead(dst)) break;
        if (isFinal) {
          // Make sure these bytes have left the process before the caller cuts the connections.
          await new Promise<void>((resolve) => {
            dst.write(piece, () => resolve());
          });
          o.count(piece.length);
        } else if (piece.length > 0) {
          const ok = dst.write(piece);
          o.count(piece.length);
          if (!ok) await waitDrain(dst, o.signal);
        }
      }
      if (last) return 'cut';
      if (o.signal.aborted) return 'error';
    }
  } catch {
    return 'error';
  }
  return 'end';
}

/** A pump `mutate` that flips the middle byte of a body of `known` bytes (else of its first chunk), once. */
function flipMiddleByte(known: number | undefined, onFlip: () => void): (chunk: Buffer, offset: number) => Buffer {
  let target: number | undefined = known !== undefined && Number.isFinite(known) ? Math.floor(known / 2) : undefined;
  return (chunk, offset) => {
    if (target === undefined && chunk.length > 0) target = offset + Math.floor(chunk.length / 2);
    if (target === undefined || target < offset || target >= offset + chunk.length) return chunk;
    const copy = Buffer.from(chunk);
    copy[target - offset] = copy[target - offset]! ^ 0xff;
    onFlip();
    target = -1;
    return copy;
  };
}

/** Does `${method} ${url}` match? */
function testAgainst(re: RegExp, req: IncomingMessage): boolean {
  re.lastIndex = 0; // harmless for plain regexps, required for /g and /y ones
  return re.test(`${req.method ?? ''} ${req.url ?? ''}`);
}

/** rawHeaders with `set` replacing same-named headers (case-insensitive) and the ETag, if any, replaced by `etag()`. */
function rewriteHeaders(raw: readonly string[], set: Record<string, string>, etag: (() => string) | undefined): string[] {
  const names = new Set(Object.keys(set).map((k) => k.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (names.has(name)) continue;
    out.push(raw[i]!, etag && name === 'etag' ? `"${etag()}"` : raw[i + 1]!);
  }
  for (const [k, v] of Object.entries(set)) out.push(k, v);
  return out;
}

export async function startFaultProxy(opts: StartFaultProxyOptions): Promise<FaultProxy> {
  const upstream = parseTarget(opts.target);
  const maxLifetimeMs = opts.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS;
  if (!(Number.isFinite(maxLifetimeMs) && maxLifetimeMs > 0)) throw new Error(`fault-proxy: maxLifetimeMs must be > 0, got ${maxLifetimeMs}`);
  const listenPort = opts.port ?? 0;
  if (!(Number.isInteger(listenPort) && listenPort >= 0 && listenPort < 65536)) throw new Error(`fault-proxy: invalid port ${listenPort}`);

  let spec = checkSpec(opts.faults ?? {});
  let matchCount = 0;
  /** paths already seen by a matching request (stallFirstPerPath) */
  const pathsSeen = new Set<string>();
  let rand = mulberry32(spec.seed ?? 1);
  // streams of their own, so delayed responses do not shift which requests stallFraction picks
  let delayRand = mulberry32((spec.seed ?? 1) ^ 0x3d1a7);
  // a stream of its own, so random ETags do not shift which requests stallFraction picks
  let etagRand = mulberry32((spec.seed ?? 1) ^ 0x5e7a9);
  const randomEtag = (): string => Array.from({ length: 4 }, () => Math.floor(etagRand() * 2 ** 32).toString(16).padStart(8, '0')).join('');
  /** when the SlowDown storm started (performance.now()), undefined before it */
  let stormStartMs: number | undefined;
  /** when the `pauseAfter` pause ends (performance.now()), undefined before it starts */
  let pauseEndMs: number | undefined;
  let totalPacer: Pacer | undefined;
  let connPacers = new WeakMap<Socket, Pacer>();
  const resetPacers = (): void => {
    totalPacer = spec.throttleBytesPerSecTotal ? new Pacer(spec.throttleBytesPerSecTotal) : undefined;
    connPacers = new WeakMap<Socket, Pacer>();
  };
  resetPacers();

  const stats = emptyStats();
  const logged: string[] = [];
  const loggedMd5: Array<string | undefined> = [];
  const faults: Array<{ request: string; fault: 'stalled' | 'responseDelayed' }> = [];
  const logFault = (req: IncomingMessage, fault: 'stalled' | 'responseDelayed'): void => {
    if (faults.length < MAX_LOGGED_REQUESTS) faults.push({ request: `${req.method ?? ''} ${req.url ?? ''}`, fault });
  };
  const sockets = new Set<Socket>();
  const lifetime = new AbortController();
  // every delayed answer and paced chunk waits on it at once (bench H3: 1 answer in 20 held 1 s)
  setMaxListeners(0, lifetime.signal);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });

  const pacersFor = (socket: Socket): Pacer[] => {
    const out: Pacer[] = [];
    if (spec.throttleBytesPerSecPerConn) {
      let p = connPacers.get(socket);
      if (!p) {
        p = new Pacer(spec.throttleBytesPerSecPerConn);
        connPacers.set(socket, p);
      }
      out.push(p);
    }
    if (totalPacer) out.push(totalPacer);
    return out;
  };

  const decide = (req: IncomingMessage): { matched: boolean; action: Action; delayResponse: boolean } => {
    const s = spec;
    if (s.match && !testAgainst(s.match, req)) return { matched: false, action: 'forward', delayResponse: false };
    const n = ++matchCount;
    const path = (req.url ?? '').split('?')[0]!;
    const firstOfPath = s.stallFirstPerPath === true && !pathsSeen.has(path);
    if (s.stallFirstPerPath) pathsSeen.add(path);
    if (s.pauseMs !== undefined && n === (s.pauseAfter ?? 0) + 1) pauseEndMs = performance.now() + s.pauseMs;
    // Draw once per matching request whatever else happens, so the sequence only depends on the order.
    const draw = s.stallFraction !== undefined ? rand() : 1;
    const delayDraw = s.responseDelayFraction !== undefined ? delayRand() : 1;
    const every = (k: number | undefined): boolean => k !== undefined && n % k === 0;
    const picked = s.responseDelayEvery !== undefined || s.responseDelayFraction !== undefined;
    const delayResponse = !picked || every(s.responseDelayEvery) || delayDraw < (s.responseDelayFraction ?? 0);
    return { matched: true, action: pickAction(s, n, draw, every, firstOfPath), delayResponse };
  };

  const pickAction = (s: FaultSpec, n: number, draw: number, every: (k: number | undefined) => boolean, firstOfPath: boolean): Action => {
    if (s.slowDownStormMs !== undefined && n > (s.slowDownStormAfter ?? 0)) {
      stormStartMs ??= performance.now();
      if (performance.now() - stormStartMs < s.slowDownStormMs) return 'slowDown';
    }
    if (every(s.slowDownEvery)) return 'slowDown';
    if (s.failAfter !== undefined && n > s.failAfter) return 'fail';
    if (firstOfPath || every(s.stallEvery) || s.stallNth?.includes(n) || (s.stallFraction !== undefined && draw < s.stallFraction)) return s.stallAfterBytes !== undefined ? 'stallBody' : 'stall';
    if (every(s.resetEvery)) return 'reset';
    if (every(s.corruptEvery)) return 'corrupt';
    if (every(s.corruptResponseEvery)) return 'corruptResponse';
    return 'forward';
  };

  const answerSlowDown = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = `FAULTPROXY${String(stats.requests).padStart(8, '0')}`;
    const body = Buffer.from(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>${requestId}</RequestId></Error>`,
    );
    const retryAfterSec = spec.retryAfterSec;
    req.resume();
    req.once('end', () => {
      if (res.destroyed || res.headersSent) return;
      const headers: Record<string, string | number> = {
        'Content-Type': 'application/xml',
        'Content-Length': body.length,
        'x-amz-request-id': requestId,
      };
      if (retryAfterSec !== undefined) headers['Retry-After'] = String(retryAfterSec);
      res.writeHead(503, 'Slow Down', headers);
      res.end(body);
    });
  };

  const answerError = (req: IncomingMessage, res: ServerResponse): void => {
    const code = spec.failCode ?? 'InternalError';
    const status = spec.failStatus ?? 500;
    const requestId = `FAULTPROXY${String(stats.requests).padStart(8, '0')}`;
    const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>fault-proxy: ${code}</Message><RequestId>${requestId}</RequestId></Error>`);
    const delayMs = spec.delayMs ?? 0;
    req.resume();
    req.once('end', () => {
      void sleep(delayMs, lifetime.signal).catch(() => undefined).then(() => {
        if (res.destroyed || res.headersSent) return;
        res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': body.length, 'x-amz-request-id': requestId });
        res.end(body);
      });
    });
  };

  const noteClientClose = (socket: Socket): void => {
    socket.once('close', () => {
      if (!lifetime.signal.aborted) stats.stalledClosedByClient++;
    });
  };

  const resetClient = (socket: Socket): void => {
    stats.resets++;
    if (!socket.destroyed) socket.resetAndDestroy();
  };

  // `socket` is captured up front: Node sets req.socket to null once the connection is torn down.
  const forward = async (req: IncomingMessage, res: ServerResponse, socket: Socket, action: Action, matched: boolean, delayResponse = true): Promise<void> => {
    const signal = lifetime.signal;
    if (matched && spec.delayMs) {
      stats.delayed++;
      await sleep(spec.delayMs, signal);
    }
    if (socket.destroyed || signal.aborted) return;
    const pacers = matched ? pacersFor(socket) : [];

    const proxyReq = http.request({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEndHeaders(req.rawHeaders),
      agent,
    });
    stats.forwarded++;
    proxyReq.on('error', () => {
      if (!res.headersSent && !res.destroyed && !socket.destroyed) {
        const body = 'fault-proxy: upstream error\n';
        res.writeHead(502, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.destroy();
      }
    });
    proxyReq.on('response', async (pres) => {
      pres.on('error', () => undefined);
      const pausedMs = matched && pauseEndMs !== undefined ? pauseEndMs - performance.now() : 0;
      if (pausedMs > 0) {
        stats.paused++;
        await sleep(pausedMs, signal).catch(() => undefined);
      }
      if (matched && spec.responseDelayMs && delayResponse) {
        stats.responsesDelayed++;
        logFault(req, 'responseDelayed');
        await sleep(spec.responseDelayMs, signal).catch(() => undefined);
      }
      if (res.destroyed || signal.aborted) {
        pres.resume();
        return;
      }
      const status = pres.statusCode ?? 502;
      let headers = endToEndHeaders(pres.rawHeaders);
      const etagToo = spec.randomEtag instanceof RegExp ? testAgainst(spec.randomEtag, req) : spec.randomEtag === true;
      if (matched && status >= 200 && status < 300 && (etagToo || spec.responseHeaders)) {
        stats.responsesRewritten++;
        headers = rewriteHeaders(headers, spec.responseHeaders ?? {}, etagToo ? randomEtag : undefined);
      }
      res.writeHead(status, pres.statusMessage ?? '', headers);
      const plen = pres.headers['content-length'] !== undefined ? Number(pres.headers['content-length']) : undefined;
      const stallAt = spec.stallAfterBytes ?? 0;
      void pump(pres, res, {
        pacers, signal, count: (n) => (stats.bytesDown += n),
        ...(action === 'corruptResponse' && { mutate: flipMiddleByte(plen, () => stats.responsesCorrupted++) }),
        ...(action === 'stallBody' && !cutUp && { cutAfter: () => stallAt }),
      }).then((r) => {
        if (r === 'cut' && action === 'stallBody') pres.resume(); // hold the client: no more bytes, no end
        else if (r === 'end' && !isDead(res)) res.end();
        else if (r !== 'end') res.destroy();
      });
    });
    // Client gone before the response completed: free the upstream connection.
    res.on('close', () => {
      if (!res.writableFinished) proxyReq.destroy();
    });

    const clen = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    const known = clen !== undefined && Number.isFinite(clen) ? clen : undefined;
    // stall mid-body: the request's own body when it is longer than stallAfterBytes, else the answer's
    const cutUp = action === 'stallBody' && (known ?? 0) > (spec.stallAfterBytes ?? 0);
    const pumpOpts: PumpOptions = { pacers, signal, count: (n) => (stats.bytesUp += n) };
    if (action === 'reset') {
      pumpOpts.cutAfter = (first) => Math.floor((known ?? first) / 2);
    } else if (cutUp) {
      pumpOpts.cutAfter = () => spec.stallAfterBytes ?? 0;
      pumpOpts.keepSrc = true;
    } else if (action === 'corrupt') {
      pumpOpts.mutate = flipMiddleByte(known, () => stats.corrupted++);
    }
    const result = await pump(req, proxyReq, pumpOpts);
    if (cutUp && result === 'cut') {
      // read the rest and drop it (so a client that gives up is seen closing); never end the upstream request
      req.resume();
      return;
    }
    if (action === 'reset') {
      // Cut (or a body shorter than announced): the upstream sees a truncated body, the client a reset.
      resetClient(socket);
      proxyReq.destroy();
    } else if (result === 'end') {
      if (!isDead(proxyReq)) proxyReq.end();
    } else {
      proxyReq.destroy();
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, socket: Socket): Promise<void> => {
    stats.requests++;
    if (logged.length < MAX_LOGGED_REQUESTS) {
      logged.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const md5 = req.headers['content-md5'];
      loggedMd5.push(Array.isArray(md5) ? md5.join(',') : md5);
    }
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const { matched, action, delayResponse } = decide(req);
    if (matched) stats.matched++;
    switch (action) {
      case 'slowDown':
        stats.slowDowns++;
        answerSlowDown(req, res);
        return;
      case 'fail':
        stats.failures++;
        answerError(req, res);
        return;
      case 'stall':
        stats.stalled++;
        logFault(req, 'stalled');
        noteClientClose(socket);
        req.resume(); // read the whole request, never answer; close() destroys the socket
        return;
      case 'stallBody':
        stats.stalled++;
        logFault(req, 'stalled');
        noteClientClose(socket);
        await forward(req, res, socket, action, matched, delayResponse);
        return;
      case 'reset': {
        const te = req.headers['transfer-encoding'];
        const clen = req.headers['content-length'];
        if (te === undefined && (clen === undefined || Number(clen) === 0)) {
          // Empty body: nothing to cut in half, reset before answering (not forwarded).
          req.resume();
          req.once('end', () => resetClient(socket));
          return;
        }
        await forward(req, res, socket, action, matched);
        return;
      }
      default:
        await forward(req, res, socket, action, matched, delayResponse);
    }
  };

  const server = http.createServer((req, res) => {
    const socket = req.socket;
    void handle(req, res, socket).catch(() => {
      socket.destroy();
    });
  });
  server.requestTimeout = 0; // throttled uploads may legitimately take long; lifetime is bounded by maxLifetimeMs
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closing) return closing;
    closing = new Promise<void>((resolve) => {
      clearTimeout(lifetimeTimer);
      lifetime.abort();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      sockets.clear();
      agent.destroy();
    });
    return closing;
  };
  const lifetimeTimer = setTimeout(() => void close(), maxLifetimeMs);
  lifetimeTimer.unref();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats: () => ({ ...stats }),
    requestLog: () => [...logged],
    contentMd5Log: () => [...loggedMd5],
    faultLog: () => faults.map((f) => ({ ...f })),
    setFaults: (next: FaultSpec) => {
      spec = checkSpec(next);
      matchCount = 0;
      stormStartMs = undefined;
      pauseEndMs = undefined;
      rand = mulberry32(spec.seed ?? 1);
      delayRand = mulberry32((spec.seed ?? 1) ^ 0x3d1a7);
      etagRand = mulberry32((spec.seed ?? 1) ^ 0x5e7a9);
      resetPacers();
    },
    close,
  };
}
