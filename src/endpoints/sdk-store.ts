/**
 * The ObjectStore calls through the SDK's S3Client: for AWS itself and endpoints without a
 * region (./store.ts chooses). Only ./store.ts loads this module, and only on first use, so
 * commands against a custom endpoint never import @aws-sdk/client-s3 (issue 12: start-up).
 */
import crypto from 'node:crypto';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  DeleteObjectsCommand, GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, ListPartsCommand, PutObjectCommand, UploadPartCommand, type PutObjectCommandInput, type S3Client,
} from '@aws-sdk/client-s3';
import type {
  CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CreateMultipartUploadInput, DeleteObjectsOutput, GetObjectInput,
  GetObjectOutput, HeadObjectInput, HeadObjectOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsPage,
  ListPartsInput, ListPartsOutput, ObjectBody, PutObjectInput, PutOutput, StoreBody, UploadPartInput,
} from './object-store.js';
import { bodyStream } from './signed-http.js';
import { sdkSseC, sdkStoredHeaders } from './object-header-wire.js';
import { abortSignalOf, type StopSignal } from './stop-signal.js';

/** `{ name: value }` for the defined values only. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = o[k];
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

export async function putObject(client: S3Client, p: PutObjectInput, signal: StopSignal): Promise<PutOutput> {
  const body = Buffer.isBuffer(p.body) ? p.body : bodyStream(p.body);
  const out = await client.send(new PutObjectCommand({
    Bucket: p.bucket, Key: p.key, Body: body as PutObjectCommandInput['Body'], ContentLength: p.contentLength, ContentType: p.contentType, ContentMD5: p.contentMd5, Metadata: p.metadata,
    ...sdkStoredHeaders(p.headers),
  }), { abortSignal: abortSignalOf(signal) }).finally(() => destroyStream(body));
  return { etag: out.ETag, ...defined({ sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm }) };
}

export async function uploadPart(client: S3Client, p: UploadPartInput, signal: StopSignal): Promise<PutOutput> {
  const body = Buffer.isBuffer(p.body) ? p.body : bodyStream(p.body);
  const out = await client.send(new UploadPartCommand({
    Bucket: p.bucket, Key: p.key, UploadId: p.uploadId, PartNumber: p.partNumber, Body: body as PutObjectCommandInput['Body'], ContentLength: p.contentLength, ContentMD5: p.contentMd5,
    ...sdkSseC(p.sseC),
  }), { abortSignal: abortSignalOf(signal) }).finally(() => destroyStream(body));
  return { etag: out.ETag, ...defined({ sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm }) };
}

export async function getObject(client: S3Client, p: GetObjectInput, signal: StopSignal): Promise<GetObjectOutput> {
  const { bucket, key, range } = p;
  const out = await client.send(new GetObjectCommand({
    Bucket: bucket, Key: key, ...(range && { Range: `bytes=${range.start}-${range.end}` }), ...sdkSseC(p.sseC),
  }), { abortSignal: abortSignalOf(signal) });
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

export async function headObject(client: S3Client, p: HeadObjectInput, signal: StopSignal): Promise<HeadObjectOutput> {
  const out = await client.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.key, ...sdkSseC(p.sseC) }), { abortSignal: abortSignalOf(signal) });
  return defined({
    etag: out.ETag, contentLength: out.ContentLength, metadata: out.Metadata,
    sse: out.ServerSideEncryption, sseCustomerAlgorithm: out.SSECustomerAlgorithm,
  });
}

export function listObjectsV2(client: S3Client, p: ListObjectsInput, signal: StopSignal): Promise<ListObjectsPage> {
  return client.send(new ListObjectsV2Command({
    Bucket: p.bucket,
    ...(p.prefix !== undefined && p.prefix !== '' && { Prefix: p.prefix }),
    ...(p.delimiter !== undefined && { Delimiter: p.delimiter }),
    ...(p.maxKeys !== undefined && { MaxKeys: p.maxKeys }),
    ...(p.continuationToken !== undefined && { ContinuationToken: p.continuationToken }),
  }), { abortSignal: abortSignalOf(signal) });
}

export async function deleteObjects(client: S3Client, p: { bucket: string; keys: readonly string[] }, signal: StopSignal): Promise<DeleteObjectsOutput> {
  const cmd = new DeleteObjectsCommand({ Bucket: p.bucket, Delete: { Objects: p.keys.map((Key) => ({ Key })), Quiet: true } });
  withContentMd5(cmd);
  const out = await client.send(cmd, { abortSignal: abortSignalOf(signal) });
  return { errors: (out.Errors ?? []).map((e) => defined({ key: e.Key, code: e.Code, message: e.Message })) };
}

export async function deleteObject(client: S3Client, p: { bucket: string; key: string }, signal: StopSignal): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: p.bucket, Key: p.key }), { abortSignal: abortSignalOf(signal) });
}

export async function createMultipartUpload(client: S3Client, p: CreateMultipartUploadInput, signal: StopSignal): Promise<{ uploadId: string | undefined }> {
  const out = await client.send(new CreateMultipartUploadCommand({
    Bucket: p.bucket, Key: p.key, ContentType: p.contentType, Metadata: p.metadata, ...sdkStoredHeaders(p.headers),
  }), { abortSignal: abortSignalOf(signal) });
  return { uploadId: out.UploadId };
}

export async function completeMultipartUpload(client: S3Client, p: CompleteMultipartUploadInput, signal: StopSignal): Promise<CompleteMultipartUploadOutput> {
  const out = await client.send(new CompleteMultipartUploadCommand({
    Bucket: p.bucket, Key: p.key, UploadId: p.uploadId,
    MultipartUpload: { Parts: p.parts.map((x) => ({ PartNumber: x.partNumber, ETag: x.etag })) }, ...sdkSseC(p.sseC),
  }), { abortSignal: abortSignalOf(signal) });
  return defined({ etag: out.ETag, sse: out.ServerSideEncryption });
}

export async function abortMultipartUpload(client: S3Client, p: { bucket: string; key: string; uploadId: string }, signal: StopSignal): Promise<void> {
  await client.send(new AbortMultipartUploadCommand({ Bucket: p.bucket, Key: p.key, UploadId: p.uploadId }), { abortSignal: abortSignalOf(signal) });
}

export async function listMultipartUploads(client: S3Client, p: ListMultipartUploadsInput, signal: StopSignal): Promise<ListMultipartUploadsOutput> {
  const out = await client.send(new ListMultipartUploadsCommand({
    Bucket: p.bucket, ...(p.prefix && { Prefix: p.prefix }),
    ...(p.keyMarker !== undefined && { KeyMarker: p.keyMarker }), ...(p.uploadIdMarker !== undefined && { UploadIdMarker: p.uploadIdMarker }),
  }), { abortSignal: abortSignalOf(signal) });
  return {
    uploads: (out.Uploads ?? []).map((u) => defined({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated })),
    isTruncated: out.IsTruncated === true,
    ...defined({ nextKeyMarker: out.NextKeyMarker, nextUploadIdMarker: out.NextUploadIdMarker }),
  };
}

export async function listParts(client: S3Client, p: ListPartsInput, signal: StopSignal): Promise<ListPartsOutput> {
  const out = await client.send(new ListPartsCommand({
    Bucket: p.bucket, Key: p.key, UploadId: p.uploadId, ...(p.partNumberMarker !== undefined && { PartNumberMarker: String(p.partNumberMarker) }),
  }), { abortSignal: abortSignalOf(signal) });
  const next = out.NextPartNumberMarker !== undefined ? Number(out.NextPartNumberMarker) : undefined;
  return {
    parts: (out.Parts ?? []).map((x) => defined({ partNumber: x.PartNumber, etag: x.ETag, size: x.Size })),
    isTruncated: out.IsTruncated === true,
    ...defined({ nextPartNumberMarker: next !== undefined && Number.isFinite(next) ? next : undefined }),
  };
}

export async function getBucketVersioning(client: S3Client, p: { bucket: string }, signal: StopSignal): Promise<{ status: string | undefined }> {
  const out = await client.send(new GetBucketVersioningCommand({ Bucket: p.bucket }), { abortSignal: abortSignalOf(signal) });
  return { status: out.Status };
}

export async function listBuckets(client: S3Client, signal: StopSignal): Promise<void> {
  await client.send(new ListBucketsCommand({}), { abortSignal: abortSignalOf(signal) });
}

/** A stream body the SDK was given is closed once the call ends (the file descriptor with it). */
function destroyStream(body: StoreBody | NodeJS.ReadableStream): void {
  if (!Buffer.isBuffer(body)) (body as { destroy?: () => unknown }).destroy?.();
}

/** The SDK's signal guards the request only: the body must fail with the signal's reason too. */
function failingOnAbort(body: ObjectBody, signal: StopSignal): ObjectBody {
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
