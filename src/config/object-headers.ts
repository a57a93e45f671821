/**
 * The headers an upload sets on each object (aws-cli's `s3 cp`/`sync` flags): Content-Type,
 * Cache-Control, Content-Encoding, Content-Disposition, Expires, user metadata, storage class,
 * canned ACL, SSE-S3 / SSE-KMS / SSE-C. Every value is checked here, before anything is sent
 * (one clear line, exit 2); an SSE-C key is held by SseCustomerKey, which never prints it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { inspect } from 'node:util';
import { UsageError } from '../errors.js';

export const STORAGE_CLASSES = [
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR',
] as const;
export const CANNED_ACLS = [
  'private', 'public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control',
] as const;
export const SSE_ALGORITHMS = ['AES256', 'aws:kms'] as const;
/** s3x's own metadata (the file's mtime, read back by sync): a user value may not replace it */
export const RESERVED_METADATA = 's3x-mtime';
/** S3's limit on user metadata: keys and values, UTF-8 bytes, all together */
const MAX_METADATA_BYTES = 2048;

/**
 * A customer key for SSE-C (AES256). The key is a private field: JSON.stringify, pino and
 * util.inspect see only "(hidden)". Only the wire code (src/endpoints/object-header-wire.ts) reads it.
 */
export class SseCustomerKey {
  readonly algorithm = 'AES256';
  readonly #keyBase64: string;
  /** base64 MD5 of the key (not secret: S3 sends it back) */
  readonly keyMd5Base64: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new UsageError(`--sse-c-key must be 32 bytes (AES-256), raw, base64 or fileb://path; got ${key.length} bytes`);
    this.#keyBase64 = key.toString('base64');
    this.keyMd5Base64 = crypto.createHash('md5').update(key).digest('base64');
  }

  /** the key, base64, for the x-amz-server-side-encryption-customer-key header */
  revealBase64(): string { return this.#keyBase64; }
  toJSON(): unknown { return { algorithm: this.algorithm, key: '(hidden)' }; }
  toString(): string { return 'SseCustomerKey(hidden)'; }
  [inspect.custom](): string { return this.toString(); }
}

/** What an object is stored with, beyond its bytes. Expires is an HTTP date (IMF-fixdate). */
export interface ObjectHeaders {
  /** overrides the guess from the file extension (src/ops/content-type.ts) */
  contentType?: string;
  cacheControl?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  expires?: string;
  /** user metadata (x-amz-meta-*), lower-case keys; s3x-mtime is added by s3x */
  metadata?: Record<string, string>;
  storageClass?: string;
  acl?: string;
  sse?: string;
  sseKmsKeyId?: string;
  sseC?: SseCustomerKey;
}

/** A header value S3 and Node take as it is: printable US-ASCII (and tabs), no line breaks. */
function headerValue(v: string, what: string): string {
  if (v === '' || !/^[\x20-\x7e\t]+$/.test(v)) throw new UsageError(`${what} must be non-empty printable ASCII (no line breaks), got ${JSON.stringify(v)}`);
  return v;
}

/**
 * `--expires`: an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`) or an ISO 8601 date or time
 * (`2026-10-21`, `2026-10-21T07:28:00Z`); sent as an HTTP date.
 */
export function parseExpires(text: string, what = '--expires'): string {
  const http = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text);
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
  const ms = http || iso ? Date.parse(iso && !iso[4] ? `${text}T00:00:00Z` : text) : NaN;
  const d = new Date(ms);
  // Date.parse rolls 2026-02-30 over to March: the day must read back as written
  const day = iso ? new Date(Date.UTC(Number(iso[1]), Number(iso[2]) - 1, Number(iso[3]))) : undefined;
  const dayKept = !Number.isNaN(ms) && (day ? day.toISOString().slice(0, 10) === `${iso![1]}-${iso![2]}-${iso![3]}` : d.toUTCString() === text);
  if (!dayKept) {
    throw new UsageError(`${what} must be an HTTP date (Wed, 21 Oct 2026 07:28:00 GMT) or an ISO 8601 date (2026-10-21, 2026-10-21T07:28:00Z), got ${JSON.stringify(text)}`);
  }
  return d.toUTCString();
}

/** RFC 9110 token characters: what a header name (x-amz-meta-<key>) may hold. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** One metadata entry checked; the key lower-cased (S3 stores it so). */
function metadataEntry(key: string, value: string, what: string): [string, string] {
  if (!TOKEN.test(key)) throw new UsageError(`${what}: key ${JSON.stringify(key)} is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
  const lower = key.toLowerCase();
  if (lower === RESERVED_METADATA) throw new UsageError(`${what}: key '${RESERVED_METADATA}' is s3x's own (the file's mtime, read by sync); choose another name`);
  if (!/^[\x20-\x7e]*$/.test(value)) throw new UsageError(`${what}: the value of '${lower}' must be printable ASCII, got ${JSON.stringify(value)}`);
  return [lower, value];
}

/** Checked metadata: valid names, no key twice (case-insensitive), within S3's 2 KB with s3x-mtime. */
export function checkMetadata(entries: Array<[string, string]>, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = RESERVED_METADATA.length + 13;
  for (const [k, v] of entries) {
    const [key, value] = metadataEntry(k, v, what);
    if (key in out) throw new UsageError(`${what}: key '${key}' is given twice (keys are case-insensitive)`);
    out[key] = value;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_METADATA_BYTES) throw new UsageError(`${what}: user metadata is ${bytes} bytes with s3x's own; S3 takes at most ${MAX_METADATA_BYTES}`);
  return out;
}

