/**
 * The S3 calls s3x makes, as one small interface per endpoint: plain inputs, an AbortSignal,
 * plain results. Callers (the engine's `send` callbacks in the commands) never learn which
 * client served a call.
 *
 * S3Store, the one implementation, chooses as s3x always has: PutObject, UploadPart and GetObject
 * go over the signed data path (./signed-http.ts) when the endpoint has one (a custom URL with a
 * known region), everything else and every call to AWS itself through the SDK client. Errors
 * pass through untouched (the signed path's are shaped like the SDK's), so the engine's
 * classifier (engine/retry-policy.ts) reads them as before.
 */
import crypto from 'node:crypto';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, PutObjectCommand, UploadPartCommand, type ListObjectsV2CommandOutput, type PutObjectCommandInput, type S3Client,
} from '@aws-sdk/client-s3';
import type { SignedBody, SignedHttpClient } from './signed-http.js';

/** A request body: bytes, or a factory called once per call for a fresh stream of exactly contentLength bytes. */
export type StoreBody = SignedBody;

export interface PutObjectInput {
  bucket: string;
  key: string;
  body: StoreBody;
  contentLength: number;
  contentType?: string;
  /** base64 MD5 of the body */
  contentMd5?: string;
  /** user metadata (x-amz-meta-*) */
  metadata?: Record<string, string>;
}

export interface UploadPartInput {
  bucket: string;
  key: string;
  uploadId: string;
  partNumber: number;
  body: StoreBody;
  contentLength: number;
  /** base64 MD5 of the body */
  contentMd5?: string;
}

/** The encryption headers of an answer: they say whether its ETag can be an MD5. */
export interface Encrypted {
  /** x-amz-server-side-encryption (AES256, aws:kms, aws:kms:dsse) */
  sse?: string;
  /** x-amz-server-side-encryption-customer-algorithm (SSE-C) */
  sseCustomerAlgorithm?: string;
}

/** What a PutObject or UploadPart answered; the ETag as sent (quotes included). */
export interface PutOutput extends Encrypted {
  etag: string | undefined;
}

export interface GetObjectInput {
  bucket: string;
  key: string;
  /** inclusive byte range (bytes=start-end); whole object when absent */
  range?: { start: number; end: number } | undefined;
}

/** A response body: the caller consumes or destroys it; the call's signal, once aborted, fails it with its reason. */
export type ObjectBody = AsyncIterable<Uint8Array | string> & { destroy(err?: Error): unknown };

export interface GetObjectOutput extends Encrypted {
  body: ObjectBody;
  contentLength?: number;
  contentRange?: string;
  etag?: string;
  lastModified?: Date;
}

export interface HeadObjectOutput extends Encrypted {
  etag?: string;
  contentLength?: number;
  metadata?: Record<string, string>;
}

export interface ListObjectsInput {
  bucket: string;
  /** sent only when not empty */
  prefix?: string | undefined;
  delimiter?: string | undefined;
  maxKeys?: number | undefined;
  continuationToken?: string | undefined;
}

/** One ListObjectsV2 page, in S3's own field names (ops/list.ts `pages` reads them). */
export type ListObjectsPage = Pick<ListObjectsV2CommandOutput, 'Contents' | 'CommonPrefixes' | 'IsTruncated' | 'NextContinuationToken'>;

/** Keys a Quiet DeleteObjects could not delete, with S3's per-key error. */
export interface DeleteObjectsOutput {
  errors: Array<{ key?: string; code?: string; message?: string }>;
}

export interface CreateMultipartUploadInput {
  bucket: string;
  key: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface UploadedPart { partNumber: number; etag: string }

export interface CompleteMultipartUploadInput {
  bucket: string;
  key: string;
  uploadId: string;
  parts: UploadedPart[];
}

export interface CompleteMultipartUploadOutput {
  etag?: string;
  /** x-amz-server-side-encryption */
  sse?: string;
}

export interface ListMultipartUploadsInput {
  bucket: string;
  /** sent only when not empty */
  prefix?: string | undefined;
  keyMarker?: string | undefined;
  uploadIdMarker?: string | undefined;
}

export interface ListMultipartUploadsOutput {
  uploads: Array<{ key?: string; uploadId?: string; initiated?: Date }>;
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

/** One endpoint's S3 calls. Each honours `signal`: an aborted call rejects (a body in flight fails). */
export interface ObjectStore {
  putObject(p: PutObjectInput, signal: AbortSignal): Promise<PutOutput>;
  uploadPart(p: UploadPartInput, signal: AbortSignal): Promise<PutOutput>;
  getObject(p: GetObjectInput, signal: AbortSignal): Promise<GetObjectOutput>;
  headObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<HeadObjectOutput>;
  /** one page */
  listObjectsV2(p: ListObjectsInput, signal: AbortSignal): Promise<ListObjectsPage>;
  /** one Quiet batch (≤ 1,000 keys), sent with Content-MD5 */
  deleteObjects(p: { bucket: string; keys: readonly string[] }, signal: AbortSignal): Promise<DeleteObjectsOutput>;
  deleteObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<void>;
  createMultipartUpload(p: CreateMultipartUploadInput, signal: AbortSignal): Promise<{ uploadId: string | undefined }>;
  completeMultipartUpload(p: CompleteMultipartUploadInput, signal: AbortSignal): Promise<CompleteMultipartUploadOutput>;
  abortMultipartUpload(p: { bucket: string; key: string; uploadId: string }, signal: AbortSignal): Promise<void>;
  /** one page */
  listMultipartUploads(p: ListMultipartUploadsInput, signal: AbortSignal): Promise<ListMultipartUploadsOutput>;
  /** `endpoints check`: are the credentials accepted */
  listBuckets(signal: AbortSignal): Promise<void>;
}

/** `{ name: value }` for the defined values only. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = o[k];
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** An endpoint's two clients: the SDK's, and the signed data path where the endpoint has one. */
export interface S3Clients {
  readonly client: S3Client;
  readonly http: SignedHttpClient | undefined;
}

/** The endpoint's two clients behind one ObjectStore: the signed data path where there is one, the SDK otherwise. */
export class S3Store implements ObjectStore {
  /** `clients` is read at every call, not kept: unit tests swap an endpoint's client for a fake (test/unit/list-tokens.test.ts) */
  constructor(private readonly clients: S3Clients) {}

