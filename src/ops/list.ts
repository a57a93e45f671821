/**
 * Listing: ListObjectsV2 pages streamed one at a time (memory flat in the number of keys), every
 * page through the RequestEngine as a read; and `list()`, the engine of `s3x ls`.
 *
 * Pages are followed by IsTruncated / NextContinuationToken only: a page may hold fewer than
 * MaxKeys entries and still be truncated (delimiter views do that), so its length says nothing.
 */
import type { ListObjectsPage } from '../endpoints/store.js';
import type { ConnectionOptions } from '../config/options.js';
import { FatalRunError, UsageError } from '../errors.js';
import { isSelected, selectKeys, type KeySelection, type PrefixOptions } from '../fs/key-prefix.js';
import type { Logger } from '../logger.js';
import { describeFatal } from '../run/context.js';
import { Run } from '../run/run.js';
import { Interrupted, RequestFailed, type RequestEngine, type RequestReport } from '../engine/request.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { EndpointSummary } from '../run/summary.js';
import { compareKeys, Cursor } from '../fs/key-order.js';

/** One object as listed. */
export interface ListedObject {
  key: string;
  bytes: number;
  /** as S3 lists it, quotes included */
  etag?: string;
  lastModified?: Date;
  storageClass?: string;
  /** replicate mode (listSorted): some store lacks this key or holds another size of it */
  replicasDiffer?: boolean;
}

/** One page: objects and, in a delimiter view, the common prefixes ("folders"). */
export interface ListPage {
  objects: ListedObject[];
  prefixes: string[];
}

/** The fields of a ListObjectsV2 answer the pager reads. */
export type PageAnswer = ListObjectsPage;

/** Thrown when a server's paging would loop or cannot go on. */
export class ListingError extends Error {
  readonly code = 'ListingError';
  constructor(message: string) { super(message); this.name = 'ListingError'; }
}

/**
 * Streams pages from `fetch(continuationToken)` until a page says it is not truncated. Throws
 * ListingError when a truncated page has no token, or repeats the token it was asked with (a
 * server bug that would otherwise loop forever).
 */
export async function* pages(fetch: (continuationToken: string | undefined) => Promise<PageAnswer>): AsyncGenerator<ListPage> {
  let token: string | undefined;
  for (;;) {
    const answer = await fetch(token);
    const objects: ListedObject[] = [];
    for (const o of answer.Contents ?? []) {
      if (o.Key === undefined) continue;
      objects.push({
        key: o.Key, bytes: o.Size ?? 0,
        ...(o.ETag !== undefined && { etag: o.ETag }),
        ...(o.LastModified !== undefined && { lastModified: o.LastModified }),
        ...(o.StorageClass !== undefined && { storageClass: o.StorageClass }),
      });
    }
    const prefixes = (answer.CommonPrefixes ?? []).flatMap((p) => (p.Prefix !== undefined ? [p.Prefix] : []));
    yield { objects, prefixes };
    if (!answer.IsTruncated) return;
    const next = answer.NextContinuationToken;
    if (!next) throw new ListingError('the server says the listing is truncated but gives no continuation token');
    if (next === token) throw new ListingError('the server returned the same continuation token twice');
    token = next;
  }
}

/**
 * True when a listed key is inside the selection. The server filters by prefix too; a key it
 * sends outside it is named in the log and never acted on.
 */
export function keptBySelection(sel: KeySelection, key: string, logger: Logger): boolean {
  if (isSelected(sel, key)) return true;
  logger.warn({ key, prefix: sel.prefix }, 'the server listed a key outside the prefix: ignored');
  return false;
}

/** Why the listing of bucket/prefix cannot go on, in one line; undefined for an error that is not a listing's. */
export function listingFailure(err: unknown, bucket: string, prefix: string): string | undefined {
  if (err instanceof RequestFailed) return `listing s3://${bucket}/${prefix} failed: ${describeFatal(err, bucket, err.endpoint.label)}`;
  if (err instanceof ListingError) return `listing s3://${bucket}/${prefix} failed: ${err.message}`;
  return undefined;
}

