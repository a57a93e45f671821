/**
 * Object headers (src/config/object-headers.ts) as S3 takes them: HTTP headers for the signed
 * path (./signed-http.ts, ./signed-control.ts) and SDK input fields (./sdk-store.ts). The SSE-C
 * key leaves its SseCustomerKey only here, into a request header.
 */
import type { ObjectHeaders, SseCustomerKey } from '../config/object-headers.js';

/** What a PutObject or CreateMultipartUpload sets beyond Content-Type and metadata (passed apart). */
export type StoredHeaders = Omit<ObjectHeaders, 'contentType' | 'metadata'>;

/** SSE-C's three headers, on every request that writes or reads an SSE-C object (S3 requires them). */
export function addSseCHeaders(headers: Record<string, string>, key: SseCustomerKey | undefined): void {
  if (key === undefined) return;
  headers['x-amz-server-side-encryption-customer-algorithm'] = key.algorithm;
  headers['x-amz-server-side-encryption-customer-key'] = key.revealBase64();
  headers['x-amz-server-side-encryption-customer-key-md5'] = key.keyMd5Base64;
}

/** The headers of a new object (PutObject, CreateMultipartUpload) onto `headers`. */
export function addStoredHeaders(headers: Record<string, string>, h: StoredHeaders | undefined): void {
  if (h === undefined) return;
  if (h.cacheControl !== undefined) headers['cache-control'] = h.cacheControl;
  if (h.contentEncoding !== undefined) headers['content-encoding'] = h.contentEncoding;
  if (h.contentDisposition !== undefined) headers['content-disposition'] = h.contentDisposition;
  if (h.expires !== undefined) headers.expires = h.expires;
  if (h.storageClass !== undefined) headers['x-amz-storage-class'] = h.storageClass;
  if (h.acl !== undefined) headers['x-amz-acl'] = h.acl;
  if (h.sse !== undefined) headers['x-amz-server-side-encryption'] = h.sse;
  if (h.sseKmsKeyId !== undefined) headers['x-amz-server-side-encryption-aws-kms-key-id'] = h.sseKmsKeyId;
  addSseCHeaders(headers, h.sseC);
}

/** SSE-C as the SDK's input fields (the key base64, with its MD5: the SDK sends them as given). */
export function sdkSseC(key: SseCustomerKey | undefined): { SSECustomerAlgorithm?: string; SSECustomerKey?: string; SSECustomerKeyMD5?: string } {
  if (key === undefined) return {};
  return { SSECustomerAlgorithm: key.algorithm, SSECustomerKey: key.revealBase64(), SSECustomerKeyMD5: key.keyMd5Base64 };
}

/** A new object's headers as the SDK's PutObject / CreateMultipartUpload input fields (the SDK types check the enums). */
export function sdkStoredHeaders(h: StoredHeaders | undefined): Record<string, unknown> {
  if (h === undefined) return {};
  const out: Record<string, unknown> = {
    CacheControl: h.cacheControl, ContentEncoding: h.contentEncoding, ContentDisposition: h.contentDisposition,
    Expires: h.expires !== undefined ? new Date(h.expires) : undefined, StorageClass: h.storageClass, ACL: h.acl,
    ServerSideEncryption: h.sse, SSEKMSKeyId: h.sseKmsKeyId, ...sdkSseC(h.sseC),
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
