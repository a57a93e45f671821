/**
 * The hot data path: PutObject, UploadPart and GetObject signed with SigV4 and sent straight
 * over node:http(s), without @aws-sdk/client-s3.
 *
 * Why: profiling showed the SDK client costs ~2.4 ms of client CPU per small PutObject, ~1.5 ms
 * of it in SDK layers (middleware stack, schema serde, endpoint resolution). On a 2-core machine
 * that CPU is taken from the S3 server and caps small-file throughput. Signing ourselves
 * (./sigv4.ts, as the SDK's signer signs) over the endpoint's keep-alive agent costs ~0.9 ms per PUT.
 * The control plane (List, Delete, Head, multipart Create/Complete/Abort) goes the same way
 * through `call` (./signed-control.ts reads and writes its XML); the SDK serves AWS itself.
 *
 * Wire format, matching what the SDK sends with `requestChecksumCalculation: 'WHEN_REQUIRED'`:
 *  - path: S3's canonical key encoding (RFC 3986 per segment, '/' kept); the same string is
 *    signed (`uriEscapePath: false`: S3 does not double-encode) and sent;
 *  - body not hashed: `x-amz-content-sha256: UNSIGNED-PAYLOAD` (GET: the empty-body hash);
 *  - no `Expect: 100-continue`, no checksum trailers, no retries (the caller's engine retries);
 *  - a stream body is counted against content-length (a changed file must not leave stray bytes
 *    on a keep-alive socket);
 *  - Nagle is off: Node ≥ 20 creates agent sockets with noDelay (unless the agent says otherwise).
 *
 * Errors look like the SDK's so the engine's classifier (engine/retry-policy.ts) reads them the
 * same way: S3 errors carry `name`/`Code` (the XML `<Code>`), `$metadata.httpStatusCode` and
 * `$response.headers`; network errors are Node's own (`code` ECONNRESET, ECONNREFUSED…); an
 * aborted request rejects with the signal's `reason`.
 */
import http from 'node:http';
import type https from 'node:https';
import type { Readable } from 'node:stream';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { SseCustomerKey } from '../config/object-headers.js';
import { nodeHttps } from '../config/tls-modules.js';
import { FileRange } from '../fs/file-range.js';
import { addSseCHeaders, addStoredHeaders, type StoredHeaders } from './object-header-wire.js';
import { requestHead } from './http-wire.js';
import { LeanHttp, LeanUnsupported } from './lean-http.js';
import { rawGet, RawGetUnsupported } from './raw-get.js';
import { decodeXmlText } from './s3-xml.js';
import { rfc3986, SigV4Signer } from './sigv4.js';
import type { StopSignal } from './stop-signal.js';

type HeaderBag = Record<string, string>;
type QueryParameterBag = Readonly<Record<string, string>>;

/** How to reach and sign for one S3 endpoint. */
export interface SignedHttpConfig {
  /** endpoint base URL, http or https (a path prefix is kept), e.g. http://127.0.0.1:7480 */
  url: string;
  /** signing region */
  region: string;
  /** called for every request (the SDK's providers memoize) */
  credentials: AwsCredentialIdentityProvider;
  /** keep-alive agent owned by the caller (http.Agent for http:, https.Agent for https:) */
  agent: http.Agent | https.Agent;
  /** true: http://host/bucket/key; false: virtual-hosted http://bucket.host/key */
  pathStyle: boolean;
  /** server clock minus ours, ms, read for every request (learnt from skew answers); default 0 */
  clockOffsetMs?: () => number;
  /** --no-sign-request: anonymous requests (public buckets); `credentials` is never called */
  unsigned?: boolean;
}

/** An anonymous request's headers: the signer's only header dropped, every one the request needs kept. */
function unsignedHeaders(headers: HeaderBag): HeaderBag {
  const { 'x-amz-content-sha256': _payloadHash, ...rest } = headers;
  return rest;
}

/**
 * Outcome of a PutObject / UploadPart: the ETag header as sent (quotes included), and the
 * encryption headers that say whether that ETag can be an MD5 (SSE-KMS / SSE-C: it is not).
 */
export interface PutResult {
  etag: string | undefined;
  status: number;
  /** x-amz-server-side-encryption (AES256, aws:kms, aws:kms:dsse) */
  sse?: string;
  /** x-amz-server-side-encryption-customer-algorithm (SSE-C) */
  sseCustomerAlgorithm?: string;
}

