/**
 * S3 lists keys in UTF-8 byte order; sync merges the sorted local side with the listing
 * (src/ops/key-join.ts), so both must agree on that order. `sortByKey` sorts a stream of any
 * size in that order with flat memory: runs of `runItems` are sorted in memory and, when there
 * is more than one run, spilled to temporary files and merged back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * UTF-8 byte order of two strings (= code point order). JS `<` compares UTF-16 units, which
 * differs only where a surrogate (part of a code point ≥ U+10000) meets a unit ≥ U+E000.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // surrogates after U+E000–U+FFFF: shift both ranges into code point order
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

export interface SortOptions<T> {
  key: (item: T) => string;
  /** one line (no line break) that `fromLine` turns back into the item */
  toLine: (item: T) => string;
  fromLine: (line: string) => T;
  /** items held in memory at once; default 10,000 */
  runItems?: number;
}

/** An item and its key, as sortByKey yields them. */
export interface Keyed<T> { k: string; v: T }

const byKey = <T>(a: Keyed<T>, b: Keyed<T>): number => compareKeys(a.k, b.k);

/** Items merged per batch: the consumer awaits once per batch, not once per item. */
const BATCH_ITEMS = 128;

/**
 * `items` in key order (equal keys in input order), in batches; temporary files are removed
 * when it ends. A spilled line is the key's length, ':', the key, then `toLine`.
 */
export async function* sortByKey<T>(items: AsyncIterable<T>, o: SortOptions<T>): AsyncGenerator<Array<Keyed<T>>> {
  const runItems = o.runItems ?? 10_000;
  let run: Array<Keyed<T>> = [];
  let dir: string | undefined;
  const files: string[] = [];
  try {
    for await (const v of items) {
      run.push({ k: o.key(v), v });
      if (run.length < runItems) continue;
      dir ??= await fs.promises.mkdtemp(path.join(os.tmpdir(), 's3x-sort-'));
      const file = path.join(dir, `run-${files.length}`);
      await fs.promises.writeFile(file, run.sort(byKey).map((e) => `${e.k.length}:${lineOf(e.k)}${lineOf(o.toLine(e.v))}\n`).join(''));
      files.push(file);
      run = [];
    }
    run.sort(byKey);
    if (files.length === 0) {
      if (run.length > 0) yield run;
      return;
    }
    const decode = (line: string): Keyed<T> => {
      const colon = line.indexOf(':');
      const end = colon + 1 + Number(line.slice(0, colon));
      return { k: line.slice(colon + 1, end), v: o.fromLine(line.slice(end)) };
    };
    const spilled = files.map((f) => ({ cursor: new Cursor(readLines(f)), decode }));
    const inMemory = { cursor: new Cursor((async function* () { yield run; })()), decode: (e: Keyed<T>) => e };
    yield* mergeSorted<T, string | Keyed<T>>([...spilled, inMemory] as Array<RunCursor<T, string | Keyed<T>>>);
  } finally {
    if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

function lineOf(s: string): string {
  if (s.includes('\n')) throw new Error(`sortByKey: a line break in ${JSON.stringify(s)}`);
  return s;
}

/**
 * A spilled run's lines, a batch per 16 KiB read. They stay lines until merged: a batch waits
 * while the other runs are merged, long enough for V8 to promote it to old space, where a line
 * costs a tenth of the object it becomes (bench S8's peak RSS).
 */
async function* readLines(file: string): AsyncGenerator<string[]> {
  let rest = '';
  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 16 * 1024 })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop()!;
    yield lines;
  }
}

/** Reads a stream of batches item by item; only a new batch is awaited. */
export class Cursor<T> {
  private items: T[] = [];
  private i = 0;

  constructor(private readonly source: AsyncIterator<T[]>) {}

  /** The current item; undefined when a batch must be read first (fill) or the source is over. */
  get head(): T | undefined {
    return this.items[this.i];
  }

  take(): T {
    return this.items[this.i++]!;
  }

