/**
 * The one table that decides what happens after a failed attempt, and the backoff between
 * attempts. Every S3 request s3x sends is classified here and nowhere else.
 *
 *   retry  – transient: back off (full jitter, honouring Retry-After) and try again with a
 *            larger deadline, possibly on another endpoint
 *   fail   – this object cannot succeed as asked (e.g. AccessDenied on one key, local file
 *            unreadable): give up on it at once, the run goes on
 *   fatal  – nothing in this run can succeed (no such bucket, credentials rejected): stop
 *            dispatching and exit with a clear message
 */
import { clampTimerMs } from '../config/units.js';

export type Decision = 'retry' | 'fail' | 'fatal';

/** Error codes (S3 XML `<Code>`, SDK error names and Node `err.code`) → decision. */
export const ERROR_DECISIONS: Readonly<Record<string, Decision>> = {
  // ours
  DeadlineExceeded: 'retry',
  // S3 server side, transient
  SlowDown: 'retry',
  InternalError: 'retry',
  ServiceUnavailable: 'retry',
  RequestTimeout: 'retry',
  RequestTimeTooSkewed: 'retry',
  OperationAborted: 'retry',
  Throttling: 'retry',
  ThrottlingException: 'retry',
  TooManyRequestsException: 'retry',
  XAmzContentSHA256Mismatch: 'retry',
  BadDigest: 'retry', // body corrupted in transit (Content-MD5 caught it): resend
  InvalidDigest: 'fail',
  // s3x refused to write a key (outside the directory, a directory swapped for a link): it will again
  Refused: 'fail',
  IncompleteBody: 'retry',
  // network (Node / SDK)
  ECONNRESET: 'retry',
  ECONNREFUSED: 'retry',
  ECONNABORTED: 'retry',
  ETIMEDOUT: 'retry',
  EPIPE: 'retry',
  EHOSTUNREACH: 'retry',
  ENETUNREACH: 'retry',
  EAI_AGAIN: 'retry',
  ENOTFOUND: 'fatal',
  EMFILE: 'retry',
  TimeoutError: 'retry',
  RequestTimeoutError: 'retry',
  'socket hang up': 'retry',
  // the whole run is wrong
  NoSuchBucket: 'fatal',
  InvalidAccessKeyId: 'fatal',
  SignatureDoesNotMatch: 'fatal',
  InvalidBucketName: 'fatal',
  AuthorizationHeaderMalformed: 'fatal',
  CredentialsProviderError: 'fatal',
  PermanentRedirect: 'fatal',
  // TLS: the endpoint's certificate is not trusted (no retry can change that; README "Proxies and certificates")
  SELF_SIGNED_CERT_IN_CHAIN: 'fatal',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'fatal',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'fatal',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'fatal',
  UNABLE_TO_GET_ISSUER_CERT: 'fatal',
  CERT_HAS_EXPIRED: 'fatal',
  CERT_NOT_YET_VALID: 'fatal',
  CERT_UNTRUSTED: 'fatal',
  ERR_TLS_CERT_ALTNAME_INVALID: 'fatal',
  // the forward proxy refused the tunnel (endpoints/agents.ts), e.g. 407: wrong proxy credentials
  ProxyRefused: 'fatal',
  HTTP407: 'fatal', // an http endpoint's proxy answering 407 itself (no S3 error body)
  // this object only
  AccessDenied: 'fail',
  NoSuchKey: 'fail',
  NoSuchUpload: 'fail',
  EntityTooLarge: 'fail',
  EntityTooSmall: 'fail',
  InvalidPart: 'fail',
  InvalidPartOrder: 'fail',
  KeyTooLongError: 'fail',
  ENOENT: 'fail',
  EACCES: 'fail',
  EPERM: 'fail',
  EISDIR: 'fail',
  ELOOP: 'fail',
  FileChanged: 'fail',
  ETagMismatch: 'fail', // stored bytes differ from the file's: named, never silently kept
  BodyLengthMismatch: 'fail', // the file grew or shrank while being sent
  ObjectChanged: 'fail', // download: the object's size or ETag changed between listing and GET
  UnexpectedRange: 'fail', // download: a ranged GET answered another range (or the whole object)
  ENOSPC: 'fail', // download: the local disk is full
};

/** HTTP statuses that decide on their own when the code is not in the table. */
function decideByStatus(status: number | undefined): Decision | undefined {
  if (status === undefined) return undefined;
  if (status === 429 || status === 500 || status === 502 || status === 503 || status === 504) return 'retry';
  if (status >= 400 && status < 500) return 'fail';
  if (status >= 500) return 'retry';
  return undefined;
}

