/**
 * An ObjectStore (src/endpoints/store.ts) with no server behind it, for unit tests of what runs
 * above the store (the RequestEngine, the operations). Each call takes the next scripted step:
 * answer after N ms, throw an error (see `s3Error`), or hang until the call's signal aborts.
 * Unscripted calls answer at once with an empty success. Every call is logged with its timing
 * and, when its signal aborted, the abort reason.
 */
import type {
  CompleteMultipartUploadOutput, DeleteObjectsOutput, GetObjectOutput, HeadObjectOutput, ListMultipartUploadsOutput,
  ListObjectsPage, ListPartsOutput, ObjectStore, PutOutput,
} from '../../src/endpoints/store.js';

export type StoreOp = keyof ObjectStore;

/** What one call does. */
export interface Step {
  /** only a call of this operation takes this step (default: any) */
  op?: StoreOp;
  /** wait this long before answering or throwing, ms (an abort meanwhile ends the call) */
  afterMs?: number;
  /** reject with this */
  error?: unknown;
  /**
   * no answer: wait until the signal aborts, then reject with its reason ('reason', as the signed
   * data path does) or with an AbortError ('sdk', as @aws-sdk/client-s3 does)
   */
  hang?: 'reason' | 'sdk';
  /** answer with this instead of the default result */
  result?: unknown;
  /** a put/part's `onBodySent` is called this long after the call starts, ms (default 0: at once) */
  bodySentAfterMs?: number;
}

export interface Call {
  op: StoreOp;
  input: unknown;
  startedMs: number;
  endedMs?: number;
  /** the signal's reason, when the call was aborted */
  abortReason?: unknown;
  outcome?: 'ok' | 'error';
}

/** An error shaped like the SDK's S3ServiceException (and the signed path's S3HttpError). */
export function s3Error(code: string, status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(code), {
    name: code, Code: code, $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers, body: '' },
  });
}

/** A Node network error (ECONNRESET, ECONNREFUSED…). */
export function netError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

const EMPTY_BODY = {
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> { /* no bytes */ },
  destroy: (): void => {},
};

export class FakeStore implements ObjectStore {
  readonly calls: Call[] = [];
  private readonly steps: Step[] = [];

  constructor(readonly name = 'fake') {}

  /** Appends steps; each call takes the first one that matches its operation. */
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }

  /** Steps not taken yet. */
  get pending(): number { return this.steps.length; }

  putObject(p: unknown, signal: AbortSignal): Promise<PutOutput> {
    return this.answer('putObject', p, signal, { etag: '"d41d8cd98f00b204e9800998ecf8427e"' });
  }
  uploadPart(p: unknown, signal: AbortSignal): Promise<PutOutput> {
    return this.answer('uploadPart', p, signal, { etag: '"d41d8cd98f00b204e9800998ecf8427e"' });
  }
  getObject(p: unknown, signal: AbortSignal): Promise<GetObjectOutput> {
    return this.answer('getObject', p, signal, { body: EMPTY_BODY, contentLength: 0 });
  }
  headObject(p: unknown, signal: AbortSignal): Promise<HeadObjectOutput> {
    return this.answer('headObject', p, signal, {});
  }
  listObjectsV2(p: unknown, signal: AbortSignal): Promise<ListObjectsPage> {
    return this.answer('listObjectsV2', p, signal, { Contents: [], IsTruncated: false });
  }
  deleteObjects(p: unknown, signal: AbortSignal): Promise<DeleteObjectsOutput> {
    return this.answer('deleteObjects', p, signal, { errors: [] });
  }
  deleteObject(p: unknown, signal: AbortSignal): Promise<void> {
    return this.answer('deleteObject', p, signal, undefined);
  }
  createMultipartUpload(p: unknown, signal: AbortSignal): Promise<{ uploadId: string | undefined }> {
    return this.answer('createMultipartUpload', p, signal, { uploadId: `upload-${this.calls.length}` });
  }
  completeMultipartUpload(p: unknown, signal: AbortSignal): Promise<CompleteMultipartUploadOutput> {
    return this.answer('completeMultipartUpload', p, signal, {});
  }
  abortMultipartUpload(p: unknown, signal: AbortSignal): Promise<void> {
    return this.answer('abortMultipartUpload', p, signal, undefined);
  }
  listMultipartUploads(p: unknown, signal: AbortSignal): Promise<ListMultipartUploadsOutput> {
    return this.answer('listMultipartUploads', p, signal, { uploads: [], isTruncated: false });
  }
  listParts(p: unknown, signal: AbortSignal): Promise<ListPartsOutput> {
    return this.answer('listParts', p, signal, { parts: [], isTruncated: false });
  }
  listBuckets(signal: AbortSignal): Promise<void> {
    return this.answer('listBuckets', undefined, signal, undefined);
  }
  getBucketVersioning(p: { bucket: string }, signal: AbortSignal): Promise<{ status: string | undefined }> {
    return this.answer('getBucketVersioning', p, signal, { status: undefined });
  }

  private takeStep(op: StoreOp): Step {
    const i = this.steps.findIndex((s) => s.op === undefined || s.op === op);
    return i < 0 ? {} : this.steps.splice(i, 1)[0]!;
  }

  private answer<T>(op: StoreOp, input: unknown, signal: AbortSignal, fallback: T): Promise<T> {
    const call: Call = { op, input, startedMs: performance.now() };
    this.calls.push(call);
    const step = this.takeStep(op);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const end = (outcome: 'ok' | 'error'): void => {
        call.endedMs = performance.now();
        call.outcome = outcome;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        call.abortReason = signal.reason;
        end('error');
        reject(step.hang === 'sdk' ? Object.assign(new Error('Request aborted'), { name: 'AbortError' }) : signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        if (step.error !== undefined) { end('error'); reject(step.error); } else { end('ok'); resolve((step.result ?? fallback) as T); }
      };
      if (!step.hang) timer = setTimeout(settle, step.afterMs ?? 0);
      const { onBodySent } = (input ?? {}) as { onBodySent?: () => void };
      if (onBodySent) setTimeout(() => { if (call.endedMs === undefined) onBodySent(); }, step.bodySentAfterMs ?? 0);
    });
  }
}
