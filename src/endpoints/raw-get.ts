/**
 * A signed GET of a large body over a plain-http socket of its own, read without node:http.
 *
 * Why: node:http reads 64 KiB per syscall, and its parser copies every body chunk into a new
 * Buffer that then travels through two streams; for a 64 MiB object that is ~1,000 socket reads
 * and copies, most of the client CPU of a download (docs/benchmarks.md, S6l profile). Here the
 * socket reads straight into 1 MiB buffers (`onread`), up to a buffer's free space per syscall,
 * and the body is handed out as slices of them: no parser copy, no per-read allocation. The
 * buffers are reused (../fs/chunk-pool.ts): a consumer that releases each slice once done with
 * it (ops/drain-to.ts) gets them back into the pool; one that does not leaves them to the collector.
 *
 * Scope, so node:http's guarantees are not lost: plain http only, no proxy (./signed-http.ts
 * decides), one request per connection (`Connection: close`), a 2xx answer with a Content-Length
 * (anything else, e.g. chunked, is refused once and that endpoint goes back to node:http).
 * Non-2xx answers become the same S3-shaped errors as node:http's (`toS3Error`). The signal
 * works as in signed-http: before the head it rejects, after it the body fails with its reason.
 */
import type http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { ChunkPool, LentChunk, retainSlice } from '../fs/chunk-pool.js';
import { MAX_ERROR_BODY, parseHead, prematureClose, requestHead, type ResponseHead } from './http-wire.js';
import type { StopSignal } from './stop-signal.js';

/** Socket reads land in buffers of this size; a new one once less than READ_MIN_BYTES is free. */
const BUFFER_BYTES = 1024 * 1024;
const READ_MIN_BYTES = 64 * 1024;
/** A response head larger than this is refused. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Read buffers kept for reuse: 32 MiB, two per GET in flight at the default concurrency. */
const readBuffers = new ChunkPool(BUFFER_BYTES, 32);

export interface RawGetRequest {
  hostname: string;
  port: number;
  /** path and query, as signed */
  path: string;
  /** the signed headers (host included) */
  headers: Record<string, string>;
}

export interface RawGetAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
}

/** The answer was not one this path reads (no Content-Length, chunked, 1xx): the caller uses node:http from now on. */
export class RawGetUnsupported extends Error {
  readonly code = 'ECONNRESET'; // retried as a dropped connection: the next attempt goes through node:http
  constructor(why: string) {
    super(`raw GET: ${why}; using node:http for this endpoint from now on`);
    this.name = 'RawGetUnsupported';
  }
}

/**
 * Sends the GET; resolves at the response head with the body as a Readable of slices of the read
 * buffers, or rejects (non-2xx: `toError(status, headers, body)`).
 */
export function rawGet(req: RawGetRequest, signal: StopSignal, toError: (status: number, headers: http.IncomingHttpHeaders, body: string) => Error): Promise<RawGetAnswer> {
  return new Promise<RawGetAnswer>((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return; }
    // a character node:http would refuse throws here, before any socket: the promise rejects with it
    const requestText = requestHead('GET', req.path, { ...req.headers, connection: 'close' });
    let lending = new LentChunk(readBuffers);
    let buf = lending.buf;
    let filled = 0;
    let head: ResponseHead | undefined;
    let left = 0;
    let body: Readable | undefined;
    let settled = false;
    const errorChunks: Buffer[] = [];

    const fail = (err: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      lending.retire(); // no read lands in it after the socket is destroyed
      if (!settled) { settled = true; reject(err); } else if (body && !body.destroyed) body.destroy(err as Error);
    };
    const onAbort = (): void => fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });

    const done = (): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      lending.retire();
    };
    const onHead = (h: ResponseHead): void => {
      head = h;
      const len = h.headers['content-length'];
      if (h.status >= 200 && h.status < 300) {
        if (len === undefined || !/^\d+$/.test(String(len)) || h.headers['transfer-encoding'] !== undefined) {
          fail(new RawGetUnsupported(`a ${h.status} answer without a plain Content-Length`));
          return;
        }
        left = Number(len);
        body = new Readable({
          highWaterMark: BUFFER_BYTES,
          read: () => { socket.resume(); },
          destroy: (err, cb) => { done(); cb(err); },
        });
        settled = true;
        resolve({ status: h.status, headers: h.headers, body });
        if (left === 0) { body.push(null); done(); }
        return;
      }
      if (h.status < 200) { fail(new RawGetUnsupported(`a ${h.status} interim answer`)); return; }
      left = len !== undefined && /^\d+$/.test(String(len)) ? Math.min(Number(len), MAX_ERROR_BODY) : MAX_ERROR_BODY;
      if (left === 0) fail(toError(h.status, h.headers, ''));
    };
    /** Bytes of the body (or of an error answer) in buf[start, end). */
    const onBytes = (start: number, end: number): void => {
      const n = Math.min(end - start, left);
      if (n <= 0) return;
      left -= n;
      const slice = buf.subarray(start, start + n);
      if (body) {
        retainSlice(slice); // the consumer's to release
        if (!body.push(slice)) socket.pause();
        if (left === 0) { body.push(null); done(); }
        return;
      }
      errorChunks.push(Buffer.from(slice));
      if (left === 0) fail(toError(head!.status, head!.headers, Buffer.concat(errorChunks).toString('utf8')));
    };
    const onRead = (nread: number): boolean => {
      const start = filled;
      filled += nread;
      if (head === undefined) {
        const at = buf.indexOf('\r\n\r\n', 0, 'latin1');
        if (at < 0 || at >= filled) {
          if (filled > MAX_HEAD_BYTES) fail(new Error(`raw GET: response head larger than ${MAX_HEAD_BYTES} bytes`));
          return true;
        }
        const h = parseHead(buf.toString('latin1', 0, at));
        if (!h) { fail(new RawGetUnsupported('an answer that is not HTTP/1.x')); return true; }
        onHead(h);
        if (settled && !body) return true;
        onBytes(at + 4, filled);
      } else onBytes(start, filled);
      // the bytes handed out stay as they are: another buffer once this one is nearly full
      if (BUFFER_BYTES - filled < READ_MIN_BYTES && !socket.destroyed) {
        lending.retire();
        lending = new LentChunk(readBuffers);
        buf = lending.buf;
        filled = 0;
      }
      return true;
    };

    const socket = net.connect({
      host: req.hostname, port: req.port,
      onread: { buffer: () => buf.subarray(filled), callback: onRead },
    }, () => socket.write(requestText));
    socket.setNoDelay(true);
    socket.on('error', fail);
    socket.on('close', () => {
      lending.retire();
      if (left > 0 || head === undefined) fail(head !== undefined && !body ? toError(head.status, head.headers, Buffer.concat(errorChunks).toString('utf8')) : prematureClose());
      else signal.removeEventListener('abort', onAbort);
    });
  });
}