/** A 2xx answer, from node:http or ./lean-http.ts; `body` only when the caller keeps it. */
interface Answer { status: number; headers: http.IncomingHttpHeaders; body: Readable | undefined }

/** A node:http 2xx answer as an Answer; its body kept only when the caller reads it. */
function nodeAnswer(res: http.IncomingMessage, keepBody: boolean): Answer {
  return { status: res.statusCode!, headers: res.headers, body: keepBody ? res : undefined };
}

/** PutResult of a 2xx answer. */
function putResult(res: Answer): PutResult {
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const sse = one(res.headers['x-amz-server-side-encryption']);
  const sseCustomerAlgorithm = one(res.headers['x-amz-server-side-encryption-customer-algorithm']);
  return { etag: res.headers.etag, status: res.status, sse, sseCustomerAlgorithm };
}

/**
 * A request body: bytes, a range of a file read afresh per request, or a factory called once per
 * request for a fresh stream. Each must hold exactly `contentLength` bytes; a stream or file that
 * does not rejects with BodyLengthMismatch.
 */
export type SignedBody = Buffer | FileRange | (() => NodeJS.ReadableStream);

/** A body that is not bytes, as a fresh stream (for senders that take one: node:http, the SDK, a bandwidth limit). */
export function bodyStream(body: Exclude<SignedBody, Buffer>): NodeJS.ReadableStream {
  return body instanceof FileRange ? body.stream() : body();
}

/** PutObject parameters. */
export interface PutObjectParams {
  bucket: string;
  key: string;
  body: SignedBody;
  contentLength: number;
  contentType?: string;
  /** base64 MD5 of the body */
  contentMd5?: string;
  /** user metadata, sent as x-amz-meta-<lower-cased name>; values must be US-ASCII (as with the SDK) */
  metadata?: Record<string, string>;
  /** Cache-Control, storage class, ACL, encryption… */
  headers?: StoredHeaders;
  /** called once the whole body is handed to the socket */
  onBodySent?: (() => void) | undefined;
}

/** UploadPart parameters. */
export interface UploadPartParams {
  bucket: string;
  key: string;
  uploadId: string;
  partNumber: number;
  body: SignedBody;
  contentLength: number;
  /** base64 MD5 of the body */
  contentMd5?: string;
  sseC?: SseCustomerKey | undefined;
  /** called once the whole body is handed to the socket */
  onBodySent?: (() => void) | undefined;
}

/** GetObject parameters; `range` is inclusive (bytes=start-end). */
export interface GetObjectParams {
  bucket: string;
  key: string;
  range?: { start: number; end: number };
  sseC?: SseCustomerKey | undefined;
  /** a large body: read over a socket of its own where it can be (./raw-get.ts) */
  bulk?: boolean | undefined;
}

/** A control-plane request (./signed-control.ts): any method, on a bucket (key '') or an object. */
export interface SignedCall {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  bucket: string;
  /** '' addresses the bucket itself */
  key: string;
  /** query parameters; a '' value is sent as a bare name (`?delete`) */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
}

/** A 2xx answer to a SignedCall, its body read whole as UTF-8. */
export interface SignedAnswer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** GetObject outcome: the response body is the caller's to consume (or destroy). */
export interface GetObjectResult { status: number; headers: http.IncomingHttpHeaders; body: Readable }

/** A non-2xx answer, shaped like the SDK's ServiceException. */
export class S3HttpError extends Error {
  /** S3's XML `<Code>` (or NotFound / HTTP<status> when the body has none), same as `name` */
  readonly Code: string;
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId?: string; extendedRequestId?: string };
  readonly $response: { statusCode: number; headers: http.IncomingHttpHeaders; body: string };

  constructor(code: string, message: string, status: number, headers: http.IncomingHttpHeaders, body: string, requestId: string | undefined) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    const extended = headers['x-amz-id-2'];
    this.$metadata = {
      httpStatusCode: status,
      ...(requestId !== undefined && { requestId }),
      ...(typeof extended === 'string' && { extendedRequestId: extended }),
    };
    this.$response = { statusCode: status, headers, body };
  }
}

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** error bodies are read up to this many bytes */
const MAX_ERROR_BODY = 64 * 1024;
const NO_QUERY: QueryParameterBag = Object.freeze({}) as QueryParameterBag;

