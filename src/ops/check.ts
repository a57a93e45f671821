/**
 * `s3x endpoints check`: for every endpoint of the pool — can we reach it, are the credentials
 * accepted, can we list the bucket (when one is named), and how long a small request takes.
 * One pinned request per question, no retries: a check reports what is, it does not paper over.
 */
import type { ConnectionOptions } from '../config/options.js';
import { Run } from '../run/run.js';
import { RequestFailed } from '../engine/request.js';

export interface CheckOptions extends ConnectionOptions {
  /** also check read access to this bucket */
  bucket?: string;
}

export interface EndpointCheck {
  name: string;
  url: string;
  reachable: boolean;
  /** undefined when unreachable (unknown) */
  credentialsValid?: boolean;
  /** undefined when no bucket was named or it could not be asked */
  bucketAccess?: 'ok' | 'missing' | 'denied';
  /** duration of the ListBuckets request, ms */
  latencyMs?: number;
  /** what went wrong, one line */
  problem?: string;
  ok: boolean;
}

export async function checkEndpoints(opts: CheckOptions): Promise<EndpointCheck[]> {
  const run = Run.open(opts, opts.bucket ?? '', { retries: 0 });
  const { engine } = run;
  try {
    return await Promise.all(run.pool.endpoints.map(async (ep): Promise<EndpointCheck> => {
      const result: EndpointCheck = { name: ep.name, url: ep.label, reachable: false, ok: false };
      const t0 = performance.now();
      try {
        await engine.run({
          op: 'ListObjectsV2', key: '(ListBuckets)', bytes: 0, endpoint: ep, kind: 'read', unreported: true,
          send: (e, signal) => e.store.listBuckets(signal),
        });
        result.reachable = true;
        result.credentialsValid = true;
        result.latencyMs = performance.now() - t0;
      } catch (err) {
        const code = err instanceof RequestFailed ? err.facts.code : (err as Error).name;
        const status = err instanceof RequestFailed ? err.facts.status : undefined;
        if (status === undefined && code !== 'CredentialsProviderError') {
          result.problem = `unreachable: ${code}`;
          return result;
        }
        result.reachable = code !== 'CredentialsProviderError';
        result.latencyMs = performance.now() - t0;
        if (code === 'AccessDenied') {
          result.credentialsValid = true; // known key, just no ListBuckets permission
        } else {
          result.credentialsValid = false;
          result.problem = code === 'CredentialsProviderError' ? 'no credentials found' : `credentials rejected: ${code}`;
          return result;
        }
      }
      if (opts.bucket !== undefined) {
        try {
          await engine.run({
            op: 'ListObjectsV2', key: opts.bucket, bytes: 0, endpoint: ep, kind: 'read', unreported: true,
            send: (e, signal) => e.store.listObjectsV2({ bucket: opts.bucket!, maxKeys: 1 }, signal),
          });
          result.bucketAccess = 'ok';
        } catch (err) {
          const code = err instanceof RequestFailed ? err.facts.code : String(err);
          result.bucketAccess = code === 'NoSuchBucket' ? 'missing' : 'denied';
          result.problem = `bucket '${opts.bucket}': ${code}`;
          return result;
        }
      }
      result.ok = true;
      return result;
    }));
  } finally {
    run.close();
  }
}
