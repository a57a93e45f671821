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
 *
 * Stores: in replicate mode the listing is the union of the stores' (list.ts) and every batch is
 * sent to every store; fallback mode refuses deletes (refuseFallbackDeletes says why).
 */
import type { DeleteObjectsOutput } from '../endpoints/store.js';
import { resolveConnection, type ConnectionOptions } from '../config/options.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { UsageError } from '../errors.js';
import { selectKeys, type PrefixOptions } from '../fs/key-prefix.js';
import type { Dispatch } from '../run/dispatch.js';
import type { ProgressTicker } from '../run/progress.js';
import { keptBySelection, stopOnListingFailure, type ListedObject } from './list.js';
import { listAfterPreflight, PreflightFailed } from './preflight-listing.js';
import { Run, sleepMs } from '../run/run.js';
import { Interrupted, RequestFailed, type RequestReport } from '../engine/request.js';
import { backoffMs, decide } from '../engine/retry-policy.js';
import type { RunTotals } from '../run/summary.js';

/** S3's limit of keys per DeleteObjects request. */
export const MAX_DELETE_BATCH = 1000;
/**
 * Fewest keys per DeleteObjects when a full batch is split to keep the slots busy (no
 * --batch-size given). A gateway deletes one request's keys one after another (Ceph RGW: ~2-3 ms
 * each here), so 1,000 keys in one request take seconds while other slots idle: split over 8-16
 * requests, 2,000 objects went in 2.8-3.9 s instead of 6.1-8.4 s (s5cmd: 5.0-6.0 s).
 */
export const MIN_SPLIT_BATCH = 100;
/** Failures kept by name in the summary; beyond this they are counted (and still reported through onFailure). */
export const MAX_NAMED_FAILURES = 10_000;

export interface DeletePrefixOptions extends ConnectionOptions, PrefixOptions {
  /** required to delete with an empty prefix (every object in the bucket) */
  all?: boolean;
  /** list and report what would be deleted; delete nothing */
  dryRun?: boolean;
  /**
   * keys per DeleteObjects request, at most 1000. Default: a full batch of 1000 is sent as up
   * to `concurrency` requests of at least MIN_SPLIT_BATCH keys each
   */
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
  /** S3 error code and message, e.g. "AccessDenied: Access Denied" (replicate: "on ep2: …" per store) */
  error: string;
  /** replicate mode: the stores that could not delete it */
  stores?: string[];
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
  const batchSize = checkBatchSize(opts.batchSize);
  refuseFallbackDeletes(opts);
  const dryRun = opts.dryRun ?? false;
  const run = Run.open(opts, bucket, { onReport: opts.onReport });
  const { logger } = run;
  const deleter = new KeyDeleter(run, batchSize, { ...opts, split: opts.batchSize === undefined });
  const { progress } = deleter;
  try {
    try {
      // the first page is asked for during the preflight; no key is handed out before it passed
      for await (const page of listAfterPreflight(run, bucket, sel.prefix)) {
        for (const o of page.objects) {
          if (!keptBySelection(sel, o.key, logger)) continue;
          progress.listed++;
          if (dryRun) {
            opts.onPlan?.(o);
            deleter.counted([o]);
            continue;
          }
          await deleter.add(o);
        }
        deleter.tick();
        if (run.signal.aborted) break;
      }
      await deleter.flush();
      progress.listDone = true;
    } catch (err) {
      if (err instanceof PreflightFailed) throw err.error; // nothing was listed: as if it ran first
      deleter.dropPending();
      stopOnListingFailure(run, err, sel.prefix); // what was listed is still deleted
    }
    await deleter.drain();
  } finally {
    await deleter.settle();
    run.close();
  }
  return deleter.summary({ bucket, prefix: sel.prefix, dryRun });
}

