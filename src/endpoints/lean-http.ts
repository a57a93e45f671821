/**
 * A minimal keep-alive HTTP/1.1 client over node:net for small signed requests (a PUT of a
 * Buffer, a GET of a small object): one socket write per request, the answer parsed in place.
 *
 * Why: per request, node:http's client (ClientRequest, IncomingMessage, the agent's bookkeeping,
 * the parser's allocations) costs ~0.2 ms of client CPU more than a hand-written exchange over
 * node:net (scripts/bench/get-floor.mjs); with 2,000 small files that CPU is taken from the
 * server on a 2-core machine (docs/benchmarks.md, S1 and the small download).
 *
 * Scope, so node:http's guarantees are not lost (./signed-http.ts decides, as for ./raw-get.ts):
 * plain http, path-style, our own http.Agent only (no proxy, no TLS). An answer this client does
 * not read (1xx, a 2xx without Content-Length or chunked framing, a head over 64 KiB, not
 * HTTP/1.x) fails that attempt with LeanUnsupported (retried as a dropped connection) and the
 * caller goes back to node:http for that endpoint.
 *
 * Reuse: a socket goes back to the pool only after its request was written and its answer read
 * to the exact end (Content-Length or the chunked terminator), with no byte after it and no
 * `Connection: close`; any error or abort destroys it. A request that fails before any answer
 * byte rejects with Node's network error (ECONNRESET for a socket the server closed): the
 * engine retries it; nothing is sent again here (a PUT may have been stored).
 */
import type http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { FileRange, RangePump } from '../fs/file-range.js';
import { MAX_ERROR_BODY, parseHead, prematureClose } from './http-wire.js';
import type { StopSignal } from './stop-signal.js';

/** Socket reads land in a buffer of this size per socket; a head must fit in it. */
const READ_BUFFER_BYTES = 64 * 1024;
/** A chunk-size or trailer line longer than this is refused. */
const MAX_LINE_BYTES = 4096;

/** How the caller takes a 2xx answer's body: thrown away (PUT), whole (a Buffer), or streamed. */
export type LeanBodyMode = 'drain' | 'whole' | 'stream';

export interface LeanAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** 'whole': the body; 'drain': empty */
  data: Buffer;
  /** 'stream': the body, as it comes */
  body: Readable | undefined;
}

export type ToError = (status: number, headers: http.IncomingHttpHeaders, body: string) => Error;

/** An answer this client does not read: the caller uses node:http for this endpoint from now on. */
export class LeanUnsupported extends Error {
  readonly code = 'ECONNRESET'; // retried as a dropped connection: the next attempt goes through node:http
  constructor(why: string) {
    super(`lean http: ${why}; using node:http for this endpoint from now on`);
    this.name = 'LeanUnsupported';
  }
}

const hangUp = (): Error => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

/** One pooled socket and the exchange using it (undefined while idle). */
interface Conn {
  readonly socket: net.Socket;
  readonly host: string;
  buf: Buffer;
  filled: number;
  ex: Exchange | undefined;
  /** it has carried a request already */
  reused: boolean;
  paused: boolean;
  closed: boolean;
  /** an idle timeout is armed (the server's Keep-Alive hint) */
  timed: boolean;
}

/** Keep-alive sockets to one port, at most `maxSockets` open (idle or busy). */
export class LeanHttp {
  private readonly idle = new Map<string, Conn[]>();
  private open = 0;

  constructor(private readonly port: number, private readonly maxSockets: number, private readonly keepAliveMsecs: number) {}

  /**
   * Sends one request; undefined when every socket is busy (the caller sends it another way).
   * 2xx: resolves (at the head for 'stream', at the end of the body otherwise); else rejects
   * with `toError`, Node's network error, LeanUnsupported, or the signal's reason.
   */
  request(host: string, head: string, body: Buffer | FileRange | undefined, mode: LeanBodyMode, isHead: boolean, signal: StopSignal, toError: ToError, onBodySent?: () => void): Promise<LeanAnswer> | undefined {
    const conn = this.take(host);
    if (conn === undefined) return undefined;
    return new Promise<LeanAnswer>((resolve, reject) => {
      const ex = new Exchange(this, conn, mode, isHead, signal, toError, resolve, reject);
      conn.ex = ex;
      signal.addEventListener('abort', ex.onAbort, { once: true });
      ex.send(head, body, onBodySent);
    });
  }

  /** Sockets open now (idle and busy); for tests. */
  get openSockets(): number { return this.open; }