/**
 * What a listing's failed first page says where a preflight would have run before it: the
 * preflight's own line (a missing bucket, rejected credentials, an endpoint out of reach), except
 * AccessDenied, which the preflight lets pass (a user may write without listing) and the listing
 * then reports as its own failure.
 */
export function firstPageFailure(err: unknown, bucket: string, prefix: string): string | undefined {
  if (err instanceof RequestFailed && err.facts.code !== 'AccessDenied') return describeFatal(err, bucket, err.endpoint.label);
  return listingFailure(err, bucket, prefix);
}

/**
 * A listing that fails mid-run stops the run (what was listed is still finished); an interrupt
 * is the caller's; any other error is rethrown.
 */
export function stopOnListingFailure(run: Pick<Run, 'bucket' | 'stop'>, err: unknown, prefix: string): void {
  if (err instanceof Interrupted) return;
  const why = listingFailure(err, run.bucket, prefix);
  if (why === undefined) throw err;
  run.stop(why);
}

/**
 * ListObjectsV2 through the engine (a 'read'). A continuation token is only ever sent to the
 * store that issued it. In pool mode the endpoints front one store (pages may fail over), unless
 * the config says they do not share storage: then every page follows the first one's endpoint.
 * In fallback and replicate modes the stores hold different data: every store is listed in
 * order, each pinned, and the pages merged, a key's first occurrence winning (so the set of keys
 * seen is kept in memory). Fallback skips a store that fails as long as another one answers (GETs
 * then fall back per object); replicate does not (a delete must reach every store's keys).
 */
export function listThrough(
  engine: RequestEngine, bucket: string, prefix: string,
  opts: { delimiter?: string; pageSizeKeys?: number } = {},
): AsyncGenerator<ListPage> {
  const pool = engine.pool;
  if (pool.endpoints.length === 1 || (pool.mode === 'pool' && pool.sharedStorage)) return listOn(engine, bucket, prefix, opts, undefined);
  if (pool.mode === 'pool') return listOn(engine, bucket, prefix, opts, 'sticky');
  const skipFailingStore = pool.mode === 'fallback';
  return (async function* (): AsyncGenerator<ListPage> {
    const seen = new Set<string>();
    let firstError: unknown;
    let answered = 0;
    for (const ep of pool.endpoints) {
      try {
        for await (const page of listOn(engine, bucket, prefix, opts, ep)) {
          const objects = page.objects.filter((o) => !seen.has(o.key));
          for (const o of objects) seen.add(o.key);
          const prefixes = page.prefixes.filter((p) => !seen.has(p));
          for (const p of prefixes) seen.add(p);
          yield { objects, prefixes };
        }
        answered++;
      } catch (err) {
        // a store without the bucket is a miss in fallback mode; credentials, interrupts are not
        if (!skipFailingStore || !(err instanceof RequestFailed) || (err.decision === 'fatal' && err.facts.code !== 'NoSuchBucket')) throw err;
        firstError ??= err;
      }
    }
    if (answered === 0 && firstError) throw firstError;
  })();
}

/**
 * Every object under the prefix in key order (UTF-8 bytes, as S3 lists), for sync and
 * --skip-existing to merge with the sorted local side (./key-join.ts): one page held at a time,
 * the next one fetched meanwhile. A key listed out of order or twice stops the listing
 * (ListingError): the merge would take it for one with no local file. Several stores (replicate,
 * fallback) are merged by key: a key is kept as the first store lists it; in replicate mode it is
 * marked `replicasDiffer` when a store lacks it or holds another size (ETags are not compared:
 * SSE-KMS gives each store its own), so a missing replica is sent again. Fallback skips a store
 * that fails as long as another one answers, as listThrough does.
 */
export function listSorted(engine: RequestEngine, bucket: string, prefix: string): AsyncGenerator<ListedObject[]> {
  const pool = engine.pool;
  const one = (ep: Endpoint | 'sticky' | undefined): AsyncGenerator<ListedObject[]> => inKeyOrder(objectsOf(listOn(engine, bucket, prefix, {}, ep), prefix));
  if (pool.endpoints.length === 1 || (pool.mode === 'pool' && pool.sharedStorage)) return one(undefined);
  if (pool.mode === 'pool') return one('sticky');
  return mergeStores(pool.endpoints.map((ep) => one(ep)), pool.mode === 'replicate');
}