  private get client(): S3Client { return this.clients.client; }
  private get http(): SignedHttpClient | undefined { return this.clients.http; }

  async putObject(p: PutObjectInput, signal: AbortSignal): Promise<PutOutput> {
    if (this.http) {
      const r = await this.http.putObject(p, signal);
      return { etag: r.etag, ...defined({ sse: r.sse, sseCustomerAlgorithm: r.sseCustomerAlgorithm }) };
    }
    const body = typeof p.body === 'function' ? p.body() : p.body;
    const out = await this.client.send(new PutObjectCommand({
      Bucket: p.bucket, Key: p.key, Body: body as PutObjectCommandInput['Body'], ContentLength: p.contentLength, ContentType: p.contentType, ContentMD5: p.contentMd5, Metadata: p.metadata,
    }), { abortSignal: signal }).finally(() => destroyStream(body));
    return { etag: out.ETag, ...defined({ sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm }) };
  }

  async uploadPart(p: UploadPartInput, signal: AbortSignal): Promise<PutOutput> {
    if (this.http) {
      const r = await this.http.uploadPart(p, signal);
      return { etag: r.etag, ...defined({ sse: r.sse, sseCustomerAlgorithm: r.sseCustomerAlgorithm }) };
    }
    const body = typeof p.body === 'function' ? p.body() : p.body;
    const out = await this.client.send(new UploadPartCommand({
      Bucket: p.bucket, Key: p.key, UploadId: p.uploadId, PartNumber: p.partNumber, Body: body as PutObjectCommandInput['Body'], ContentLength: p.contentLength, ContentMD5: p.contentMd5,
    }), { abortSignal: signal }).finally(() => destroyStream(body));
    return { etag: out.ETag, ...defined({ sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm }) };
  }

  async getObject(p: GetObjectInput, signal: AbortSignal): Promise<GetObjectOutput> {
    const { bucket, key, range } = p;
    if (this.http) {
      const r = await this.http.getObject({ bucket, key, ...(range && { range }) }, signal);
      const h = r.headers;
      const len = one(h['content-length']);
      const lm = one(h['last-modified']);
      const lastModified = lm !== undefined ? new Date(lm) : undefined;
      return {
        body: r.body,
        ...defined({
          contentLength: len !== undefined ? Number(len) : undefined, contentRange: one(h['content-range']), etag: one(h.etag),
          lastModified: lastModified !== undefined && !Number.isNaN(lastModified.getTime()) ? lastModified : undefined,
          sse: one(h['x-amz-server-side-encryption']), sseCustomerAlgorithm: one(h['x-amz-server-side-encryption-customer-algorithm']),
        }),
      };
    }
    const out = await this.client.send(new GetObjectCommand({
      Bucket: bucket, Key: key, ...(range && { Range: `bytes=${range.start}-${range.end}` }),
    }), { abortSignal: signal });
    const body = out.Body as unknown as ObjectBody | undefined;
    if (!body) throw new Error(`GetObject ${key}: no body`);
    return {
      body: failingOnAbort(body, signal),
      ...defined({
        contentLength: out.ContentLength, contentRange: out.ContentRange, etag: out.ETag, lastModified: out.LastModified,
        sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm,
      }),
    };
  }

