/**
 * `delete-prefix`: list bucket/prefix page by page and delete what is listed with DeleteObjects
 * batches of up to 1,000 keys (Quiet mode), several batches in flight over the endpoints, every
 * request through the RequestEngine.
 *
 * Safety: only keys that start with the selected prefix are ever sent, re-checked on every listed
 * key even though the server filters too; an empty prefix (the whole bucket) needs `all`.
 * Memory: at most `concurrency` batches in flight plus the one being filled, whatever the number
 * of keys: the lister waits for a batch slot before it reads on.
 *
 * Per-key errors (DeleteObjects answers 200 with an <Error> per key it could not delete) are
 * collected and named; those the retry table calls transient (InternalError, SlowDown…) are sent
 * again in a smaller batch, up to `retries` times.
 */
import crypto from 'node:crypto';
import { DeleteObjectCommand, DeleteObjectsCommand, type DeleteObjectsCommandOutput } from '@aws-sdk/client-s3';
import type { ConnectionOptions } from '../config/options.js';
import { UsageError } from '../errors.js';
import { isSelected, selectKeys } from '../fs/key-prefix.js';
import { describeFatal, preflight } from './context.js';
import { Limiter } from './limiter.js';
import { listThrough, ListingError, type ListedObject } from './list.js';
import { ObjectRun, sleepMs } from './object-run.js';
import { Interrupted, RequestFailed, type RequestReport } from './request.js';
import { backoffMs, decide } from './retry-policy.js';
import type { RunTotals } from './upload.js';

/** S3's limit of keys per DeleteObjects request. */
export const MAX_DELETE_BATCH = 1000;
/** Failures kept by name in the summary; beyond this they are counted (and still reported through onFailure). */
export const MAX_NAMED_FAILURES = 10_000;

export interface DeletePrefixOptions extends ConnectionOptions {
  bucket: string;
  /** folder rule by default (`logs` deletes `logs/…`, not `logs-old/…`); see fs/key-prefix.ts */
  prefix?: string;
  /** match the prefix as a plain string: `logs` also deletes `logs-old/…` and `logs.txt` */
  rawPrefix?: boolean;
  /** required to delete with an empty prefix (every object in the bucket) */
  all?: boolean;
  /** list and report what would be deleted; delete nothing */
  dryRun?: boolean;
  /** keys per DeleteObjects request; default and maximum 1000 */
  batchSize?: number;
  onReport?: (r: RequestReport) => void;
  /** progress, at most every 100 ms and once at the end */
  onProgress?: (p: DeleteProgress) => void;
  /** with dryRun: one call per key that would be deleted, in key order */
  onPlan?: (o: ListedObject) => void;
  /** one call per key that could not be deleted */
  onFailure?: (f: FailedKey) => void;
}

export interface DeleteProgress {
  /** selected keys listed so far */
  listed: number;
  listDone: boolean;
  deleted: number;
  failed: number;
  elapsedMs: number;
}

export interface FailedKey {
  key: string;
  /** S3 error code and message, e.g. "AccessDenied: Access Denied" */
  error: string;
}

/** notAttempted: listed keys not sent, or whose batch was cut by the interrupt (state unknown). */
export interface DeleteSummary extends RunTotals {
  bucket: string;
  /** the prefix listed, as sent to the server ('' = the whole bucket) */
  prefix: string;
  dryRun: boolean;
  /** selected keys found by the listing */
  listed: number;
  /** keys deleted (with dryRun: that would be) */
  deleted: number;
  /** bytes of the deleted objects, from the listing */
  bytes: number;
  /** the first MAX_NAMED_FAILURES keys that could not be deleted */
  failed: FailedKey[];
  /** all keys that could not be deleted */
  failedCount: number;
}

