/**
 * The control-plane calls (List, Delete, Head, multipart Create/Complete/Abort, ListBuckets)
 * over the signed path (./signed-http.ts `call`), with the same plain results the SDK path of
 * ./store.ts gives. Why: `s3x ls` and `delete-prefix` against a custom endpoint then never load
 * @aws-sdk/client-s3 (~0.2 s of CPU to import, issue 12), and each call skips the SDK's
 * middleware stack.
 *
 * Wire format, as the SDK sends it: ListObjectsV2 without EncodingType (keys come back as XML
 * text); DeleteObjects Quiet with Content-MD5; Complete's part list in the SDK's XML. Errors are
 * the signed path's SDK-shaped S3HttpError, also for an <Error> inside a 200 answer (Complete
 * and DeleteObjects may answer so), so engine/retry-policy.ts classifies them as before.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { boolOf, childrenNamed, dateOf, escapeXmlText, numberOf, parseXml, textOf, type XmlElement } from './s3-xml.js';
import { addSseCHeaders, addStoredHeaders, type StoredHeaders } from './object-header-wire.js';
import { toS3Error, type SignedAnswer, type SignedHttpClient } from './signed-http.js';
import type {
  CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CreateMultipartUploadInput, DeleteObjectsOutput, HeadObjectInput, HeadObjectOutput,
  ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsPage, ListPartsInput, ListPartsOutput,
} from './object-store.js';
import type { StopSignal } from './stop-signal.js';

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `{ name: value }` for the defined values only. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = o[k];
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * The root element of a 2xx answer. As the SDK does (middleware-sdk-s3 throw-200-exceptions):
 * an <Error> document answered with 200 is that error with status 503, and an empty body where
 * a document must be (`emptyIsError`: Complete) an InternalError with status 503.
 */
function rootOf(a: SignedAnswer, emptyIsError = false): XmlElement {
  if (emptyIsError && a.body.length === 0) {
    throw Object.assign(new Error('S3 aborted request'), { name: 'InternalError', $metadata: { httpStatusCode: 503 } });
  }
  const root = parseXml(a.body);
  if (root.name === 'Error') throw toS3Error(503, a.headers, a.body);
  return root;
}

/** S3's user metadata headers (x-amz-meta-*), by lower-cased name, as the SDK gives them. */
function metadataOf(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    if (name.startsWith('x-amz-meta-')) out[name.slice(11)] = one(headers[name]) ?? '';
  }
  return out;
}