  /** Closes every idle socket. */
  close(): void {
    for (const list of this.idle.values()) for (const c of list.splice(0)) this.destroy(c);
  }

  private take(host: string): Conn | undefined {
    const list = this.idle.get(host);
    const reused = list?.pop();
    if (reused !== undefined) {
      reused.socket.ref();
      if (reused.timed) { reused.timed = false; reused.socket.setTimeout(0); }
      return reused;
    }
    if (this.open >= this.maxSockets) return undefined;
    this.open++;
    const conn: Conn = { socket: undefined as unknown as net.Socket, host, buf: Buffer.allocUnsafe(READ_BUFFER_BYTES), filled: 0, ex: undefined, reused: false, paused: false, closed: false, timed: false };
    const socket = net.connect({
      host, port: this.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: this.keepAliveMsecs,
      onread: { buffer: () => conn.buf.subarray(conn.filled), callback: (n: number) => this.onRead(conn, n) },
    });
    (conn as { socket: net.Socket }).socket = socket;
    socket.on('error', (err: NodeJS.ErrnoException) => { if (conn.ex) conn.ex.onSocketError(err); else this.destroy(conn); });
    socket.on('close', () => { if (conn.ex) conn.ex.onClose(); else this.destroy(conn); });
    socket.on('timeout', () => { if (!conn.ex) this.destroy(conn); });
    return conn;
  }

  private onRead(conn: Conn, n: number): boolean {
    if (conn.ex === undefined) { this.destroy(conn); return false; } // bytes nobody asked for
    conn.ex.onRead(n);
    return true;
  }

  /** Back to the pool after a complete exchange; `idleMs` from the server's Keep-Alive hint. */
  release(conn: Conn, idleMs: number | undefined): void {
    conn.ex = undefined;
    conn.filled = 0;
    conn.reused = true;
    if (conn.paused) { conn.paused = false; conn.socket.resume(); }
    if (conn.closed || conn.socket.destroyed) { this.destroy(conn); return; }
    conn.socket.unref(); // an idle socket does not keep the process alive
    if (idleMs !== undefined) { conn.timed = true; conn.socket.setTimeout(idleMs); }
    let list = this.idle.get(conn.host);
    if (list === undefined) this.idle.set(conn.host, (list = []));
    list.push(conn);
  }

  destroy(conn: Conn): void {
    conn.ex = undefined;
    const list = this.idle.get(conn.host);
    const at = list ? list.indexOf(conn) : -1;
    if (at >= 0) list!.splice(at, 1);
    if (conn.closed) return;
    conn.closed = true;
    this.open--;
    conn.socket.destroy();
  }
}

/**
 * The server's `Keep-Alive: timeout=N` hint less a second, ms, as node:http's agent reads it
 * (0: too short to reuse the socket safely); undefined without a hint.
 */
function idleMsOf(headers: http.IncomingHttpHeaders): number | undefined {
  const hint = headers['keep-alive'];
  const m = typeof hint === 'string' ? /timeout=(\d+)/i.exec(hint) : null;
  return m ? Math.max(Number(m[1]) * 1000 - 1000, 0) : undefined;
}

const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const enum Chunk { Size, Data, DataEnd, Trailer, Done }