/** What deleteKeys did, counted apart from the rest of its run. */
export interface DeletedKeys {
  deleted: number;
  /** the first MAX_NAMED_FAILURES keys that could not be deleted */
  failed: FailedKey[];
  /** keys not sent, or whose batch was cut by the interrupt (state unknown) */
  notAttempted: number;
}

/**
 * Deletes the given keys, exactly as given (no prefix rule: the caller selected them), on `run`
 * (`sync --delete`, after its upload on the same run), with delete-prefix's batcher: same
 * batches, same per-key retries, keys XML cannot carry sent alone, every store in replicate mode.
 */
export async function deleteKeys(run: Run, keys: Iterable<string> | AsyncIterable<string>, opts: { batchSize?: number; onFailure?: (f: FailedKey) => void } = {}): Promise<DeletedKeys> {
  const batchSize = checkBatchSize(opts.batchSize);
  refuseFallback(run.conn.pool);
  const notAttemptedBefore = run.notAttempted;
  const deleter = new KeyDeleter(run, batchSize, { ...opts, split: opts.batchSize === undefined });
  try {
    for await (const key of keys) {
      deleter.progress.listed++;
      await deleter.add({ key, bytes: 0 });
    }
    await deleter.flush();
    deleter.progress.listDone = true;
    await deleter.drain();
  } finally {
    await deleter.settle();
  }
  return { deleted: deleter.progress.deleted, failed: deleter.failed, notAttempted: run.notAttempted - notAttemptedBefore };
}

function checkBatchSize(batchSize = MAX_DELETE_BATCH): number {
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= MAX_DELETE_BATCH)) {
    throw new UsageError(`--batch-size must be a whole number from 1 to ${MAX_DELETE_BATCH}, got ${batchSize}`);
  }
  return batchSize;
}

/**
 * Fallback mode is refused for deletes: its stores hold different data, and the mode reads
 * from a later store what the first one lacks. Deleting on the first store only would bring a
 * later store's copy back into view; deleting on every store would reach stores fallback mode
 * only ever reads from (a backup, an archive). Neither is surely what the user meant.
 */
export function refuseFallbackDeletes(opts: ConnectionOptions): void {
  refuseFallback(resolveConnection(opts).pool);
}

function refuseFallback(pool: { mode: string; endpoints: readonly unknown[] }): void {
  if (pool.mode !== 'fallback' || pool.endpoints.length < 2) return;
  throw new UsageError('--mode fallback: deletes are refused (the stores hold different data, and a key deleted on one would still be read from another): use --mode replicate to delete on every store, or name one store with --endpoint-url');
}

/** A key's outcome on one store: undefined = deleted there, else the error. */
type StoreOutcome = Map<string, string>;

/**
 * The one DeleteObjects batcher (delete-prefix, sync --delete). Fills batches of up to
 * `batchSize` keys and keeps at most `concurrency` of them in flight (the caller waits in
 * `add`). In replicate mode every batch goes to every store, pinned there, and a key counts as
 * deleted only when every store deleted it; a failure names the store.
 */
class KeyDeleter {
  readonly progress: DeleteProgress = { listed: 0, listDone: false, deleted: 0, failed: 0, elapsedMs: 0 };
  private bytes = 0;
  /** the first MAX_NAMED_FAILURES keys not deleted */
  readonly failed: FailedKey[] = [];
  private batch: ListedObject[] = [];
  /** keys per request when a batch is sent: batchSize, or fewer to use the slots (no --batch-size) */
  private readonly splitInto: number;
  private readonly ticker: ProgressTicker<DeleteProgress>;
  private readonly perKey: PerKeyTime;
  /** batches in flight: at most `concurrency` */
  private readonly batches: Dispatch;
  private readonly bucket: string;
  /** replicate: every endpoint (each batch pinned to each); otherwise one unpinned send */
  private readonly stores: Array<Endpoint | undefined>;
  /** replicate: keys deleted / failed per store */
  private readonly perStore = new Map<Endpoint, { ok: number; failed: number }>();