/** Deletes every object under bucket/prefix. Throws UsageError / FatalRunError before any delete. */
export async function deletePrefix(opts: DeletePrefixOptions): Promise<DeleteSummary> {
  const bucket = opts.bucket;
  if (!bucket) throw new UsageError('a bucket name is required');
  const sel = selectKeys(opts.prefix, opts.rawPrefix);
  if (opts.all && sel.prefix !== '') throw new UsageError(`--all deletes every object in the bucket: give it no prefix (got '${opts.prefix}')`);
  if (sel.prefix === '' && !opts.all) {
    throw new UsageError(`an empty prefix selects every object in bucket '${bucket}': pass --all to delete them all`);
  }
  const batchSize = opts.batchSize ?? MAX_DELETE_BATCH;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= MAX_DELETE_BATCH)) {
    throw new UsageError(`--batch-size must be a whole number from 1 to ${MAX_DELETE_BATCH}, got ${batchSize}`);
  }
  const dryRun = opts.dryRun ?? false;
  const run = new ObjectRun(opts, bucket, opts.onReport);
  const { logger } = run;
  const perKey = new PerKeyTime(run.conn.estimator);

  const progress: DeleteProgress = { listed: 0, listDone: false, deleted: 0, failed: 0, elapsedMs: 0 };
  let lastTick = 0;
  const tick = (force = false): void => {
    const now = performance.now();
    if (!opts.onProgress || (!force && now - lastTick < 100)) return;
    lastTick = now;
    opts.onProgress({ ...progress, elapsedMs: run.wallMs });
  };
  let bytes = 0;
  let notAttempted = 0;
  const failed: FailedKey[] = [];
  const fail = (key: string, error: string): void => {
    progress.failed++;
    if (failed.length < MAX_NAMED_FAILURES) failed.push({ key, error });
    opts.onFailure?.({ key, error });
    logger.warn({ key, error }, 'not deleted');
  };
  const deleted = (objs: readonly ListedObject[]): void => {
    progress.deleted += objs.length;
    for (const o of objs) bytes += o.bytes;
  };

  /** A batch failed as a whole: every key in it is named, and a fatal error stops the run. */
  const batchFailed = (objs: readonly ListedObject[], err: unknown): void => {
    if (err instanceof Interrupted) { notAttempted += objs.length; return; }
    run.stopIfFatal(err);
    const message = err instanceof RequestFailed ? `${err.facts.code}${err.facts.message && err.facts.message !== err.facts.code ? `: ${err.facts.message}` : ''}` : String(err);
    for (const o of objs) fail(o.key, message);
  };

  const deleteBatch = async (objs: ListedObject[]): Promise<void> => {
    let pending = objs;
    for (let round = 0; ; round++) {
      const n = pending.length;
      const batch = pending;
      const out = await run.engine.run<DeleteObjectsCommandOutput>({
        op: 'DeleteObjects', key: n === 1 ? batch[0]!.key : `${batch[0]!.key} … ${batch[n - 1]!.key} (${n} keys)`, bytes: 0, bucket,
        // a DeleteObjects takes time per key (~3 ms each on one RGW gateway here), not per byte
        deadlineMs: perKey.deadlineMs(n),
        send: async (ep, signal) => {
          const t0 = performance.now();
          const cmd = new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((o) => ({ Key: o.key })), Quiet: true } });
          withContentMd5(cmd);
          const res = await ep.client.send(cmd, { abortSignal: signal });
          perKey.record(n, performance.now() - t0);
          return res;
        },
      });
      // Quiet mode lists only the failures: every other key of the batch is gone.
      const left = new Map(batch.map((o) => [o.key, o]));
      const again: ListedObject[] = [];
      for (const e of out.Errors ?? []) {
        const o = e.Key !== undefined ? left.get(e.Key) : undefined;
        if (!o) continue;
        left.delete(o.key);
        const code = e.Code ?? 'Error';
        if (decide({ code, message: e.Message ?? '' }) === 'retry' && round < run.conn.retry.retries) again.push(o);
        else fail(o.key, `${code}${e.Message && e.Message !== code ? `: ${e.Message}` : ''}`);
      }
      deleted([...left.values()]);
      tick();
      if (again.length === 0) return;
      logger.info({ keys: again.length, round: round + 1 }, 'DeleteObjects: transient per-key errors, sending those keys again');
      await sleepMs(backoffMs(round, run.conn.retry.backoffBaseMs, run.conn.retry.backoffCapMs), run.signal).catch(() => {
        throw new Interrupted();
      });
      pending = again;
    }
  };

  /**
   * Keys with characters XML 1.0 cannot carry (control characters) cannot go in a DeleteObjects
   * body (RGW answers 400 for the whole batch): they are deleted one by one.
   */
  const deleteSingle = async (o: ListedObject): Promise<void> => {
    await run.engine.run({
      op: 'DeleteObject', key: o.key, bytes: 0, bucket,
      send: (ep, signal) => ep.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key }), { abortSignal: signal }),
    });
    deleted([o]);
    tick();
  };

  const gate = new Limiter(run.conn.concurrency);
  const inFlight = new Set<Promise<void>>();
  const dispatch = async (objs: ListedObject[], single: boolean): Promise<void> => {
    await gate.acquire();
    if (run.signal.aborted) { gate.release(); notAttempted += objs.length; return; }
    const p = (single ? deleteSingle(objs[0]!) : deleteBatch(objs))
      .catch((err: unknown) => batchFailed(objs, err))
      .finally(() => { gate.release(); inFlight.delete(p); });
    inFlight.add(p);
  };

  try {
    await preflight(run.engine, run.pool, bucket, logger);
    let batch: ListedObject[] = [];
    try {
      for await (const page of listThrough(run.engine, bucket, sel.prefix)) {
        for (const o of page.objects) {
          if (!isSelected(sel, o.key)) {
            logger.warn({ key: o.key, prefix: sel.prefix }, 'the server listed a key outside the prefix: ignored');
            continue;
          }
          progress.listed++;
          if (dryRun) {
            opts.onPlan?.(o);
            deleted([o]);
            continue;
          }
          if (run.signal.aborted) { notAttempted++; continue; }
          if (XML_UNSAFE.test(o.key)) { await dispatch([o], true); continue; }
          batch.push(o);
          if (batch.length === batchSize) {
            await dispatch(batch, false);
            batch = [];
          }
        }
        tick();
        if (run.signal.aborted) break;
      }
      if (batch.length > 0) await dispatch(batch, false);
      batch = [];
      progress.listDone = true;
    } catch (err) {
      notAttempted += batch.length;
      if (!(err instanceof Interrupted)) {
        // the listing cannot go on: what was listed is still deleted, then the run stops
        if (err instanceof RequestFailed) run.stop(`listing s3://${bucket}/${sel.prefix} failed: ${describeFatal(err, bucket, err.endpoint.label)}`);
        else if (err instanceof ListingError) run.stop(`listing s3://${bucket}/${sel.prefix} failed: ${err.message}`);
        else throw err;
      }
    }
    await Promise.all(inFlight);
    tick(true);
  } finally {
    await Promise.allSettled(inFlight);
    run.close();
  }

  const wallMs = run.wallMs;
  return {
    bucket, prefix: sel.prefix, dryRun, listed: progress.listed, deleted: progress.deleted, bytes,
    failed, failedCount: progress.failed, notAttempted, wallMs,
    objectsPerSec: dryRun ? 0 : progress.deleted / (wallMs / 1000),
    requests: run.requests, retries: run.retries, interrupted: run.interrupted,
    ...(run.fatal !== undefined && { fatal: run.fatal }),
    endpoints: run.endpoints(),
  };
}

/** Characters XML 1.0 cannot carry, even escaped. */
const XML_UNSAFE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

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

/**
 * Learns how long a DeleteObjects takes per key (EWMA with weight α on the new sample, like the
 * endpoint estimator), so a 1,000-key batch gets a deadline that fits it: fraction × keys ×
 * msPerKey, within the estimator's [minMs, maxMs]. The prior, 10 ms per key, is ~3× what one RGW
 * gateway took here with batches in parallel (first batches get a 30 s budget).
 */
export class PerKeyTime {
  private msPerKey = 10;
  private samples = 0;

  constructor(private readonly cfg: { fraction: number; minMs: number; maxMs: number; alpha: number }) {}

  record(keys: number, elapsedMs: number): void {
    if (!(keys >= 1) || !(elapsedMs >= 0)) return;
    this.samples++;
    const w = Math.max(this.cfg.alpha, 1 / this.samples);
    this.msPerKey = w * (elapsedMs / keys) + (1 - w) * this.msPerKey;
  }

  deadlineMs(keys: number): number {
    return Math.min(this.cfg.maxMs, Math.max(this.cfg.minMs, this.cfg.fraction * keys * this.msPerKey));
  }
}