  /** Reads batches until there is an item; false when the source is over. */
  async fill(): Promise<boolean> {
    while (this.i >= this.items.length) {
      const r = await this.source.next();
      if (r.done) return false;
      this.items = r.value;
      this.i = 0;
    }
    return true;
  }

  close(): Promise<unknown> | undefined {
    return this.source.return?.(undefined);
  }
}

/** A sorted run being merged: its items as read, and how one becomes an item with its key. */
interface RunCursor<T, R> { cursor: Cursor<R>; decode: (raw: R) => Keyed<T> }

/** k sorted runs as one (a binary heap of their heads; ties to the earlier run), in batches. */
async function* mergeSorted<T, R>(runs: Array<RunCursor<T, R>>): AsyncGenerator<Array<Keyed<T>>> {
  const heap = new HeadHeap<T, R>();
  const enter = async (run: RunCursor<T, R>, i: number): Promise<void> => {
    if (run.cursor.head !== undefined || (await run.cursor.fill())) heap.push({ head: run.decode(run.cursor.head!), run, i });
  };
  try {
    for (const [i, run] of runs.entries()) await enter(run, i);
    let out: Array<Keyed<T>> = [];
    while (heap.size > 0) {
      const { head, run, i } = heap.pop();
      out.push(head);
      run.cursor.take();
      await enter(run, i);
      if (out.length >= BATCH_ITEMS) { yield out; out = []; }
    }
    if (out.length > 0) yield out;
  } finally {
    // a merge left early closes its files before they are removed
    for (const run of runs) await run.cursor.close();
  }
}

interface Head<T, R> { head: Keyed<T>; run: RunCursor<T, R>; i: number }

/** A binary min-heap of runs by their head's key, then by run index. */
class HeadHeap<T, R> {
  private readonly h: Array<Head<T, R>> = [];

  get size(): number { return this.h.length; }

  private less(a: number, b: number): boolean {
    const x = this.h[a]!;
    const y = this.h[b]!;
    const d = compareKeys(x.head.k, y.head.k);
    return d < 0 || (d === 0 && x.i < y.i);
  }

  private swap(a: number, b: number): void { [this.h[a], this.h[b]] = [this.h[b]!, this.h[a]!]; }

  push(e: Head<T, R>): void {
    let j = this.h.push(e) - 1;
    while (j > 0 && this.less(j, (j - 1) >> 1)) { this.swap(j, (j - 1) >> 1); j = (j - 1) >> 1; }
  }

  pop(): Head<T, R> {
    const top = this.h[0]!;
    const last = this.h.pop()!;
    if (this.h.length === 0) return top;
    this.h[0] = last;
    for (let j = 0; ;) {
      const l = 2 * j + 1;
      let m = j;
      if (l < this.h.length && this.less(l, m)) m = l;
      if (l + 1 < this.h.length && this.less(l + 1, m)) m = l + 1;
      if (m === j) return top;
      this.swap(j, m);
      j = m;
    }
  }
}

/**
 * Strings kept in order, memory flat: past `memoryItems` (default 10,000) they go to a temporary
 * file, one JSON string a line (a key may hold any character). Read them back with `items()`;
 * `dispose()` removes the file.
 */
export class SpilledList {
  count = 0;
  private held: string[] = [];
  private dir: string | undefined;
  private file: string | undefined;

  constructor(private readonly memoryItems = 10_000) {}

  push(s: string): void {
    this.count++;
    this.held.push(s);
    if (this.held.length < this.memoryItems) return;
    if (!this.file) {
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-keys-'));
      this.file = path.join(this.dir, 'keys');
    }
    // synchronous: push() is called from a loop that must not wait (./key-join.ts)
    fs.appendFileSync(this.file, this.held.map((k) => `${JSON.stringify(k)}\n`).join(''));
    this.held = [];
  }

  /** Every string pushed, in order. */
  async *items(): AsyncGenerator<string> {
    if (this.file) {
      for await (const lines of readLines(this.file)) for (const line of lines) yield JSON.parse(line) as string;
    }
    yield* this.held;
  }

  dispose(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.file = undefined;
  }
}
