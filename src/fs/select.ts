/**
 * One meaning for --include/--exclude on both sides of a sync: `pathSelector` answers "would
 * the walk yield a file at this relative path?", and the same answer filters remote keys
 * (src/ops/remote-only.ts) and the walk itself (src/fs/walk.ts). It reads the patterns the way
 * fast-glob 3.3.3 does (its own generateTasks, then micromatch 4.0.8 with fast-glob's options):
 * - braces are expanded; a pattern without `/` gets `**\/` in front (the base name, any depth);
 *   one with a `/` inside is anchored at the root (`a/b` is top-level `a/b` only);
 * - a trailing `/` names a directory (as in .gitignore): `node_modules/` is read as
 *   `**\/node_modules/**`, `a/b/` as `a/b/**` (fast-glob alone would match no file at all);
 * - an --include starting with `!` (but not `!(`) is an exclude;
 * - an include is read from inside its base directory: `a/**` takes what is under a/, never
 *   a file named `a` (unless another include has no base, like `*.txt`);
 * - a file is selected when an include matches its path, no exclude matches it, and no
 *   pruning exclude matches one of its parent directories. Pruning excludes (fast-glob's
 *   isAffectDepthOfReadingPattern) end in `/**` or have a last segment without wildcards:
 *   `uploads`, `node_modules/`, `cache/**`, `**\/x`; `*.tmp` and `!(*.txt)` filter files only.
 */
import path from 'node:path';
import fg from 'fast-glob';
import micromatch from 'micromatch';

/** fast-glob's Provider._getMicromatchOptions for dot: true, baseNameMatch: true (the walk's settings). */
const MICROMATCH_OPTIONS = {
  dot: true, matchBase: true, nobrace: false, nocase: false, noext: false, noglobstar: false, posix: true, strictSlashes: false,
} as micromatch.Options;

export interface SelectorRules {
  /** include patterns; none = everything (`**`) */
  include?: readonly string[] | undefined;
  exclude?: readonly string[] | undefined;
  /** absolute walk root: an absolute exclude is matched against root + rel, as fast-glob does */
  root?: string | undefined;
}

/** `rel` is `/`-separated, relative to the walked root (a remote key minus its prefix). */
export type PathSelector = (rel: string) => boolean;

export function pathSelector(rules: SelectorRules = {}): PathSelector {
  const include = rules.include && rules.include.length > 0 ? globPatterns(rules.include) : ['**'];
  const tasks = fg.generateTasks(include, { baseNameMatch: true, dot: true, ignore: globPatterns(rules.exclude ?? []) });
  const re = (p: string): RegExp => micromatch.makeRe(p, MICROMATCH_OPTIONS);
  // fast-glob reads each task from inside its base: `a/**` never yields a file named `a`
  const positive = tasks.map((t) => ({ under: t.base === '.' ? '' : `${t.base}/`, res: t.positive.map(re) }));
  const negative = tasks[0]?.negative ?? [];
  const relative = negative.filter((p) => !path.isAbsolute(p)).map(re);
  const absolute = negative.filter((p) => path.isAbsolute(p)).map(re);
  const pruning = negative.filter(prunesDirectories).map(re);
  const root = rules.root ?? '/';
  const any = (res: RegExp[], s: string): boolean => res.some((r) => r.test(s));
  return (rel) => {
    if (!positive.some((t) => rel.startsWith(t.under) && any(t.res, rel))) return false;
    if (any(relative, rel) || (absolute.length > 0 && any(absolute, path.resolve(root, rel)))) return false;
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) {
      if (any(pruning, rel.slice(0, i))) return false;
    }
    return true;
  };
}

/** The patterns as given to fast-glob (src/fs/walk.ts) and read here: `dir/` becomes a directory glob. */
export function globPatterns(patterns: readonly string[]): string[] {
  return patterns.map((p) => {
    const dir = /^(.*[^/])\/+$/.exec(p)?.[1];
    if (dir === undefined) return p;
    return dir.includes('/') ? `${dir}/**` : `**/${dir}/**`;
  });
}

/** fast-glob's isAffectDepthOfReadingPattern: the deep filter stops at directories these match. */
function prunesDirectories(pattern: string): boolean {
  return pattern.endsWith('/**') || !fg.isDynamicPattern(path.basename(pattern));
}

/** One pattern, read as an --include: for --priority rules. */
export function globSelector(glob: string): PathSelector {
  return pathSelector({ include: [glob] });
}
