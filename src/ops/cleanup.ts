/**
 * `cleanup-multipart`: abort the multipart uploads a killed run left open (SIGKILL leaves no
 * chance to abort them; until aborted, their parts are stored and billed). Only uploads under
 * the prefix (the folder rule of delete-prefix, fs/key-prefix.ts) and older than `olderThanMs`
 * are touched: a run still going elsewhere keeps its own.
 */
import type { ConnectionOptions } from '../config/options.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { FatalRunError, UsageError } from '../errors.js';
import { isSelected, selectKeys, type KeySelection, type PrefixOptions } from '../fs/key-prefix.js';
import { describeFatal } from '../run/context.js';
import { Run } from '../run/run.js';
import { Interrupted, RequestFailed, type RequestReport } from '../engine/request.js';
import type { EndpointSummary } from '../run/summary.js';

/** The prefix selects the uploads by their key, with the rule of delete-prefix (fs/key-prefix.ts). */
export interface CleanupOptions extends ConnectionOptions, PrefixOptions {
  /** abort only uploads initiated at least this long ago, ms; default 24 h */
  olderThanMs?: number;
  dryRun?: boolean;
  onReport?: (r: RequestReport) => void;
  /** one call per upload aborted (or, with dryRun, that would be) */
  onUpload?: (u: OpenUpload) => void;
}

export interface OpenUpload {
  key: string; uploadId: string; initiated?: Date;
  /** replicate/fallback mode: the store that holds it */
  store?: string;
}

export interface CleanupSummary {
  bucket: string;
  /** the prefix listed, as sent to the server */
  prefix: string;
  dryRun: boolean;
  /** open uploads under the prefix */
  found: number;
  /** old enough, and aborted (with dryRun: would be) */
  aborted: number;
  /** younger than --older-than: left alone */
  kept: number;
  failed: Array<{ key: string; uploadId: string; error: string; store?: string }>;
  /** stopped by the caller's abort (Ctrl-C) before every upload was looked at */
  interrupted: boolean;
  endpoints: EndpointSummary[];
}

/** Aborts the stale uploads under the prefix. Throws UsageError / FatalRunError before any abort. */
export async function cleanupMultipart(opts: CleanupOptions): Promise<CleanupSummary> {
  if (!opts.bucket) throw new UsageError('a bucket name is required');
  const sel = selectKeys(opts.prefix, opts.rawPrefix);
  const run = Run.open(opts, opts.bucket, { onReport: opts.onReport });
  const cutoff = Date.now() - (opts.olderThanMs ?? 24 * 3600_000);
  const summary: CleanupSummary = { bucket: opts.bucket, prefix: sel.prefix, dryRun: opts.dryRun ?? false, found: 0, aborted: 0, kept: 0, failed: [], interrupted: false, endpoints: [] };
  try {
    await run.preflight();
    // Stores that hold different data (replicate, fallback) each have their own uploads: each is
    // listed on its own, and an upload is aborted on the store that listed it.
    const { pool } = run;
    const stores = pool.mode === 'pool' || pool.endpoints.length === 1 ? [undefined] : [...pool.endpoints];
    for (const store of stores) await cleanupOn(run, store, sel, cutoff, opts, summary);
  } catch (err) {
    if (err instanceof RequestFailed) throw new FatalRunError(`cleaning up s3://${opts.bucket}/${sel.prefix} failed: ${describeFatal(err, opts.bucket, err.endpoint.label)}`);
    if (!(err instanceof Interrupted)) throw err;
  } finally {
    summary.interrupted = run.interrupted;
    summary.endpoints = run.endpoints();
    run.close();
  }
  return summary;
}

/** Lists the open uploads on one store (undefined: wherever the pool routes) and aborts the stale ones there. */
async function cleanupOn(run: Run, store: Endpoint | undefined, sel: KeySelection, cutoffMs: number, opts: CleanupOptions, summary: CleanupSummary): Promise<void> {
  const bucket = opts.bucket;
  const pin = store ? { endpoint: store } : {};
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (let page = 0; page < 1_000_000; page++) {
    const out = await run.engine.run({
      op: 'ListObjectsV2', key: `(ListMultipartUploads ${sel.prefix})`, bytes: 0, kind: 'read', bucket, ...pin,
      send: (ep, signal) => ep.store.listMultipartUploads({ bucket, prefix: sel.prefix, keyMarker, uploadIdMarker }, signal),
    });
    for (const u of out.uploads) {
      if (!u.key || !u.uploadId || !isSelected(sel, u.key)) continue;
      summary.found++;
      if (u.initiated && u.initiated.getTime() > cutoffMs) { summary.kept++; continue; }
      const upload: OpenUpload = { key: u.key, uploadId: u.uploadId, ...(u.initiated && { initiated: u.initiated }), ...(store && { store: store.name }) };
      if (opts.dryRun) { summary.aborted++; opts.onUpload?.(upload); continue; }
      try {
        await run.engine.run({
          op: 'AbortMultipartUpload', key: u.key, bytes: 0, bucket, ...pin,
          send: (ep, signal) => ep.store.abortMultipartUpload({ bucket, key: upload.key, uploadId: upload.uploadId }, signal),
        });
        summary.aborted++;
        opts.onUpload?.(upload);
      } catch (err) {
        if (err instanceof Interrupted) throw err;
        summary.failed.push({ key: u.key, uploadId: u.uploadId, error: err instanceof RequestFailed ? err.message : String(err), ...(store && { store: store.name }) });
      }
    }
    if (!out.isTruncated) return;
    if (out.nextKeyMarker === keyMarker && out.nextUploadIdMarker === uploadIdMarker) return; // a server that would loop
    keyMarker = out.nextKeyMarker;
    uploadIdMarker = out.nextUploadIdMarker;
  }
}

/** "90s" / "30m" / "24h" / "7d" / "1500ms" / a number of ms → ms. */
export function parseDurationMs(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${what}: '${text}' is not a duration (examples: 90s, 30m, 24h, 7d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
