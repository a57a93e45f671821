/**
 * `cleanup-multipart`: abort the multipart uploads a killed run left open (SIGKILL leaves no
 * chance to abort them; until aborted, their parts are stored and billed). Only uploads under
 * the prefix and older than `olderThanMs` are touched: a run still going elsewhere keeps its own.
 */
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { resolveConnection, type ConnectionOptions } from '../config/options.js';
import { UsageError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { endpointSummaries, openPool, preflight } from './context.js';
import { RequestEngine, RequestFailed, type RequestReport } from './request.js';
import type { EndpointSummary } from './upload.js';

export interface CleanupOptions extends ConnectionOptions {
  bucket: string;
  prefix?: string;
  /** abort only uploads initiated at least this long ago, ms; default 24 h */
  olderThanMs?: number;
  dryRun?: boolean;
  onReport?: (r: RequestReport) => void;
  /** one call per upload aborted (or, with dryRun, that would be) */
  onUpload?: (u: OpenUpload) => void;
}

export interface OpenUpload { key: string; uploadId: string; initiated?: Date }

export interface CleanupSummary {
  bucket: string; prefix: string; dryRun: boolean;
  /** open uploads under the prefix */
  found: number;
  /** old enough, and aborted (with dryRun: would be) */
  aborted: number;
  /** younger than --older-than: left alone */
  kept: number;
  failed: Array<{ key: string; uploadId: string; error: string }>;
  endpoints: EndpointSummary[];
}

export async function cleanupMultipart(opts: CleanupOptions): Promise<CleanupSummary> {
  if (!opts.bucket) throw new UsageError('a bucket name is required');
  const conn = resolveConnection(opts);
  const logger = opts.logger ?? silentLogger;
  const pool = openPool(conn, logger);
  const engine = new RequestEngine(pool, conn.retry, opts.signal ?? new AbortController().signal, logger, opts.onReport);
  const prefix = opts.prefix ?? '';
  const cutoff = Date.now() - (opts.olderThanMs ?? 24 * 3600_000);
  const summary: CleanupSummary = { bucket: opts.bucket, prefix, dryRun: opts.dryRun ?? false, found: 0, aborted: 0, kept: 0, failed: [], endpoints: [] };
  try {
    await preflight(engine, pool, opts.bucket, logger);
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let page = 0; page < 1_000_000; page++) {
      const out = await engine.run({
        op: 'ListObjectsV2', key: `(ListMultipartUploads ${prefix})`, bytes: 0, kind: 'read', bucket: opts.bucket,
        send: (ep, signal) => ep.client.send(new ListMultipartUploadsCommand({
          Bucket: opts.bucket, ...(prefix && { Prefix: prefix }),
          ...(keyMarker !== undefined && { KeyMarker: keyMarker }), ...(uploadIdMarker !== undefined && { UploadIdMarker: uploadIdMarker }),
        }), { abortSignal: signal }),
      });
      for (const u of out.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Key.startsWith(prefix)) continue;
        summary.found++;
        if (u.Initiated && u.Initiated.getTime() > cutoff) { summary.kept++; continue; }
        const upload: OpenUpload = { key: u.Key, uploadId: u.UploadId, ...(u.Initiated && { initiated: u.Initiated }) };
        if (opts.dryRun) { summary.aborted++; opts.onUpload?.(upload); continue; }
        try {
          await engine.run({
            op: 'AbortMultipartUpload', key: u.Key, bytes: 0, bucket: opts.bucket,
            send: (ep, signal) => ep.client.send(new AbortMultipartUploadCommand({ Bucket: opts.bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal }),
          });
          summary.aborted++;
          opts.onUpload?.(upload);
        } catch (err) {
          summary.failed.push({ key: u.Key, uploadId: u.UploadId, error: err instanceof RequestFailed ? err.message : String(err) });
        }
      }
      if (!out.IsTruncated) break;
      if (out.NextKeyMarker === keyMarker && out.NextUploadIdMarker === uploadIdMarker) break; // a server that would loop
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    }
  } finally {
    summary.endpoints = endpointSummaries(pool);
    pool.destroy();
  }
  return summary;
}

/** "90s" / "30m" / "24h" / "7d" / "1500ms" / a number of ms → ms. */
export function parseDurationMs(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${what}: '${text}' is not a duration (examples: 90s, 30m, 24h, 7d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
