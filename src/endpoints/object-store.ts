/**
 * The S3 calls s3x makes, as one small interface per endpoint (ObjectStore): plain inputs, an
 * AbortSignal, plain results. Its implementation is ./store.ts (which re-exports these types);
 * they live apart so the two paths it chooses between (./signed-control.ts, ./sdk-store.ts)
 * can name them without an import cycle.
 */
import type { SseCustomerKey } from '../config/object-headers.js';
import type { StoredHeaders } from './object-header-wire.js';
import type { SignedBody } from './signed-http.js';
import type { StopSignal } from './stop-signal.js';

export type { StoredHeaders } from './object-header-wire.js';

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
  /** Cache-Control, storage class, ACL, encryption… (--cache-control etc.) */
  headers?: StoredHeaders;
  /** called once the whole body is handed to the socket (signed path only; engine/request.ts times the answer from there) */
  onBodySent?: () => void;
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
  /** the upload's SSE-C key: S3 wants it on every part */
  sseC?: SseCustomerKey;
  /** as PutObjectInput's */
  onBodySent?: () => void;
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
  /** the object's SSE-C key (required to read an SSE-C object) */
  sseC?: SseCustomerKey | undefined;
  /** a large body (a streamed object or a ranged part): the store may read it over a socket of its own */
  bulk?: boolean | undefined;
}

/** HeadObject's input: the SSE-C key of an SSE-C object (S3 answers 400 without it). */
export interface HeadObjectInput { bucket: string; key: string; sseC?: SseCustomerKey | undefined }

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

/** One listed object, in S3's own field names. */
export interface ListedContent {
  Key?: string;
  Size?: number;
  ETag?: string;
  LastModified?: Date;
  StorageClass?: string;
}

/** One ListObjectsV2 page, in S3's own field names (ops/list.ts `pages` reads them). */
export interface ListObjectsPage {
  Contents?: ListedContent[];
  CommonPrefixes?: Array<{ Prefix?: string }>;
  IsTruncated?: boolean;
  NextContinuationToken?: string;
}

/** Keys a Quiet DeleteObjects could not delete, with S3's per-key error. */
export interface DeleteObjectsOutput {
  errors: Array<{ key?: string; code?: string; message?: string }>;
}

export interface CreateMultipartUploadInput {
  bucket: string;
  key: string;
  contentType?: string;
  metadata?: Record<string, string>;
  headers?: StoredHeaders;
}

export interface UploadedPart { partNumber: number; etag: string }

export interface CompleteMultipartUploadInput {
  bucket: string;
  key: string;
  uploadId: string;
  parts: UploadedPart[];
  /** the upload's SSE-C key (S3 takes it on Complete) */
  sseC?: SseCustomerKey;
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

export interface ListPartsInput {
  bucket: string;
  key: string;
  uploadId: string;
  /** the page after this part number */
  partNumberMarker?: number | undefined;
}

/** One part of an open multipart upload, as ListParts gives it; the ETag as sent (quotes included). */
export interface ListedPart { partNumber?: number; etag?: string; size?: number }

export interface ListPartsOutput {
  parts: ListedPart[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

/** One endpoint's S3 calls. Each honours `signal`: an aborted call rejects (a body in flight fails). */
export interface ObjectStore {
  putObject(p: PutObjectInput, signal: StopSignal): Promise<PutOutput>;
  uploadPart(p: UploadPartInput, signal: StopSignal): Promise<PutOutput>;
  getObject(p: GetObjectInput, signal: StopSignal): Promise<GetObjectOutput>;
  headObject(p: HeadObjectInput, signal: StopSignal): Promise<HeadObjectOutput>;
  /** one page */
  listObjectsV2(p: ListObjectsInput, signal: StopSignal): Promise<ListObjectsPage>;
  /** one Quiet batch (≤ 1,000 keys), sent with Content-MD5 */
  deleteObjects(p: { bucket: string; keys: readonly string[] }, signal: StopSignal): Promise<DeleteObjectsOutput>;
  deleteObject(p: { bucket: string; key: string }, signal: StopSignal): Promise<void>;
  createMultipartUpload(p: CreateMultipartUploadInput, signal: StopSignal): Promise<{ uploadId: string | undefined }>;
  completeMultipartUpload(p: CompleteMultipartUploadInput, signal: StopSignal): Promise<CompleteMultipartUploadOutput>;
  abortMultipartUpload(p: { bucket: string; key: string; uploadId: string }, signal: StopSignal): Promise<void>;
  /** one page */
  listMultipartUploads(p: ListMultipartUploadsInput, signal: StopSignal): Promise<ListMultipartUploadsOutput>;
  /** one page of an open upload's parts */
  listParts(p: ListPartsInput, signal: StopSignal): Promise<ListPartsOutput>;
  /** `endpoints check`: are the credentials accepted */
  listBuckets(signal: StopSignal): Promise<void>;
  /** the bucket's versioning Status (Enabled, Suspended; undefined: never enabled): hedged writes need it off */
  getBucketVersioning(p: { bucket: string }, signal: StopSignal): Promise<{ status: string | undefined }>;
}
