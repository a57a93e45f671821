/**
 * Streams the files under a directory (fast-glob), as they are found: memory stays flat for
 * millions of files. Dotfiles are included. Symlinks are skipped unless `followSymlinks`;
 * when followed, a link back to one of its own ancestors (a loop) is reported and skipped.
 * Unreadable directories are reported and skipped; the walk goes on. --include/--exclude are
 * read by src/fs/select.ts, the same reading that filters remote keys.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import fg from 'fast-glob';
import { globPatterns, pathSelector } from './select.js';

export interface FileEntry {
  /** absolute path */
  path: string;
  /** path relative to the root, `/`-separated */
  rel: string;
  size: number;
  mtimeMs: number;
  /** with ino and dev: what upload compares after sending, to spot a file changed meanwhile */
  ctimeMs: number;
  ino: number;
  dev: number;
}

export interface WalkProblem {
  /** path relative to the root (or the root itself) */
  rel: string;
  reason: string;
  /** 'failed' counts toward exit 1 (something the user wanted was not read); 'skipped' does not */
  kind: 'failed' | 'skipped';
}

export interface WalkOptions {
  /** globs a file must match (any); default all. Patterns without `/` match the base name. */
  include?: string[];
  /** globs that exclude a file (any); same matching as include */
  exclude?: string[];
  followSymlinks?: boolean;
  onProblem?: (p: WalkProblem) => void;
  /** every directory listed (relative path, '.' = the root), with its entries' names */
  onDirectory?: (rel: string, names: string[]) => void;
  /**
   * A path the walk could not look at or under, whatever the patterns: a symlink not followed,
   * a broken link, an unreadable or looping directory. Nothing at or below it is known.
   */
  onUnread?: (rel: string) => void;
}

type Readdir = typeof fs.readdir;

const LINE_BREAK = /[\r\n\u2028\u2029]/;

export async function* walkFiles(root: string, opts: WalkOptions = {}): AsyncGenerator<FileEntry> {
  const absRoot = path.resolve(root);
  const onProblem = opts.onProblem ?? (() => {});
  const selected = pathSelector({ include: opts.include, exclude: opts.exclude, root: absRoot });
  await checkRoot(root, absRoot);
  const include = opts.include && opts.include.length > 0 ? globPatterns(opts.include) : ['**'];
  const tasks = fg.generateTasks(include, { baseNameMatch: true });
  const includeBases = new Set(tasks.map((t) => path.resolve(absRoot, t.base)));
  // pending = what fast-glob found and the loop below has not taken (its merge2 PassThrough)
  const ahead = new ReadAhead(WALK_AHEAD_ENTRIES, () => (stream as unknown as Duplex).readableLength + (stream as unknown as Duplex).writableLength);
  const stream = fg.stream(include, {
    cwd: absRoot,
    dot: true,
    onlyFiles: false,
    markDirectories: false,
    followSymbolicLinks: opts.followSymlinks ?? false,
    baseNameMatch: true,
    ignore: globPatterns(opts.exclude ?? []),
    objectMode: true,
    // No fs.Stats in the entries: fast-glob's walker reads ahead of a slow consumer, and with
    // a Stats object each buffered entry was ~1.6 KB (48 MiB for 30,000 files; bench S7). The
    // file is stat'ed below, as it is yielded: the same one syscall per file, held one at a time.
    stats: false,
    suppressErrors: false,
    // fast-glob's `unique` keeps every path yielded in a Map (memory growing with the walk); one
    // walk from one base yields a path once, so it is needed only across tasks or static patterns
    unique: tasks.length > 1 || tasks.some((t) => !t.dynamic),
    fs: { readdir: new ReportingReaddir(absRoot, opts, includeBases, ahead).readdir },
  });

  try {
    for await (const raw of stream) {
      ahead.taken();
      const entry = raw as unknown as { path: string; dirent: fs.Dirent };
      if (entry.dirent.isDirectory()) continue;
      // fast-glob can be looser than its own rule (a/** with exclude a); select.ts has the last word
      if (!selected(entry.path)) continue;
      const file = await regularFile(absRoot, entry.path, entry.dirent, opts.followSymlinks ?? false, onProblem);
      if (file) yield file;
    }
  } finally {
    ahead.close();
  }
}