/**
 * `--metadata`, repeatable, as aws-cli takes it: `k=v`, `k=v,k2=v2`, or JSON `{"k":"v"}`.
 * (A value holding a comma needs the JSON form.)
 */
export function parseMetadataFlags(values: readonly string[]): Record<string, string> {
  const entries: Array<[string, string]> = [];
  for (const text of values) {
    if (text.trimStart().startsWith('{')) {
      let obj: unknown;
      try { obj = JSON.parse(text); } catch { throw new UsageError(`--metadata ${JSON.stringify(text)}: not valid JSON`); }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(`--metadata ${JSON.stringify(text)}: must be a JSON object of strings`);
      for (const [k, v] of Object.entries(obj)) {
        if (typeof v !== 'string') throw new UsageError(`--metadata: the value of ${JSON.stringify(k)} must be a string`);
        entries.push([k, v]);
      }
      continue;
    }
    for (const pair of text.split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`--metadata ${JSON.stringify(text)}: expected key=value (or k=v,k2=v2, or JSON {"k":"v"})`);
      entries.push([pair.slice(0, eq), pair.slice(eq + 1)]);
    }
  }
  return checkMetadata(entries, '--metadata');
}

/**
 * `--sse-c-key`, as aws-cli takes it: the key as given (32 bytes), its base64 (44 characters),
 * or `fileb://path` (the file's 32 raw bytes). Errors never show the key.
 */
export function sseCustomerKeyFrom(text: string): SseCustomerKey {
  if (text.startsWith('fileb://')) {
    const file = text.slice('fileb://'.length);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new UsageError(`--sse-c-key fileb://${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return new SseCustomerKey(bytes);
  }
  const raw = Buffer.from(text, 'utf8');
  if (raw.length === 32) return new SseCustomerKey(raw);
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return new SseCustomerKey(Buffer.from(text, 'base64'));
  return new SseCustomerKey(raw); // throws: the length is wrong (the message gives the length only)
}

function oneOf(v: string, what: string, allowed: readonly string[]): string {
  if (!allowed.includes(v)) throw new UsageError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks every field (as given by the library, the flags or a config rule); returns them normalized. */
export function checkObjectHeaders(h: ObjectHeaders, where = ''): ObjectHeaders {
  const name = (flag: string, field: string): string => (where ? `${where}.${field}` : flag);
  const out: ObjectHeaders = {};
  if (h.contentType !== undefined) out.contentType = headerValue(h.contentType, name('--content-type', 'contentType'));
  if (h.cacheControl !== undefined) out.cacheControl = headerValue(h.cacheControl, name('--cache-control', 'cacheControl'));
  if (h.contentEncoding !== undefined) out.contentEncoding = headerValue(h.contentEncoding, name('--content-encoding', 'contentEncoding'));
  if (h.contentDisposition !== undefined) out.contentDisposition = headerValue(h.contentDisposition, name('--content-disposition', 'contentDisposition'));
  if (h.expires !== undefined) out.expires = parseExpires(h.expires, name('--expires', 'expires'));
  if (h.metadata !== undefined) out.metadata = checkMetadata(Object.entries(h.metadata), name('--metadata', 'metadata'));
  if (h.storageClass !== undefined) out.storageClass = oneOf(h.storageClass, name('--storage-class', 'storageClass'), STORAGE_CLASSES);
  if (h.acl !== undefined) out.acl = oneOf(h.acl, name('--acl', 'acl'), CANNED_ACLS);
  if (h.sse !== undefined) out.sse = oneOf(h.sse, name('--sse', 'sse'), SSE_ALGORITHMS);
  if (h.sseKmsKeyId !== undefined) {
    if (out.sse !== 'aws:kms') throw new UsageError(`${name('--sse-kms-key-id', 'sseKmsKeyId')} needs ${where ? 'sse' : '--sse'} aws:kms`);
    out.sseKmsKeyId = headerValue(h.sseKmsKeyId, name('--sse-kms-key-id', 'sseKmsKeyId'));
  }
  if (h.sseC !== undefined) {
    if (!(h.sseC instanceof SseCustomerKey)) throw new UsageError('sseC must be an SseCustomerKey (sseCustomerKeyFrom)');
    if (out.sse !== undefined) throw new UsageError('--sse and --sse-c cannot be used together: an object has one kind of server-side encryption');
    out.sseC = h.sseC;
  }
  return out;
}