const PATH_SAFE = /^[A-Za-z0-9\-._~/]*$/;
const PATH_FIX = /%2F|[!'()*]/g;
function fixChar(c: string): string {
  return c === '%2F' ? '/' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}

/** S3's canonical key encoding for the request path: RFC 3986 per segment, '/' kept. Exported for unit tests. */
export function encodeKeyPath(key: string): string {
  // A literal "%2F" in the key was itself encoded to "%252F", so every %2F left is a '/'.
  return PATH_SAFE.test(key) ? key : encodeURIComponent(key).replace(PATH_FIX, fixChar);
}

/** RFC 3986 encoding of one query value (what the signer's canonical query uses). */
const encodeQueryValue = rfc3986;

/** `?a=b&c` from query parameters, encoded as the signer encodes them ('' for none). */
function queryStringOf(query: Record<string, string>): string {
  let out = '';
  for (const name of Object.keys(query)) {
    const value = query[name]!;
    out += `${out ? '&' : '?'}${encodeQueryValue(name)}${value === '' ? '' : `=${encodeQueryValue(value)}`}`;
  }
  return out;
}

function xmlField(body: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body);
  return m ? decodeXmlText(m[1]!.trim()) : undefined;
}

/** The whole body as UTF-8; rejects with the body's error (an abort destroys it with the signal's reason). */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    res.once('close', () => { if (!res.complete) reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })); });
  });
}

/** An S3 error answer (status, headers and its XML body) as an SDK-shaped error. Exported for ./signed-control.ts (errors inside a 200). */
export function toS3Error(status: number, headers: http.IncomingHttpHeaders, body: string): S3HttpError {
  const code = xmlField(body, 'Code') || (status === 404 ? 'NotFound' : `HTTP${status}`);
  const message = xmlField(body, 'Message') || code;
  const hdrId = headers['x-amz-request-id'];
  const requestId = xmlField(body, 'RequestId') ?? (typeof hdrId === 'string' ? hdrId : undefined);
  return new S3HttpError(code, message, status, headers, body, requestId);
}

/** A data call needs an object key: '' would address the bucket itself. */
function objectKey(key: string): void {
  if (key.length === 0) throw new TypeError('signed-http: empty object key');
}

type BodyStream = NodeJS.ReadableStream & { destroy?(err?: Error): unknown };

/** The body stream did not hold exactly `contentLength` bytes (typically: the file changed). */
function lengthMismatch(contentLength: number, what: 'more' | 'fewer'): Error {
  const e = new Error(`request body stream has ${what} bytes than its content-length ${contentLength}`) as NodeJS.ErrnoException;
  e.name = 'BodyLengthMismatch';
  e.code = 'BodyLengthMismatch';
  return e;
}

/** A Buffer body must be exactly contentLength bytes. */
function checkLength(body: SignedBody | undefined, contentLength: number): void {
  const bytes = Buffer.isBuffer(body) ? body.length : body instanceof FileRange ? body.len : contentLength;
  if (bytes !== contentLength) throw new RangeError(`signed-http: body is ${bytes} bytes, contentLength says ${contentLength}`);
}

/** Sends S3 data requests (PutObject, UploadPart, GetObject) signed with SigV4 over node:http(s). */
export class SignedHttpClient {
  private readonly signer: SigV4Signer;
  private readonly send: typeof http.request;
  private readonly agent: http.Agent | https.Agent;
  private readonly pathStyle: boolean;
  private readonly clockOffsetMs: () => number;
  private readonly unsigned: boolean;
  /** host to connect to (IPv6 without brackets) */
  private readonly hostname: string;
  private readonly port: number | undefined;
  /** Host header: host[:port], port only when not the protocol's default */
  private readonly hostHeader: string;
  /** URL path prefix without trailing slash ('' for none) */
  private readonly basePath: string;

  constructor(cfg: SignedHttpConfig) {
    const u = new URL(cfg.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`signed-http: unsupported URL ${cfg.url}`);
    this.send = u.protocol === 'https:' ? nodeHttps().request : http.request;
    this.hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port ? Number(u.port) : undefined;
    this.hostHeader = u.host;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.agent = cfg.agent;
    this.pathStyle = cfg.pathStyle;
    this.clockOffsetMs = cfg.clockOffsetMs ?? (() => 0);
    this.unsigned = cfg.unsigned ?? false;
    this.signer = new SigV4Signer(cfg.region, cfg.credentials);
  }