/**
 * Entries found but not yet taken that the walk may hold before it stops reading directories.
 * fast-glob's stream ignores back-pressure: a walk faster than the uploads (always, for small
 * files) was buffered whole, ~1 KB per file (210 MiB of RSS at 100,000 files, issue 12).
 */
const WALK_AHEAD_ENTRIES = 1_000;

/** Holds directory reads while `limit` or more entries wait for the consumer. */
class ReadAhead {
  private readonly waiting: Array<(closed: boolean) => void> = [];
  private closed = false;

  constructor(private readonly limit: number, private readonly pending: () => number) {}

  /** Resolves (to true once the walk is closed: read nothing) when there is room to read. */
  room(): Promise<boolean> {
    if (this.closed || this.pending() < this.limit) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The consumer took an entry: reads wait no longer once there is room. */
  taken(): void {
    while (this.waiting.length > 0 && this.pending() < this.limit) this.waiting.shift()!(false);
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(true);
  }
}

/** The root must be a directory the walk can read; ENOENT / ENOTDIR are the caller's to report. */
async function checkRoot(root: string, absRoot: string): Promise<void> {
  const rootStat = await fs.promises.stat(absRoot);
  if (!rootStat.isDirectory()) {
    const e = new Error(`not a directory: ${root}`) as NodeJS.ErrnoException;
    e.code = 'ENOTDIR';
    throw e;
  }
  await fs.promises.access(absRoot, fs.constants.R_OK | fs.constants.X_OK);
}

/** A walked entry as a FileEntry when it is a regular file; anything else is reported and skipped. */
async function regularFile(
  absRoot: string, rel: string, dirent: fs.Dirent, followSymlinks: boolean, onProblem: (p: WalkProblem) => void,
): Promise<FileEntry | undefined> {
  // with followSymlinks the walker has already resolved links to what they point at; a link
  // still a link here is broken (or not to be followed)
  if (dirent.isSymbolicLink()) {
    onProblem({
      rel,
      reason: followSymlinks ? 'broken symlink' : 'symlink not followed (use --follow-symlinks)',
      kind: 'skipped',
    });
    return undefined;
  }
  if (!dirent.isFile()) {
    onProblem({ rel, reason: 'not a regular file', kind: 'skipped' });
    return undefined;
  }
  const abs = path.join(absRoot, rel);
  let st: fs.Stats;
  try {
    // sync: a stat is a few µs, a thread-pool round trip per file costs more client CPU (futex
    // wakes, an eventfd write) than the stat itself; the upload reads small bodies sync as well
    st = fs.statSync(abs);
  } catch (err) {
    onProblem({ rel, reason: `cannot stat: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, kind: 'failed' });
    return undefined;
  }
  if (!st.isFile()) {
    onProblem({ rel, reason: 'not a regular file', kind: 'skipped' });
    return undefined;
  }
  return { path: abs, rel, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

type Callback = (err: NodeJS.ErrnoException | null, files: unknown[]) => void;

/**
 * The readdir fast-glob is given. fast-glob stops the whole stream on the first readdir error;
 * this one reports the directory instead and lets the walk go on, and reports what a listing
 * shows the walk will not read: link loops, links not followed or broken, names with line breaks.
 */
class ReportingReaddir {
  /** Realpaths of directories, cached: used to spot a followed link that points at an ancestor. */
  private readonly realCache = new Map<string, Promise<string | undefined>>();
  private readonly onProblem: (p: WalkProblem) => void;
  private readonly onUnread: (rel: string) => void;

  constructor(
    private readonly absRoot: string, private readonly opts: WalkOptions,
    private readonly includeBases: ReadonlySet<string>, private readonly ahead: ReadAhead,
  ) {
    this.onProblem = opts.onProblem ?? (() => {});
    this.onUnread = opts.onUnread ?? (() => {});
  }

  readonly readdir = ((dir: fs.PathLike, optionsOrCb: unknown, maybeCb?: Callback) => {
    // fs.readdir(path, cb) and fs.readdir(path, options, cb) are both in use by fast-glob
    const cb = (typeof optionsOrCb === 'function' ? optionsOrCb : maybeCb) as Callback;
    const options = typeof optionsOrCb === 'function' ? {} : optionsOrCb;
    void this.ahead.room().then((closed) => (closed ? cb(null, []) : this.readNow(String(dir), options, cb)));
  }) as unknown as Readdir;

  private readNow(dirPath: string, options: unknown, cb: Callback): void {
    if (this.opts.followSymlinks && path.resolve(dirPath) !== this.absRoot) {
      void this.isLoop(path.resolve(dirPath)).then((loop) => {
        if (loop) {
          this.onUnread(this.relOf(dirPath));
          this.onProblem({ rel: this.relOf(dirPath), reason: 'symlink loop (points at one of its own parent directories)', kind: 'skipped' });
          cb(null, []);
        } else this.read(dirPath, options, cb);
      });
    } else this.read(dirPath, options, cb);
  }

  private relOf(p: string): string {
    return path.relative(this.absRoot, p).split(path.sep).join('/') || '.';
  }

  /** fs.readdir, with a directory that cannot be read reported and read as empty. */
  private read(dirPath: string, options: unknown, cb: Callback): void {
    (fs.readdir as (p: fs.PathLike, o: unknown, c: Callback) => void)(dirPath, options, (err, files) => {
      // an include's base directory that is not there (`a/*` with no directory a/): nothing to
      // read; any other directory that cannot be read (even one gone mid-walk) is reported
      if ((err?.code === 'ENOENT' || err?.code === 'ENOTDIR') && this.includeBases.has(path.resolve(dirPath))) cb(null, []);
      else if (err) {
        this.onUnread(this.relOf(dirPath));
        this.onProblem({ rel: this.relOf(dirPath), reason: `cannot read directory: ${err.code ?? err.message}`, kind: 'failed' });
        cb(null, []);
      } else {
        const names = (files as Array<string | fs.Dirent>).map((f) => (typeof f === 'string' ? f : f.name));
        this.opts.onDirectory?.(this.relOf(dirPath), names);
        this.reportLineBreakNames(dirPath, names);
        void this.reportUnreadLinks(dirPath, files).then(() => cb(null, files));
      }
    });
  }

  private real(p: string): Promise<string | undefined> {
    let r = this.realCache.get(p);
    if (!r) {
      r = fs.promises.realpath(p).catch(() => undefined);
      this.realCache.set(p, r);
    }
    return r;
  }

  /** True when the followed directory `dir` is one of its own ancestors (up to the root). */
  private async isLoop(dir: string): Promise<boolean> {
    const target = await this.real(dir);
    if (target === undefined) return false;
    for (let a = path.dirname(dir); a.length >= this.absRoot.length && a !== dir; a = path.dirname(a)) {
      if ((await this.real(a)) === target) return true;
      if (a === this.absRoot || a === path.dirname(a)) break;
    }
    return false;
  }

  // micromatch's `.` stops at line terminators, so fast-glob never yields such a name nor
  // anything under it: name it as failed (never a silent gap) and keep its subtree from deletes.
  private reportLineBreakNames(dirPath: string, names: readonly string[]): void {
    for (const name of names) {
      if (!LINE_BREAK.test(name)) continue;
      const rel = this.relOf(path.join(dirPath, name));
      this.onUnread(rel);
      this.onProblem({ rel, reason: 'name contains a line break (CR, LF, U+2028 or U+2029): not supported, not uploaded', kind: 'failed' });
    }
  }

  // Every link in a directory read, matched by the patterns or not (`link/x.txt` may be): one
  // not followed, or broken, hides what is below it. fast-glob asks for Dirents (stats: false).
  private async reportUnreadLinks(dirPath: string, files: unknown[]): Promise<void> {
    for (const f of files) {
      if (typeof f !== 'object' || f === null || !(f as fs.Dirent).isSymbolicLink()) continue;
      const link = path.join(dirPath, (f as fs.Dirent).name);
      if (!this.opts.followSymlinks || !(await fs.promises.stat(link).then(() => true, () => false))) this.onUnread(this.relOf(link));
    }
  }
}