/** The objects of each page under the prefix, the next page requested while this one is read. */
async function* objectsOf(pager: AsyncGenerator<ListPage>, prefix: string): AsyncGenerator<ListedObject[]> {
  let next = pager.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = pager.next();
      next.catch(() => {}); // its failure is thrown where it is awaited
      yield r.value.objects.filter((o) => o.key.startsWith(prefix));
    }
  } finally {
    void pager.return(undefined).catch(() => {});
  }
}

async function* inKeyOrder(pages: AsyncGenerator<ListedObject[]>): AsyncGenerator<ListedObject[]> {
  let last: string | undefined;
  for await (const objects of pages) {
    for (const o of objects) {
      if (last !== undefined && compareKeys(last, o.key) >= 0) {
        throw new ListingError(`the server listed '${o.key}' after '${last}': not in key order, so keys with no local file cannot be told apart`);
      }
      last = o.key;
    }
    yield objects;
  }
}

/** The stores' sorted listings as one (see listSorted); `replicas`: replicate mode, else fallback. */
async function* mergeStores(stores: Array<AsyncGenerator<ListedObject[]>>, replicas: boolean): AsyncGenerator<ListedObject[]> {
  const cursors = stores.map((st) => new Cursor(st));
  const live = new Set<Cursor<ListedObject>>();
  let answered = 0;
  let firstError: unknown;
  const advance = async (c: Cursor<ListedObject>): Promise<void> => {
    try {
      if (c.head !== undefined || (await c.fill())) return;
      answered++;
    } catch (err) {
      // a store without the bucket is a miss in fallback mode; credentials, interrupts are not
      if (replicas || !(err instanceof RequestFailed) || (err.decision === 'fatal' && err.facts.code !== 'NoSuchBucket')) throw err;
      firstError ??= err;
    }
    live.delete(c);
  };
  try {
    for (const c of cursors) live.add(c);
    await Promise.all(cursors.map(advance));
    yield* mergedHeads(cursors, live, replicas, advance);
  } finally {
    for (const c of cursors) void c.close()?.catch(() => {});
  }
  if (answered === 0 && firstError) throw firstError;
}

/** mergeStores' loop: the least key among the heads, then every store that held it moves on. */
async function* mergedHeads(
  cursors: Array<Cursor<ListedObject>>, live: Set<Cursor<ListedObject>>, replicas: boolean, advance: (c: Cursor<ListedObject>) => Promise<void>,
): AsyncGenerator<ListedObject[]> {
  let out: ListedObject[] = [];
  while (live.size > 0) {
    let min: string | undefined;
    for (const c of live) if (min === undefined || compareKeys(c.head!.key, min) < 0) min = c.head!.key;
    const holding = cursors.filter((c) => live.has(c) && c.head!.key === min);
    const first = holding[0]!.head!;
    const differ = replicas && (holding.length < cursors.length || holding.some((c) => c.head!.bytes !== first.bytes));
    out.push(differ ? { ...first, replicasDiffer: true } : first);
    for (const c of holding) c.take();
    await Promise.all(holding.map(advance));
    if (out.length >= 1000) { yield out; out = []; }
  }
  if (out.length > 0) yield out;
}

/**
 * The pages of one listing. `endpoint`: every page on that one; 'sticky': the first page where
 * the pool routes it, the next ones where the first was answered; undefined: any endpoint.
 */
function listOn(
  engine: RequestEngine, bucket: string, prefix: string,
  opts: { delimiter?: string; pageSizeKeys?: number }, endpoint: Endpoint | 'sticky' | undefined,
): AsyncGenerator<ListPage> {
  let pinned = endpoint === 'sticky' ? undefined : endpoint;
  return pages(async (token) => {
    // a page may be hedged (two copies at once): the endpoint that answered is the one returned
    const answered = await engine.run({
      op: 'ListObjectsV2', key: prefix, bytes: 0, kind: 'read', bucket, ...(pinned && { endpoint: pinned }), hedge: true,
      send: async (ep, signal) => ({
        ep, page: await ep.store.listObjectsV2({ bucket, prefix, delimiter: opts.delimiter, maxKeys: opts.pageSizeKeys, continuationToken: token }, signal),
      }),
    });
    if (endpoint === 'sticky') pinned = answered.ep;
    return answered.page;
  });
}