  constructor(
    private readonly run: Run,
    private readonly batchSize: number,
    private readonly hooks: { onProgress?: (p: DeleteProgress) => void; onFailure?: (f: FailedKey) => void; split?: boolean },
  ) {
    this.bucket = run.bucket;
    this.ticker = run.ticker(this.progress, hooks.onProgress);
    this.perKey = new PerKeyTime(run.conn.estimator);
    this.batches = run.dispatch(run.conn.concurrency);
    this.splitInto = hooks.split ? run.conn.concurrency : 1;
    this.stores = run.pool.mode === 'replicate' && run.pool.endpoints.length > 1 ? [...run.pool.endpoints] : [undefined];
    for (const ep of this.stores) if (ep) this.perStore.set(ep, { ok: 0, failed: 0 });
  }

  tick(force = false): void { this.ticker.tick(force); }

  /** Counts objects as deleted (or, in a dry run, as would be). */
  counted(objs: readonly ListedObject[]): void {
    this.progress.deleted += objs.length;
    for (const o of objs) this.bytes += o.bytes;
  }

  private fail(key: string, error: string, stores?: string[]): void {
    this.progress.failed++;
    const f: FailedKey = { key, error, ...(stores && { stores }) };
    if (this.failed.length < MAX_NAMED_FAILURES) this.failed.push(f);
    this.hooks.onFailure?.(f);
    this.run.logger.warn({ key, error }, 'not deleted');
  }

  /** Queues one key; waits while `concurrency` batches are in flight. */
  async add(o: ListedObject): Promise<void> {
    if (this.run.signal.aborted) { this.run.notAttempted++; return; }
    // Keys XML 1.0 cannot carry fail a whole DeleteObjects (RGW: 400): each goes alone.
    if (XML_UNSAFE.test(o.key)) return this.dispatch([o], true);
    this.batch.push(o);
    if (this.batch.length >= this.batchSize) await this.flush();
  }

  /** Sends the batch being filled: as one request, or split in up to `splitInto` of at least MIN_SPLIT_BATCH keys. */
  async flush(): Promise<void> {
    const objs = this.batch;
    this.batch = [];
    if (objs.length === 0) return;
    const per = this.splitInto > 1 ? Math.max(MIN_SPLIT_BATCH, Math.ceil(objs.length / this.splitInto)) : objs.length;
    for (let i = 0; i < objs.length; i += per) await this.dispatch(objs.slice(i, i + per), false);
  }

  /** The batch being filled is not sent (the listing failed or was interrupted). */
  dropPending(): void {
    this.run.notAttempted += this.batch.length;
    this.batch = [];
  }

  drain(): Promise<unknown> { return this.batches.drain().then(() => this.tick(true)); }
  settle(): Promise<unknown> { return this.batches.settle(); }

  private async dispatch(objs: ListedObject[], single: boolean): Promise<void> {
    await this.batches.take(() => this.onEveryStore(objs, single), objs.length);
  }