/** One request on one socket, from the write to the end of its answer. */
class Exchange {
  private head: { status: number; headers: http.IncomingHttpHeaders } | undefined;
  private keepAlive = false;
  private framing: 'length' | 'chunked' | 'close' = 'length';
  /** body bytes still to come (Content-Length), or of the current chunk */
  private left = 0;
  private chunkState = Chunk.Size;
  private line = '';
  private gotBytes = false;
  /** the promise is settled */
  private settled = false;
  /** the socket is back in the pool or destroyed: this exchange no longer touches it */
  private done = false;
  private body: Readable | undefined;
  /** a FileRange body being written */
  private pump: RangePump | undefined;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly pool: LeanHttp, private readonly conn: Conn, private readonly mode: LeanBodyMode, private readonly isHead: boolean,
    private readonly signal: StopSignal, private readonly toError: ToError,
    private readonly resolve: (a: LeanAnswer) => void, private readonly reject: (err: unknown) => void,
  ) {}

  /** `onBodySent`: called once the last byte is handed to the kernel (not on error or after the end). */
  send(head: string, body: Buffer | FileRange | undefined, onBodySent?: () => void): void {
    const s = this.conn.socket;
    const written = onBodySent && ((err?: Error | null): void => { if (!err && !this.done) onBodySent(); });
    if (body === undefined) s.write(head, 'latin1', written);
    else if (body instanceof FileRange) {
      s.write(head, 'latin1');
      const pump = (this.pump = new RangePump(body, (chunk, done) => s.write(chunk, done)));
      pump.run().then(() => { if (pump.finished) written?.(); }, (err: unknown) => this.fail(err));
    }
    else if (body.length <= READ_BUFFER_BYTES) {
      // one write, one syscall: the head is latin1 (requestHead refused anything else), a byte a char
      const b = Buffer.allocUnsafe(head.length + body.length);
      b.write(head, 0, 'latin1');
      body.copy(b, head.length);
      s.write(b, written);
    } else {
      s.cork();
      s.write(head, 'latin1');
      s.write(body, written);
      s.uncork();
    }
  }

  /** Before the head: the request rejects with the reason; after it, the body fails with it. */
  readonly onAbort = (): void => {
    const reason: unknown = this.signal.reason;
    if (!this.settled) this.fail(reason);
    else if (this.body && !this.body.destroyed) this.body.destroy(reason as Error);
  };

  private unlisten(): void { this.signal.removeEventListener('abort', this.onAbort); }

  /** Destroys the socket unless this exchange is already done with it. */
  private dropSocket(): void {
    this.pump?.stop();
    if (!this.done) { this.done = true; this.pool.destroy(this.conn); }
  }

  fail(err: unknown): void {
    this.dropSocket();
    this.unlisten();
    if (!this.settled) { this.settled = true; this.reject(err); } else if (this.body && !this.body.destroyed) this.body.destroy(err as Error);
  }

  onSocketError(err: NodeJS.ErrnoException): void {
    // a kept-alive socket the server closed meanwhile: the usual dropped connection
    if (err.code === 'EPIPE' && !this.gotBytes) this.fail(Object.assign(new Error(`socket hang up (${err.message})`), { code: 'ECONNRESET', cause: err }));
    else this.fail(err);
  }

  onClose(): void {
    if (this.head !== undefined && this.framing === 'close') this.complete(false);
    else this.fail(this.head === undefined ? hangUp() : prematureClose());
  }

  private unsupported(why: string): void { this.fail(new LeanUnsupported(why)); }

  onRead(n: number): void {
    const conn = this.conn;
    const start = conn.filled;
    conn.filled += n;
    this.gotBytes = true;
    let pos = start;
    if (this.head === undefined) {
      const at = conn.buf.subarray(0, conn.filled).indexOf(CRLF2, Math.max(0, start - 3));
      if (at < 0) {
        if (conn.filled >= conn.buf.length) this.unsupported(`a response head larger than ${READ_BUFFER_BYTES} bytes`);
        return;
      }
      if (!this.onHead(conn.buf.toString('latin1', 0, at))) return;
      pos = at + 4;
    }
    this.onBody(pos, conn.filled);
    // body bytes are copied out: the next read lands at the start of the buffer
    if (!this.done) conn.filled = 0;
  }

  /** Reads the head's status, framing and connection; false when the exchange ended on it. */
  private onHead(text: string): boolean {
    const h = parseHead(text);
    if (h === undefined) { this.unsupported('an answer that is not HTTP/1.x'); return false; }
    if (h.status < 200) { this.unsupported(`a ${h.status} interim answer`); return false; }
    this.head = h;
    const connection = h.headers.connection;
    this.keepAlive = text.startsWith('HTTP/1.1') && !(typeof connection === 'string' && /\b(close|upgrade)\b/i.test(connection));
    const ok = h.status < 300;
    const te = h.headers['transfer-encoding'];
    const cl = h.headers['content-length'];
    if (this.isHead || h.status === 204 || h.status === 304) this.left = 0;
    else if (te !== undefined) {
      if (cl !== undefined || !/^chunked$/i.test(te.trim())) { this.unsupported(`an answer with Transfer-Encoding ${te}${cl !== undefined ? ' and a Content-Length' : ''}`); return false; }
      this.framing = 'chunked';
    } else if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) { this.unsupported(`an answer with Content-Length ${cl}`); return false; }
      this.left = Number(cl);
    } else if (ok) { this.unsupported(`a ${h.status} answer without Content-Length or chunked framing`); return false; }
    else { this.framing = 'close'; this.keepAlive = false; } // an error answer read until the server closes
    if (ok && this.mode === 'stream') {
      this.body = new Readable({
        read: () => { if (this.conn.paused && !this.done) { this.conn.paused = false; this.conn.socket.resume(); } },
        destroy: (err, cb) => {
          this.unlisten();
          this.dropSocket(); // read in part: the rest is unread
          cb(err);
        },
      });
      this.settled = true;
      this.resolve({ status: h.status, headers: h.headers, data: EMPTY, body: this.body });
    }
    return true;
  }

  /** Bytes of the body in buf[pos, end). */
  private onBody(pos: number, end: number): void {
    if (this.framing === 'length') {
      const n = Math.min(this.left, end - pos);
      if (n > 0) { this.left -= n; this.deliver(pos, pos + n); }
      if (this.left === 0 && !this.done) this.complete(pos + n < end);
    } else if (this.framing === 'chunked') {
      const at = this.dechunk(pos, end);
      if (at >= 0 && this.chunkState === Chunk.Done && !this.done) this.complete(at < end);
    } else this.deliver(pos, end);
  }

  /** Decodes chunked framing in buf[pos, end); returns where it stopped, -1 when it failed. */
  private dechunk(pos: number, end: number): number {
    const buf = this.conn.buf;
    while (pos < end && this.chunkState !== Chunk.Done) {
      if (this.chunkState === Chunk.Data) {
        const n = Math.min(this.left, end - pos);
        this.left -= n;
        this.deliver(pos, pos + n);
        if (this.done) return -1;
        pos += n;
        if (this.left === 0) this.chunkState = Chunk.DataEnd;
        continue;
      }
      const lf = buf.indexOf(10, pos);
      const stop = lf < 0 || lf >= end ? end : lf;
      this.line += buf.toString('latin1', pos, stop);
      if (this.line.length > MAX_LINE_BYTES) { this.unsupported('a chunked answer with a line too long'); return -1; }
      if (stop === end) return end; // the line goes on in the next read
      pos = stop + 1;
      if (!this.line.endsWith('\r')) { this.unsupported('a chunked answer with a bare LF'); return -1; }
      const line = this.line.slice(0, -1);
      this.line = '';
      if (this.chunkState === Chunk.Size) {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!m) { this.unsupported('a chunked answer with a bad chunk size'); return -1; }
        this.left = parseInt(m[1]!, 16);
        this.chunkState = this.left === 0 ? Chunk.Trailer : Chunk.Data;
      } else if (this.chunkState === Chunk.DataEnd) {
        if (line !== '') { this.unsupported('a chunked answer with bytes after a chunk'); return -1; }
        this.chunkState = Chunk.Size;
      } else if (line === '') this.chunkState = Chunk.Done; // the end of the trailers
    }
    return pos;
  }

  /** Body bytes buf[from, to): streamed, kept (whole body, error body), or dropped (a PUT's). */
  private deliver(from: number, to: number): void {
    if (to <= from) return;
    const status = this.head!.status;
    if (this.body !== undefined) {
      if (!this.body.push(Buffer.from(this.conn.buf.subarray(from, to))) && !this.conn.paused) {
        this.conn.paused = true;
        this.conn.socket.pause();
      }
      return;
    }
    if (status < 300 && this.mode === 'drain') return;
    const cap = status < 300 ? Number.MAX_SAFE_INTEGER : MAX_ERROR_BODY;
    const n = Math.min(to - from, cap - this.size);
    this.chunks.push(Buffer.from(this.conn.buf.subarray(from, from + n)));
    this.size += n;
    // an error body is read up to the cap, the rest is not: the socket goes
    if (this.size >= cap && status >= 300) this.fail(this.errorOf());
  }

  private errorOf(): Error {
    const h = this.head!;
    return this.toError(h.status, h.headers, Buffer.concat(this.chunks, this.size).toString('utf8'));
  }

  /** The answer's last byte is in: the socket goes back to the pool if it can carry another request. */
  private complete(extra: boolean): void {
    const h = this.head!;
    this.done = true;
    const idleMs = idleMsOf(h.headers);
    // an answer before the whole body was written (an error): the rest must not reach the next request
    const bodyWritten = this.pump === undefined || this.pump.finished;
    this.pump?.stop();
    const reusable = !extra && bodyWritten && this.keepAlive && this.framing !== 'close' && this.conn.socket.writableLength === 0 && idleMs !== 0;
    if (reusable) this.pool.release(this.conn, idleMs);
    else this.pool.destroy(this.conn);
    if (h.status >= 300) { this.fail(this.errorOf()); return; }
    if (this.body !== undefined) { this.body.push(null); return; } // the listener goes when the body is destroyed
    this.unlisten();
    this.settled = true;
    this.resolve({ status: h.status, headers: h.headers, data: this.size === 0 ? EMPTY : Buffer.concat(this.chunks, this.size), body: undefined });
  }
}
