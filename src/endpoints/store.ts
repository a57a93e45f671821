/**
 * The S3 calls s3x makes, as one small interface per endpoint: plain inputs, an AbortSignal,
 * plain results. Callers (the engine's `send` callbacks in the commands) never learn which
 * client served a call.
 *
 * S3Store, the one implementation, sends every call over the signed path (./signed-http.ts for
 * data, ./signed-control.ts for the rest) when the endpoint has one (a custom URL with a known
 * region), and through the SDK client (./sdk-store.ts, loaded only then) otherwise: AWS itself,
 * or no region. Errors pass through untouched (the signed path's are shaped like the SDK's), so
 * the engine's classifier (engine/retry-policy.ts) reads them the same way.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import * as signed from './signed-control.js';
import type { SignedHttpClient } from './signed-http.js';
import type {
  CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CreateMultipartUploadInput, DeleteObjectsOutput, GetObjectInput,
  GetObjectOutput, HeadObjectInput, HeadObjectOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsPage,
  ListPartsInput, ListPartsOutput, ObjectStore, PutObjectInput, PutOutput, UploadPartInput,
} from './object-store.js';
import type { StopSignal } from './stop-signal.js';

export type * from './object-store.js';

/** `{ name: value }` for the defined values only. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = o[k];
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** An endpoint's two clients: the signed path where the endpoint has one, and the SDK's, made on first use. */
export interface S3Clients {
  readonly http: SignedHttpClient | undefined;
  sdkClient(): Promise<S3Client>;
}

/** The SDK path, loaded on first use: importing @aws-sdk/client-s3 costs ~0.2 s of CPU (issue 12). */
let sdkStore: Promise<typeof import('./sdk-store.js')> | undefined;
async function viaSdk(clients: S3Clients): Promise<{ sdk: typeof import('./sdk-store.js'); client: S3Client }> {
  const [sdk, client] = await Promise.all([sdkStore ??= import('./sdk-store.js'), clients.sdkClient()]);
  return { sdk, client };
}

/** The endpoint's clients behind one ObjectStore: the signed path where there is one, the SDK otherwise. */
export class S3Store implements ObjectStore {
  /** `clients` is read at every call, not kept: unit tests swap an endpoint's clients for fakes */
  constructor(private readonly clients: S3Clients) {}

  private get http(): SignedHttpClient | undefined { return this.clients.http; }

  async putObject(p: PutObjectInput, signal: StopSignal): Promise<PutOutput> {
    if (!this.http) { const { sdk, client } = await viaSdk(this.clients); return sdk.putObject(client, p, signal); }
    const r = await this.http.putObject(p, signal);
    return { etag: r.etag, ...defined({ sse: r.sse, sseCustomerAlgorithm: r.sseCustomerAlgorithm }) };
  }

  async uploadPart(p: UploadPartInput, signal: StopSignal): Promise<PutOutput> {
    if (!this.http) { const { sdk, client } = await viaSdk(this.clients); return sdk.uploadPart(client, p, signal); }
    const r = await this.http.uploadPart(p, signal);
    return { etag: r.etag, ...defined({ sse: r.sse, sseCustomerAlgorithm: r.sseCustomerAlgorithm }) };
  }

  async getObject(p: GetObjectInput, signal: StopSignal): Promise<GetObjectOutput> {
    const { bucket, key, range, sseC, bulk } = p;
    if (!this.http) { const { sdk, client } = await viaSdk(this.clients); return sdk.getObject(client, p, signal); }
    const r = await this.http.getObject({ bucket, key, ...(range && { range }), ...(sseC && { sseC }), ...(bulk && { bulk }) }, signal);
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

  async headObject(p: HeadObjectInput, signal: StopSignal): Promise<HeadObjectOutput> {
    if (this.http) return signed.headObject(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.headObject(client, p, signal);
  }

  async listObjectsV2(p: ListObjectsInput, signal: StopSignal): Promise<ListObjectsPage> {
    if (this.http) return signed.listObjectsV2(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.listObjectsV2(client, p, signal);
  }

  async deleteObjects(p: { bucket: string; keys: readonly string[] }, signal: StopSignal): Promise<DeleteObjectsOutput> {
    if (this.http) return signed.deleteObjects(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.deleteObjects(client, p, signal);
  }

  async deleteObject(p: { bucket: string; key: string }, signal: StopSignal): Promise<void> {
    if (this.http) return signed.deleteObject(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.deleteObject(client, p, signal);
  }

  async createMultipartUpload(p: CreateMultipartUploadInput, signal: StopSignal): Promise<{ uploadId: string | undefined }> {
    if (this.http) return signed.createMultipartUpload(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.createMultipartUpload(client, p, signal);
  }

  async completeMultipartUpload(p: CompleteMultipartUploadInput, signal: StopSignal): Promise<CompleteMultipartUploadOutput> {
    if (this.http) return signed.completeMultipartUpload(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.completeMultipartUpload(client, p, signal);
  }

  async abortMultipartUpload(p: { bucket: string; key: string; uploadId: string }, signal: StopSignal): Promise<void> {
    if (this.http) return signed.abortMultipartUpload(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.abortMultipartUpload(client, p, signal);
  }

  async listMultipartUploads(p: ListMultipartUploadsInput, signal: StopSignal): Promise<ListMultipartUploadsOutput> {
    if (this.http) return signed.listMultipartUploads(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.listMultipartUploads(client, p, signal);
  }

  async listParts(p: ListPartsInput, signal: StopSignal): Promise<ListPartsOutput> {
    if (this.http) return signed.listParts(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.listParts(client, p, signal);
  }

  async getBucketVersioning(p: { bucket: string }, signal: StopSignal): Promise<{ status: string | undefined }> {
    if (this.http) return signed.getBucketVersioning(this.http, p, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.getBucketVersioning(client, p, signal);
  }

  async listBuckets(signal: StopSignal): Promise<void> {
    if (this.http) return signed.listBuckets(this.http, signal);
    const { sdk, client } = await viaSdk(this.clients);
    return sdk.listBuckets(client, signal);
  }
}