  /** Sends the batch to each store and combines: deleted only where no store failed. */
  private async onEveryStore(objs: ListedObject[], single: boolean): Promise<void> {
    const results = await Promise.allSettled(this.stores.map((ep) => this.sendOn(objs, single, ep)));
    if (results.some((r) => r.status === 'rejected' && r.reason instanceof Interrupted)) {
      this.run.notAttempted += objs.length; // cut by the interrupt: state unknown
      return;
    }
    const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value : this.batchFailed(objs, r.reason)));
    const ok: ListedObject[] = [];
    for (const o of objs) {
      const errs: Array<[string | undefined, string]> = [];
      outcomes.forEach((out, i) => {
        const e = out.get(o.key);
        const store = this.stores[i];
        const tally = store && this.perStore.get(store);
        if (tally) { if (e === undefined) tally.ok++; else tally.failed++; }
        if (e !== undefined) errs.push([store?.name, e]);
      });
      if (errs.length === 0) ok.push(o);
      else if (errs[0]![0] === undefined) this.fail(o.key, errs[0]![1]);
      else this.fail(o.key, errs.map(([name, e]) => `on ${name}: ${e}`).join('; '), errs.map(([name]) => name!));
    }
    this.counted(ok);
    this.tick();
  }

  /** A request failed as a whole: every key of the batch failed with its error; a fatal one stops the run. */
  private batchFailed(objs: readonly ListedObject[], err: unknown): StoreOutcome {
    this.run.stopIfFatal(err);
    const message = err instanceof RequestFailed ? `${err.facts.code}${err.facts.message && err.facts.message !== err.facts.code ? `: ${err.facts.message}` : ''}` : String(err);
    return new Map(objs.map((o) => [o.key, message]));
  }

  /** One store's outcome for the batch: the keys it could not delete, with their errors. */
  private async sendOn(objs: ListedObject[], single: boolean, ep: Endpoint | undefined): Promise<StoreOutcome> {
    if (single) {
      const key = objs[0]!.key;
      await this.run.engine.run({
        op: 'DeleteObject', key, bytes: 0, bucket: this.bucket, ...(ep && { endpoint: ep }),
        send: (e, signal) => e.store.deleteObject({ bucket: this.bucket, key }, signal),
      });
      return new Map();
    }
    const failures: StoreOutcome = new Map();
    let pending = objs;
    for (let round = 0; ; round++) {
      const errors = await this.deleteObjects(pending, ep);
      const byKey = new Map(pending.map((o) => [o.key, o]));
      const again: ListedObject[] = [];
      for (const e of errors) {
        const o = e.key !== undefined ? byKey.get(e.key) : undefined;
        if (!o) continue;
        const code = e.code ?? 'Error';
        if (decide({ code, message: e.message ?? '' }) === 'retry' && round < this.run.conn.retry.retries) again.push(o);
        else failures.set(o.key, `${code}${e.message && e.message !== code ? `: ${e.message}` : ''}`);
      }
      if (again.length === 0) return failures;
      this.run.logger.info({ keys: again.length, round: round + 1, endpoint: ep?.name }, 'DeleteObjects: transient per-key errors, sending those keys again');
      await sleepMs(backoffMs(round, this.run.conn.retry.backoffBaseMs, this.run.conn.retry.backoffCapMs), this.run.signal).catch(() => {
        throw new Interrupted();
      });
      pending = again;
    }
  }

  /** One DeleteObjects (Quiet: the answer lists only the keys it could not delete). */
  private async deleteObjects(batch: readonly ListedObject[], ep: Endpoint | undefined): Promise<DeleteObjectsOutput['errors']> {
    const n = batch.length;
    const out = await this.run.engine.run<DeleteObjectsOutput>({
      op: 'DeleteObjects', key: n === 1 ? batch[0]!.key : `${batch[0]!.key} … ${batch[n - 1]!.key} (${n} keys)`, bytes: 0, bucket: this.bucket,
      ...(ep && { endpoint: ep }),
      // a DeleteObjects takes time per key (~3 ms each on one RGW gateway here), not per byte
      deadlineMs: this.perKey.deadlineMs(n),
      send: async (e, signal) => {
        const t0 = performance.now();
        const res = await e.store.deleteObjects({ bucket: this.bucket, keys: batch.map((o) => o.key) }, signal);
        this.perKey.record(n, performance.now() - t0);
        return res;
      },
    });
    return out.errors;
  }

  summary(where: { bucket: string; prefix: string; dryRun: boolean }): DeleteSummary {
    const { progress } = this;
    return {
      ...where, listed: progress.listed, deleted: progress.deleted, bytes: this.bytes, failed: this.failed, failedCount: progress.failed,
      ...this.run.totals(where.dryRun ? 0 : progress.deleted, this.perStore.size > 0 ? this.perStore : undefined),
    };
  }
}

/** Characters XML 1.0 cannot carry, even escaped. */
const XML_UNSAFE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

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
