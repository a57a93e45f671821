/**
 * sync and --skip-existing without the whole listing in memory: the walk is sorted in key order
 * (src/fs/key-order.ts, spilled to disk past 10,000 files) and merged with the listing, which S3
 * gives in the same order (list.ts listSorted). Each local file meets the object under its key,
 * if any; an object that no local file meets is remote-only (./remote-only.ts decides which
 * count). Memory: one run of the sort and one listing page, whatever the number of keys.
 */
import path from 'node:path';
import { keyFor } from '../fs/keys.js';
import { compareKeys, Cursor, sortByKey, SpilledList, type Keyed } from '../fs/key-order.js';
import type { FileEntry } from '../fs/walk.js';
import type { Run } from '../run/run.js';
import { stopOnListingFailure, type ListedObject } from './list.js';
import { remoteOnlySelector, type RemoteSelection } from './remote-only.js';

/** A local item, its key (computed once, by the sort), and the object under that key if any. */
export interface Joined<L> { local: L; key: string; remote: ListedObject | undefined }

/**
 * `local` (batches in key order) with the object of `remote` (batches in key order, keys
 * unique) under the same key; `onRemoteOnly` gets, in key order, every object no local item met.
 * The local side is read first: the walk is over before the first remote-only object is named.
 */
export async function* joinByKey<L>(
  local: AsyncIterable<Array<Keyed<L>>>, remote: AsyncIterator<ListedObject[]>, onRemoteOnly: (o: ListedObject) => void,
): AsyncGenerator<Joined<L>> {
  const r = new Cursor(remote);
  let started = false;
  let lastKey: string | undefined;
  for await (const batch of local) {
    if (!started) { started = true; await r.fill(); }
    for (const { k, v } of batch) {
      if (lastKey !== undefined && compareKeys(lastKey, k) > 0) throw new Error(`joinByKey: local side not in key order ('${k}' after '${lastKey}')`);
      lastKey = k;
      while (r.head !== undefined && compareKeys(r.head.key, k) < 0) {
        onRemoteOnly(r.take());
        if (r.head === undefined) await r.fill();
      }
      if (r.head?.key !== k) { yield { local: v, key: k, remote: undefined }; continue; }
      const matched = r.take();
      if (r.head === undefined) await r.fill();
      yield { local: v, key: k, remote: matched };
    }
  }
  if (!started) await r.fill();
  while (r.head !== undefined) {
    onRemoteOnly(r.take());
    if (r.head === undefined) await r.fill();
  }
}

/** The walk joined with the listing for one upload run, and what the join found remote-only. */
export class ListingJoin {
  /** remote-only keys the same filters and shard would have taken (plan.remoteOnly) */
  remoteOnlyCount = 0;
  /** with `collect`: those keys, in key order (spilled to disk past 10,000) */
  readonly remoteOnlyKeys = new SpilledList();
  private listingEnded = false;
  private listingFailed = false;

  constructor(private readonly run: Run, private readonly sel: RemoteSelection, private readonly collect: boolean) {}

  /** true once the listing was read to its end (not stopped by a failure or an interrupt) */
  get complete(): boolean {
    return this.listingEnded && !this.listingFailed;
  }

  /** Each walked file with the object under its key, in key order. */
  files(walk: AsyncIterable<FileEntry>, listing: AsyncGenerator<ListedObject[]>): AsyncGenerator<Joined<FileEntry>> {
    const root = path.resolve(this.sel.dir);
    const sorted = sortByKey(walk, { key: (f) => keyFor(this.sel.prefix, f.rel), toLine: fileLine, fromLine: (line) => fileOfLine(root, line) });
    let selected: ((key: string) => boolean) | undefined;
    return joinByKey(sorted, this.guarded(listing), (o) => {
      // built on the first remote-only key: the walk is over, every unread path is known
      selected ??= remoteOnlySelector(this.sel);
      if (!selected(o.key)) return;
      this.remoteOnlyCount++;
      if (this.collect) this.remoteOnlyKeys.push(o.key);
    });
  }

  /**
   * The listing, ended early when it fails (the run is stopped: list.ts stopOnListingFailure) or
   * the run stops: the files left then meet no object, and are not sent (the run is stopped).
   */
  private async *guarded(listing: AsyncGenerator<ListedObject[]>): AsyncGenerator<ListedObject[]> {
    try {
      for await (const page of listing) {
        if (this.run.signal.aborted) { this.listingFailed = true; return; }
        yield page;
      }
      this.listingEnded = true;
    } catch (err) {
      stopOnListingFailure(this.run, err, this.sel.prefix ? `${this.sel.prefix}/` : '');
      this.listingFailed = true;
    }
  }
}

/** A walked file as one line of the sort's spill: the numbers, then the relative path (any character but a line break). */
function fileLine(f: FileEntry): string {
  return `${f.size}\t${f.mtimeMs}\t${f.ctimeMs}\t${f.ino}\t${f.dev}\t${f.rel}`;
}

function fileOfLine(root: string, line: string): FileEntry {
  const n: number[] = [];
  let at = 0;
  for (let i = 0; i < 5; i++) {
    const tab = line.indexOf('\t', at);
    n.push(Number(line.slice(at, tab)));
    at = tab + 1;
  }
  const rel = line.slice(at);
  // as src/fs/walk.ts makes it
  return { path: path.join(root, rel), rel, size: n[0]!, mtimeMs: n[1]!, ctimeMs: n[2]!, ino: n[3]!, dev: n[4]! };
}

/** The walk sorted in key order (what sync's both directions merge with the listing). */
export function sortedWalk(walk: AsyncIterable<FileEntry>, dir: string, prefix: string): AsyncGenerator<Array<Keyed<FileEntry>>> {
  const root = path.resolve(dir);
  return sortByKey(walk, { key: (f) => keyFor(prefix, f.rel), toLine: fileLine, fromLine: (line) => fileOfLine(root, line) });
}

/** A walked file as one line, and back (what sync-down.ts spills its delete candidates as). */
export const walkedFileLine = { to: fileLine, from: fileOfLine };

/** A key with what each side holds under it (at least one of the two). */
export interface Paired<L> { key: string; local: L | undefined; remote: ListedObject | undefined }

/**
 * Every key of either side once, in key order, with what each side holds under it (the
 * download direction of sync: ./sync-down.ts). The local side is read first, so the walk is
 * over before the first pair; the listing is read page by page as the merge reaches it.
 */
export async function* outerJoinByKey<L>(local: AsyncIterable<Array<Keyed<L>>>, remote: AsyncIterator<ListedObject[]>): AsyncGenerator<Paired<L>> {
  const l = new Cursor(local[Symbol.asyncIterator]());
  const r = new Cursor(remote);
  try {
    await l.fill();
    await r.fill();
    let lastKey: string | undefined;
    for (;;) {
      const a = l.head;
      const b = r.head;
      if (a === undefined && b === undefined) return;
      const d = a === undefined ? 1 : b === undefined ? -1 : compareKeys(a.k, b.key);
      if (d <= 0) {
        if (lastKey !== undefined && compareKeys(lastKey, a!.k) >= 0) throw new Error(`outerJoinByKey: local side not in key order ('${a!.k}' after '${lastKey}')`);
        lastKey = a!.k;
        l.take();
      }
      if (d >= 0) r.take();
      yield { key: d > 0 ? b!.key : a!.k, local: d <= 0 ? a!.v : undefined, remote: d >= 0 ? b : undefined };
      if (l.head === undefined) await l.fill();
      if (r.head === undefined) await r.fill();
    }
  } finally {
    await l.close();
  }
}