export interface ListOptions extends ConnectionOptions, PrefixOptions {
  /** every key under the prefix; default: one level, sub-folders shown as prefixes */
  recursive?: boolean;
  /** MaxKeys per ListObjectsV2 page, 1–1000; default the server's (1000) */
  pageSizeKeys?: number;
  /** one call per entry, in key order; nothing is kept in memory */
  onEntry: (e: ListEntry) => void;
  onReport?: (r: RequestReport) => void;
}

/** One line of `ls`: an object, or (delimiter view) a common prefix. */
export type ListEntry =
  | ({ type: 'object' } & ListedObject)
  | { type: 'prefix'; prefix: string };

export interface ListSummary {
  bucket: string;
  /** the prefix listed, as sent to the server */
  prefix: string;
  recursive: boolean;
  objects: number;
  bytes: number;
  prefixes: number;
  pages: number;
  wallMs: number;
  requests: number;
  retries: number;
  interrupted: boolean;
  endpoints: EndpointSummary[];
}

/**
 * Lists bucket/prefix page by page, calling `onEntry` for each object and common prefix in key
 * order. Throws UsageError / FatalRunError (bucket missing, credentials, listing refused).
 * No preflight: the first page is the same check one round trip sooner (`s3x ls` was a
 * preflight, then the page: 25-30 ms of a 0.24-0.33 s run on a bucket of ~20,000 keys,
 * docs/benchmarks.md), and its failure reads as the preflight's would (firstPageFailure).
 */
export async function list(opts: ListOptions): Promise<ListSummary> {
  if (!opts.bucket) throw new UsageError('a bucket name is required');
  const pageSizeKeys = opts.pageSizeKeys;
  if (pageSizeKeys !== undefined && !(Number.isInteger(pageSizeKeys) && pageSizeKeys >= 1 && pageSizeKeys <= 1000)) {
    throw new UsageError(`--page-size must be a whole number from 1 to 1000, got ${pageSizeKeys}`);
  }
  const sel = selectKeys(opts.prefix, opts.rawPrefix);
  const recursive = opts.recursive ?? false;
  const run = Run.open(opts, opts.bucket, { onReport: opts.onReport });
  let objects = 0;
  let bytes = 0;
  let prefixes = 0;
  let pageCount = 0;
  try {
    const pager = listThrough(run.engine, opts.bucket, sel.prefix, {
      ...(!recursive && { delimiter: '/' }),
      ...(pageSizeKeys !== undefined && { pageSizeKeys }),
    });
    for await (const page of pager) {
      pageCount++;
      for (const e of mergeByKey(page)) {
        if (e.type === 'object') {
          if (!isSelected(sel, e.key)) continue;
          objects++;
          bytes += e.bytes;
        } else {
          if (!isSelected(sel, e.prefix)) continue;
          prefixes++;
        }
        opts.onEntry(e);
      }
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) {
      const why = pageCount === 0 ? firstPageFailure(err, opts.bucket, sel.prefix) : listingFailure(err, opts.bucket, sel.prefix);
      throw why !== undefined ? new FatalRunError(why) : err;
    }
  } finally {
    run.close();
  }
  return {
    bucket: opts.bucket, prefix: sel.prefix, recursive, objects, bytes, prefixes, pages: pageCount,
    wallMs: run.wallMs, requests: run.requests, retries: run.retries, interrupted: run.interrupted, endpoints: run.endpoints(),
  };
}

/** A page's objects and prefixes as one sequence in key order (each list comes sorted). */
export function mergeByKey(page: ListPage): ListEntry[] {
  const out: ListEntry[] = [];
  let i = 0;
  let j = 0;
  const { objects, prefixes } = page;
  while (i < objects.length || j < prefixes.length) {
    if (j >= prefixes.length || (i < objects.length && objects[i]!.key < prefixes[j]!)) out.push({ type: 'object', ...objects[i++]! });
    else out.push({ type: 'prefix', prefix: prefixes[j++]! });
  }
  return out;
}