  async headObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<HeadObjectOutput> {
    const out = await this.client.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.key }), { abortSignal: signal });
    return defined({
      etag: out.ETag, contentLength: out.ContentLength, metadata: out.Metadata,
      sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm,
    });
  }

  listObjectsV2(p: ListObjectsInput, signal: AbortSignal): Promise<ListObjectsPage> {
    return this.client.send(new ListObjectsV2Command({
      Bucket: p.bucket,
      ...(p.prefix !== undefined && p.prefix !== '' && { Prefix: p.prefix }),
      ...(p.delimiter !== undefined && { Delimiter: p.delimiter }),
      ...(p.maxKeys !== undefined && { MaxKeys: p.maxKeys }),
      ...(p.continuationToken !== undefined && { ContinuationToken: p.continuationToken }),
    }), { abortSignal: signal });
  }

  async deleteObjects(p: { bucket: string; keys: readonly string[] }, signal: AbortSignal): Promise<DeleteObjectsOutput> {
    const cmd = new DeleteObjectsCommand({ Bucket: p.bucket, Delete: { Objects: p.keys.map((Key) => ({ Key })), Quiet: true } });
    withContentMd5(cmd);
    const out = await this.client.send(cmd, { abortSignal: signal });
    return { errors: (out.Errors ?? []).map((e) => defined({ key: e.Key, code: e.Code, message: e.Message })) };
  }

  async deleteObject(p: { bucket: string; key: string }, signal: AbortSignal): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: p.bucket, Key: p.key }), { abortSignal: signal });
  }

  async createMultipartUpload(p: CreateMultipartUploadInput, signal: AbortSignal): Promise<{ uploadId: string | undefined }> {
    const out = await this.client.send(new CreateMultipartUploadCommand({
      Bucket: p.bucket, Key: p.key, ContentType: p.contentType, Metadata: p.metadata,
    }), { abortSignal: signal });
    return { uploadId: out.UploadId };
  }

  async completeMultipartUpload(p: CompleteMultipartUploadInput, signal: AbortSignal): Promise<CompleteMultipartUploadOutput> {
    const out = await this.client.send(new CompleteMultipartUploadCommand({
      Bucket: p.bucket, Key: p.key, UploadId: p.uploadId,
      MultipartUpload: { Parts: p.parts.map((x) => ({ PartNumber: x.partNumber, ETag: x.etag })) },
    }), { abortSignal: signal });
    return defined({ etag: out.ETag, sse: out.ServerSideEncryption });
  }

  async abortMultipartUpload(p: { bucket: string; key: string; uploadId: string }, signal: AbortSignal): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: p.bucket, Key: p.key, UploadId: p.uploadId }), { abortSignal: signal });
  }

  async listMultipartUploads(p: ListMultipartUploadsInput, signal: AbortSignal): Promise<ListMultipartUploadsOutput> {
    const out = await this.client.send(new ListMultipartUploadsCommand({
      Bucket: p.bucket, ...(p.prefix && { Prefix: p.prefix }),
      ...(p.keyMarker !== undefined && { KeyMarker: p.keyMarker }), ...(p.uploadIdMarker !== undefined && { UploadIdMarker: p.uploadIdMarker }),
    }), { abortSignal: signal });
    return {
      uploads: (out.Uploads ?? []).map((u) => defined({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated })),
      isTruncated: out.IsTruncated === true,
      ...defined({ nextKeyMarker: out.NextKeyMarker, nextUploadIdMarker: out.NextUploadIdMarker }),
    };
  }

  async listBuckets(signal: AbortSignal): Promise<void> {
    await this.client.send(new ListBucketsCommand({}), { abortSignal: signal });
  }
}

/** A stream body the SDK was given is closed once the call ends (the file descriptor with it). */
function destroyStream(body: StoreBody | NodeJS.ReadableStream): void {
  if (!Buffer.isBuffer(body)) (body as { destroy?: () => unknown }).destroy?.();
}

/** The SDK's signal guards the request only: the body must fail with the signal's reason too. */
function failingOnAbort(body: ObjectBody, signal: AbortSignal): ObjectBody {
  const onAbort = (): void => { body.destroy(signal.reason as Error); };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* body;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    destroy: (err?: Error) => { signal.removeEventListener('abort', onAbort); return body.destroy(err); },
  };
}

/**
 * Adds Content-MD5 to a DeleteObjects request. S3 requires Content-MD5 or an x-amz-checksum-*
 * header on DeleteObjects; SDK ≥ 3.729 sends only a CRC32 checksum, which some S3-compatible
 * servers do not accept in its place. Ceph RGW 16 needs neither and checks neither (measured);
 * sending both is accepted everywhere. The MD5 of a 1,000-key body (~60 KB) costs ~0.1 ms.
 */
export function withContentMd5(cmd: DeleteObjectsCommand): DeleteObjectsCommand {
  cmd.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers?: Record<string, string>; body?: unknown };
      if (req.headers && (typeof req.body === 'string' || req.body instanceof Uint8Array)) {
        req.headers['content-md5'] = crypto.createHash('md5').update(req.body).digest('base64');
      }
      return next(args);
    },
    { step: 'build', name: 's3xContentMd5', override: true },
  );
  return cmd;
}