  /** Closes the idle sockets of ./lean-http.ts's pool (the agent's are the caller's). */
  close(): void { this.lean?.close(); }

  /** PutObject; resolves once the (empty) response body is drained and the socket is back in the pool. */
  async putObject(p: PutObjectParams, signal: StopSignal): Promise<PutResult> {
    objectKey(p.key);
    const headers: HeaderBag = {
      'content-length': String(p.contentLength),
      'x-amz-content-sha256': UNSIGNED_PAYLOAD,
    };
    if (p.contentType !== undefined) headers['content-type'] = p.contentType;
    if (p.contentMd5 !== undefined) headers['content-md5'] = p.contentMd5;
    if (p.metadata !== undefined) {
      for (const name of Object.keys(p.metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = p.metadata[name]!;
    }
    addStoredHeaders(headers, p.headers);
    return putResult(await this.small('PUT', p.bucket, p.key, NO_QUERY, '', headers, p.body, p.contentLength, signal, p.onBodySent));
  }

  /** UploadPart; resolves once the response body is drained. */
  async uploadPart(p: UploadPartParams, signal: StopSignal): Promise<PutResult> {
    objectKey(p.key);
    const partNumber = String(p.partNumber);
    const headers: HeaderBag = {
      'content-length': String(p.contentLength),
      'x-amz-content-sha256': UNSIGNED_PAYLOAD,
    };
    if (p.contentMd5 !== undefined) headers['content-md5'] = p.contentMd5;
    addSseCHeaders(headers, p.sseC);
    return putResult(await this.small('PUT', p.bucket, p.key, { partNumber, uploadId: p.uploadId },
      `?partNumber=${partNumber}&uploadId=${encodeQueryValue(p.uploadId)}`, headers, p.body, p.contentLength, signal, p.onBodySent));
  }

  /**
   * GetObject (whole or an inclusive byte range); resolves at the response headers. The signal
   * stays armed until the body closes: aborting destroys the body with the signal's reason.
   */
  async getObject(p: GetObjectParams, signal: StopSignal): Promise<GetObjectResult> {
    objectKey(p.key);
    const headers: HeaderBag = { 'x-amz-content-sha256': EMPTY_SHA256 };
    if (p.range !== undefined) {
      const { start, end } = p.range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new RangeError(`getObject: bad range ${start}-${end}`);
      }
      headers.range = `bytes=${start}-${end}`;
    }
    addSseCHeaders(headers, p.sseC);
    if (p.bulk && this.rawGetOk) return this.rawGetObject(p, headers, signal);
    const res = await this.small('GET', p.bucket, p.key, NO_QUERY, '', headers, undefined, 0, signal);
    return { status: res.status, headers: res.headers, body: res.body! };
  }

  /**
   * ./lean-http.ts's path: plain http, path-style, through our own keep-alive agent only (a
   * proxy's, a TLS agent's or a test's own connections are node:http's), until an answer it
   * cannot read turns it off.
   */
  private get leanOk(): boolean {
    const a = this.agent as http.Agent & { keepAlive?: boolean };
    return !this.leanOff && this.pathStyle && this.send === http.request && Object.getPrototypeOf(a) === http.Agent.prototype
      && a.keepAlive === true && !Object.hasOwn(a, 'createConnection');
  }

  private leanOff = false;
  private lean: LeanHttp | undefined;

  private leanPool(): LeanHttp {
    const a = this.agent as http.Agent & { keepAliveMsecs?: number };
    // the engine bounds requests in flight; a pool without a bound gets one anyway
    return this.lean ??= new LeanHttp(this.port ?? 80, Number.isFinite(a.maxSockets) ? a.maxSockets : 64, a.keepAliveMsecs ?? 1000);
  }

  /**
   * A data request with a Buffer or FileRange body, or none: over ./lean-http.ts where it can go, else node:http.
   * A PUT resolves once its answer is read (body: undefined); a GET at the head, with its body.
   * `onBodySent`: called once the request's last byte is handed to the socket.
   */
  private async small(
    method: 'PUT' | 'GET', bucket: string, key: string, query: QueryParameterBag, queryString: string,
    headers: HeaderBag, body: SignedBody | undefined, contentLength: number, signal: StopSignal, onBodySent?: () => void,
  ): Promise<Answer> {
    const keepBody = method === 'GET';
    if (typeof body === 'function' || !this.leanOk) {
      return nodeAnswer(await this.exchange(method, bucket, key, query, queryString, headers, body, contentLength, signal, keepBody, onBodySent), keepBody);
    }
    const { hostname, path, signedHeaders } = await this.prepare(method, bucket, key, query, queryString, headers, body, contentLength, signal);
    const head = requestHead(method, path, signedHeaders);
    const sent = this.leanPool().request(hostname, head, body, keepBody ? 'stream' : 'drain', false, signal, toS3Error, onBodySent);
    if (sent === undefined) { // every pooled socket busy
      return nodeAnswer(await this.sendNode(method, hostname, path, signedHeaders, body, contentLength, signal, keepBody, onBodySent), keepBody);
    }
    try {
      return await sent;
    } catch (err) {
      if (err instanceof LeanUnsupported) this.leanOff = true;
      throw err;
    }
  }

  /**
   * ./raw-get.ts's path: plain http through our own keep-alive agent only (a proxy's or a TLS
   * agent's sockets are node:http's), until an answer it cannot read turns it off.
   */
  private get rawGetOk(): boolean {
    return !this.rawGetOff && this.send === http.request && Object.getPrototypeOf(this.agent) === http.Agent.prototype;
  }

  private rawGetOff = false;

  private async rawGetObject(p: GetObjectParams, headers: HeaderBag, signal: StopSignal): Promise<GetObjectResult> {
    if (signal.aborted) throw signal.reason;
    const { hostname, path, signedHeaders } = await this.signed('GET', p.bucket, p.key, NO_QUERY, headers);
    try {
      return await rawGet({ hostname, port: this.port ?? 80, path, headers: signedHeaders }, signal, toS3Error);
    } catch (err) {
      if (err instanceof RawGetUnsupported) this.rawGetOff = true;
      throw err;
    }
  }

  /**
   * A control-plane call; resolves with a 2xx answer's whole body, rejects like the data calls.
   * Bodies are not hashed (UNSIGNED-PAYLOAD, as for PUTs); a GET/HEAD/DELETE signs the empty body.
   */
  async call(c: SignedCall, signal: StopSignal): Promise<SignedAnswer> {
    const query = c.query ?? {};
    const headers: HeaderBag = { ...c.headers, 'x-amz-content-sha256': c.body ? UNSIGNED_PAYLOAD : EMPTY_SHA256 };
    if (c.body) headers['content-length'] = String(c.body.length);
    const res = await this.exchange(c.method, c.bucket, c.key, query, queryStringOf(query), headers, c.body, c.body?.length ?? 0, signal, true);
    return { status: res.statusCode!, headers: res.headers, body: await readText(res) };
  }

  /**
   * Signs and sends one request (key '': to the bucket itself). 2xx: resolves with the response (drained unless `keepBody`);
   * otherwise rejects with an S3HttpError, Node's network error, or the signal's reason.
   * `onBodySent`: called when the request's last byte is handed to the socket ('finish').
   */
  private async exchange(
    method: string, bucket: string, key: string, query: QueryParameterBag, queryString: string,
    headers: HeaderBag, body: SignedBody | undefined, contentLength: number, signal: StopSignal, keepBody: boolean,
    onBodySent?: () => void,
  ): Promise<http.IncomingMessage> {
    const { hostname, path, signedHeaders } = await this.prepare(method, bucket, key, query, queryString, headers, body, contentLength, signal);
    return this.sendNode(method, hostname, path, signedHeaders, body, contentLength, signal, keepBody, onBodySent);
  }

  /**
   * What every data request does before it is sent, whichever client sends it: refuses an
   * aborted signal and a Buffer body of the wrong length, signs, and checks the signal again
   * (it may fire while credentials resolve). `path` includes the query string.
   */
  private async prepare(
    method: string, bucket: string, key: string, query: QueryParameterBag, queryString: string,
    headers: HeaderBag, body: SignedBody | undefined, contentLength: number, signal: StopSignal,
  ): Promise<{ hostname: string; path: string; signedHeaders: HeaderBag }> {
    if (signal.aborted) throw signal.reason;
    checkLength(body, contentLength);
    const { hostname, path, signedHeaders } = await this.signed(method, bucket, key, query, headers);
    if (signal.aborted) throw signal.reason; // fired while credentials were resolving
    return { hostname, path: path + queryString, signedHeaders };
  }

  /** Sends a signed request over node:http; resolves and rejects as `exchange`. */
  private sendNode(
    method: string, hostname: string, path: string, signedHeaders: HeaderBag,
    body: SignedBody | undefined, contentLength: number, signal: StopSignal, keepBody: boolean, onBodySent?: () => void,
  ): Promise<http.IncomingMessage> {
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      let done = false;
      let stream: BodyStream | undefined;
      let res: http.IncomingMessage | undefined;
      const req = this.send({
        agent: this.agent, method, hostname, port: this.port, path, headers: signedHeaders,
      });

      const onAbort = (): void => {
        const reason: unknown = signal.reason;
        if (!done) finish(reason);
        // after resolve (GetObject body): the body fails with the reason
        else res?.destroy(reason as Error);
        req.destroy();
      };
      const cleanup = (): void => signal.removeEventListener('abort', onAbort);
      function finish(err: unknown, ok?: http.IncomingMessage): void {
        if (done) return;
        done = true;
        if (ok !== undefined) {
          if (keepBody) ok.once('close', cleanup);
          else cleanup();
          resolve(ok);
          return;
        }
        cleanup();
        req.destroy();
        stream?.destroy?.();
        res?.destroy();
        reject(err);
      }

      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', finish);
      if (onBodySent) req.once('finish', () => { if (!done) onBodySent(); });
      req.once('response', (r: http.IncomingMessage) => {
        res = r;
        r.on('error', finish);
        const status = r.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          if (keepBody) finish(undefined, r);
          else {
            r.once('end', () => finish(undefined, r));
            r.resume();
          }
          return;
        }
        // error answer: read the bounded body, then reject with an SDK-shaped error
        const chunks: Buffer[] = [];
        let size = 0;
        const fail = (): void => {
          const err = toS3Error(status, r.headers, Buffer.concat(chunks).toString('utf8'));
          // the request body may not have been sent in full: this socket must not be reused
          if (!req.writableFinished) req.destroy();
          finish(err);
        };
        r.on('data', (chunk: Buffer) => {
          if (size >= MAX_ERROR_BODY) return;
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_ERROR_BODY) fail();
        });
        r.once('end', fail);
      });