/** x-amz-meta-*, content-type and the other headers of a new object. */
function objectHeaders(contentType: string | undefined, metadata: Record<string, string> | undefined, stored: StoredHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (metadata !== undefined) for (const name of Object.keys(metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = metadata[name]!;
  addStoredHeaders(headers, stored);
  return headers;
}

export async function headObject(http: SignedHttpClient, p: HeadObjectInput, signal: StopSignal): Promise<HeadObjectOutput> {
  const headers: Record<string, string> = {};
  addSseCHeaders(headers, p.sseC);
  const { headers: h } = await http.call({ method: 'HEAD', bucket: p.bucket, key: p.key, headers }, signal);
  const len = one(h['content-length']);
  return defined({
    etag: one(h.etag), contentLength: len !== undefined ? Number(len) : undefined, metadata: metadataOf(h),
    sse: one(h['x-amz-server-side-encryption']), sseCustomerAlgorithm: one(h['x-amz-server-side-encryption-customer-algorithm']),
  });
}

/** Parses a ListObjectsV2 answer (exported for unit tests). */
export function parseListObjectsV2(body: string): ListObjectsPage {
  const root = parseXml(body);
  return listPageOf(root);
}

function listPageOf(root: XmlElement): ListObjectsPage {
  const contents = childrenNamed(root, 'Contents').map((c) => defined({
    Key: textOf(c, 'Key'), Size: numberOf(c, 'Size'), ETag: textOf(c, 'ETag'),
    LastModified: dateOf(c, 'LastModified'), StorageClass: textOf(c, 'StorageClass'),
  }));
  const prefixes = childrenNamed(root, 'CommonPrefixes').map((c) => defined({ Prefix: textOf(c, 'Prefix') }));
  return {
    Contents: contents, CommonPrefixes: prefixes,
    ...defined({ IsTruncated: boolOf(root, 'IsTruncated'), NextContinuationToken: textOf(root, 'NextContinuationToken') }),
  };
}

export async function listObjectsV2(http: SignedHttpClient, p: ListObjectsInput, signal: StopSignal): Promise<ListObjectsPage> {
  const query: Record<string, string> = { 'list-type': '2' };
  if (p.continuationToken !== undefined) query['continuation-token'] = p.continuationToken;
  if (p.delimiter !== undefined) query.delimiter = p.delimiter;
  if (p.maxKeys !== undefined) query['max-keys'] = String(p.maxKeys);
  if (p.prefix !== undefined && p.prefix !== '') query.prefix = p.prefix;
  const a = await http.call({ method: 'GET', bucket: p.bucket, key: '', query }, signal);
  return listPageOf(rootOf(a));
}

/** The Quiet DeleteObjects document for `keys` (exported for unit tests). */
export function deleteObjectsXml(keys: readonly string[]): string {
  let xml = '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
  for (const key of keys) xml += `<Object><Key>${escapeXmlText(key)}</Key></Object>`;
  return `${xml}<Quiet>true</Quiet></Delete>`;
}

/** Parses a DeleteObjects answer: the keys not deleted, with their errors (exported for unit tests). */
export function parseDeleteResult(body: string): DeleteObjectsOutput {
  return { errors: deleteErrorsOf(parseXml(body)) };
}

function deleteErrorsOf(root: XmlElement): DeleteObjectsOutput['errors'] {
  return childrenNamed(root, 'Error').map((e) => defined({ key: textOf(e, 'Key'), code: textOf(e, 'Code'), message: textOf(e, 'Message') }));
}

/** One Quiet batch; Content-MD5 always (S3 requires it or a checksum; see store.ts withContentMd5). */
export async function deleteObjects(http: SignedHttpClient, p: { bucket: string; keys: readonly string[] }, signal: StopSignal): Promise<DeleteObjectsOutput> {
  const body = Buffer.from(deleteObjectsXml(p.keys), 'utf8');
  const headers = { 'content-type': 'application/xml', 'content-md5': crypto.createHash('md5').update(body).digest('base64') };
  const a = await http.call({ method: 'POST', bucket: p.bucket, key: '', query: { delete: '' }, headers, body }, signal);
  // a Quiet answer may be empty
  if (a.body.trim() === '') return { errors: [] };
  return { errors: deleteErrorsOf(rootOf(a)) };
}

export async function deleteObject(http: SignedHttpClient, p: { bucket: string; key: string }, signal: StopSignal): Promise<void> {
  await http.call({ method: 'DELETE', bucket: p.bucket, key: p.key }, signal);
}

export async function createMultipartUpload(http: SignedHttpClient, p: CreateMultipartUploadInput, signal: StopSignal): Promise<{ uploadId: string | undefined }> {
  const a = await http.call({ method: 'POST', bucket: p.bucket, key: p.key, query: { uploads: '' }, headers: objectHeaders(p.contentType, p.metadata, p.headers) }, signal);
  return { uploadId: textOf(rootOf(a), 'UploadId') };
}

/** The CompleteMultipartUpload document (exported for unit tests). */
export function completeXml(parts: CompleteMultipartUploadInput['parts']): string {
  let xml = '<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
  for (const x of parts) xml += `<Part><ETag>${escapeXmlText(x.etag)}</ETag><PartNumber>${x.partNumber}</PartNumber></Part>`;
  return `${xml}</CompleteMultipartUpload>`;
}

export async function completeMultipartUpload(http: SignedHttpClient, p: CompleteMultipartUploadInput, signal: StopSignal): Promise<CompleteMultipartUploadOutput> {
  const body = Buffer.from(completeXml(p.parts), 'utf8');
  const headers: Record<string, string> = { 'content-type': 'application/xml' };
  addSseCHeaders(headers, p.sseC);
  const a = await http.call({ method: 'POST', bucket: p.bucket, key: p.key, query: { uploadId: p.uploadId }, headers, body }, signal);
  const root = rootOf(a, true);
  // Ceph RGW sends an empty <ETag/>: kept as '' (multipart-upload.ts asks HEAD then), as the SDK gives it
  return defined({ etag: textOf(root, 'ETag'), sse: one(a.headers['x-amz-server-side-encryption']) });
}

export async function abortMultipartUpload(http: SignedHttpClient, p: { bucket: string; key: string; uploadId: string }, signal: StopSignal): Promise<void> {
  await http.call({ method: 'DELETE', bucket: p.bucket, key: p.key, query: { uploadId: p.uploadId } }, signal);
}

/** Parses a ListMultipartUploads answer (exported for unit tests). */
export function parseListMultipartUploads(body: string): ListMultipartUploadsOutput {
  return uploadsOf(parseXml(body));
}

function uploadsOf(root: XmlElement): ListMultipartUploadsOutput {
  return {
    uploads: childrenNamed(root, 'Upload').map((u) => defined({ key: textOf(u, 'Key'), uploadId: textOf(u, 'UploadId'), initiated: dateOf(u, 'Initiated') })),
    isTruncated: boolOf(root, 'IsTruncated') === true,
    ...defined({ nextKeyMarker: textOf(root, 'NextKeyMarker'), nextUploadIdMarker: textOf(root, 'NextUploadIdMarker') }),
  };
}

export async function listMultipartUploads(http: SignedHttpClient, p: ListMultipartUploadsInput, signal: StopSignal): Promise<ListMultipartUploadsOutput> {
  const query: Record<string, string> = { uploads: '' };
  if (p.keyMarker !== undefined) query['key-marker'] = p.keyMarker;
  if (p.prefix) query.prefix = p.prefix;
  if (p.uploadIdMarker !== undefined) query['upload-id-marker'] = p.uploadIdMarker;
  const a = await http.call({ method: 'GET', bucket: p.bucket, key: '', query }, signal);
  return uploadsOf(rootOf(a));
}

/** Parses a ListParts answer (exported for unit tests). */
export function parseListParts(body: string): ListPartsOutput {
  return partsOf(parseXml(body));
}

function partsOf(root: XmlElement): ListPartsOutput {
  return {
    parts: childrenNamed(root, 'Part').map((x) => defined({ partNumber: numberOf(x, 'PartNumber'), etag: textOf(x, 'ETag'), size: numberOf(x, 'Size') })),
    isTruncated: boolOf(root, 'IsTruncated') === true,
    ...defined({ nextPartNumberMarker: numberOf(root, 'NextPartNumberMarker') }),
  };
}

export async function listParts(http: SignedHttpClient, p: ListPartsInput, signal: StopSignal): Promise<ListPartsOutput> {
  const query: Record<string, string> = { uploadId: p.uploadId };
  if (p.partNumberMarker !== undefined) query['part-number-marker'] = String(p.partNumberMarker);
  const a = await http.call({ method: 'GET', bucket: p.bucket, key: p.key, query }, signal);
  return partsOf(rootOf(a));
}

/** ListBuckets: GET / on the service (path style: no bucket in the path). */
export async function listBuckets(http: SignedHttpClient, signal: StopSignal): Promise<void> {
  const a = await http.call({ method: 'GET', bucket: '', key: '' }, signal);
  rootOf(a);
}

/** GetBucketVersioning: `<VersioningConfiguration><Status>Enabled</Status>…` (no Status: never enabled). */
export async function getBucketVersioning(http: SignedHttpClient, p: { bucket: string }, signal: StopSignal): Promise<{ status: string | undefined }> {
  const a = await http.call({ method: 'GET', bucket: p.bucket, key: '', query: { versioning: '' } }, signal);
  return { status: textOf(rootOf(a), 'Status') };
}