/** The fields of an SDK / Node error that classification reads. */
export interface ErrorFacts {
  code: string;
  status?: number;
  retryAfterMs?: number;
  /** the answer's Date header (the server's clock), ms since the epoch */
  serverDateMs?: number;
  message: string;
}

type ErrorLike = {
  name?: unknown; code?: unknown; message?: unknown; Code?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
};

/** Pulls code, HTTP status and Retry-After out of whatever the SDK or Node threw. */
export function errorFacts(err: unknown): ErrorFacts {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  let code =
    (typeof e.Code === 'string' && e.Code) ||
    (typeof e.code === 'string' && e.code) ||
    (typeof e.name === 'string' && e.name !== 'Error' && e.name) ||
    '';
  if (!code && /socket hang up/i.test(message)) code = 'socket hang up';
  if (!code) code = status ? `HTTP${status}` : 'Error';
  const retryAfter = e.$response?.headers?.['retry-after'];
  let retryAfterMs: number | undefined;
  if (retryAfter !== undefined) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) retryAfterMs = Math.max(0, secs * 1000);
    else {
      const at = Date.parse(retryAfter);
      if (Number.isFinite(at)) retryAfterMs = Math.max(0, at - Date.now());
    }
  }
  const date = e.$response?.headers?.date;
  const serverDateMs = date !== undefined ? Date.parse(date) : Number.NaN;
  return {
    code, ...(status !== undefined && { status }), ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(Number.isFinite(serverDateMs) && { serverDateMs }), message,
  };
}

/** The decision for one failed attempt. Unknown errors without an HTTP status are retried. */
export function decide(facts: ErrorFacts): Decision {
  return ERROR_DECISIONS[facts.code] ?? decideByStatus(facts.status) ?? 'retry';
}

/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * sleep = random(0, min(capMs, baseMs × 2^retry)), never less than a server's Retry-After.
 * `retry` is 0 for the wait before the second attempt.
 */
export function backoffMs(retry: number, baseMs: number, capMs: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const jitter = random() * Math.min(capMs, baseMs * 2 ** retry);
  return clampTimerMs(retryAfterMs !== undefined ? Math.max(jitter, Math.min(retryAfterMs, capMs)) : jitter);
}


/**
 * Answers that say "send slower" (S3 SlowDown and ServiceUnavailable, which S3 documents as
 * "reduce your request rate"; MinIO SlowDownRead/Write; AWS throttling codes; any 429). The
 * server answered: they speak of our rate, not of its health, so they lower the endpoint's
 * in-flight limit (endpoints/concurrency-limit.ts) and never feed its breaker. A bare 503
 * without an S3 code (a proxy with no backend) is a health failure.
 */
const THROTTLE_CODES: ReadonlySet<string> = new Set([
  'SlowDown', 'ServiceUnavailable', 'SlowDownRead', 'SlowDownWrite', 'Throttling', 'ThrottlingException', 'ThrottledException',
  'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException',
  'BandwidthLimitExceeded', 'ProvisionedThroughputExceededException',
]);

export function isThrottle(facts: ErrorFacts): boolean {
  return THROTTLE_CODES.has(facts.code) || facts.status === 429;
}

/** Failures with no answer from the endpoint: it is down, unreachable or stalled. */
const HEALTH_CODES: ReadonlySet<string> = new Set([
  'DeadlineExceeded', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EAI_AGAIN', 'EPROTO', 'TimeoutError', 'RequestTimeoutError', 'socket hang up',
]);

/**
 * Does this failure speak of the endpoint's health (and so feed its breaker)? Only: no answer
 * (connection refused/reset, our deadline) or a 5xx other than throttling. Not: throttling,
 * 4xx about one request (BadDigest, RequestTimeTooSkewed, RequestTimeout), local errors.
 */
export function feedsBreaker(facts: ErrorFacts): boolean {
  if (isThrottle(facts)) return false;
  if (facts.status !== undefined) return facts.status >= 500;
  return HEALTH_CODES.has(facts.code);
}

/** The server refused the request's signing time (the client's clock is off). */
export function isClockSkew(facts: ErrorFacts): boolean {
  return facts.code === 'RequestTimeTooSkewed' || facts.code === 'RequestExpired' || facts.code === 'RequestInTheFuture';
}