      try {
        if (body === undefined) req.end();
        else if (Buffer.isBuffer(body)) req.end(body);
        else {
          // pipe() by hand, counting: a stream longer than content-length would leave stray
          // bytes on a keep-alive socket (read as the next request); a shorter one would hang
          const s = (stream = bodyStream(body) as BodyStream);
          let sent = 0;
          const resume = (): void => { s.resume(); };
          s.on('error', finish);
          s.on('data', (chunk: Buffer | string) => {
            sent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
            if (sent > contentLength) finish(lengthMismatch(contentLength, 'more'));
            else if (!req.write(chunk)) {
              s.pause();
              req.once('drain', resume);
            }
          });
          s.once('end', () => {
            if (sent === contentLength) req.end();
            else finish(lengthMismatch(contentLength, 'fewer'));
          });
        }
      } catch (err) {
        finish(err);
      }
    });
  }

  /** Where a request goes (host to connect to, path) and its signed headers. */
  private async signed(method: string, bucket: string, key: string, query: QueryParameterBag, headers: HeaderBag): Promise<{ hostname: string; path: string; signedHeaders: HeaderBag }> {
    let hostname = this.hostname;
    let path: string;
    if (bucket === '') {
      headers.host = this.hostHeader; // the service itself (ListBuckets)
      path = `${this.basePath}/`;
    } else if (this.pathStyle) {
      headers.host = this.hostHeader;
      path = `${this.basePath}/${encodeQueryValue(bucket)}${key === '' ? '' : `/${encodeKeyPath(key)}`}`;
    } else {
      hostname = `${bucket}.${hostname}`;
      headers.host = `${bucket}.${this.hostHeader}`;
      path = `${this.basePath}/${encodeKeyPath(key)}`;
    }
    const signedHeaders = this.unsigned ? unsignedHeaders(headers) : await this.signer.sign({ method, path, query, headers }, new Date(Date.now() + this.clockOffsetMs()));
    return { hostname, path, signedHeaders };
  }
}
