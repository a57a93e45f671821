/**
 * Object key → local path, for `download`: a bucket is input from elsewhere, so a key must never
 * make s3x write outside the directory the user named.
 *
 * The part of the key below the selected prefix is split on `/` and refused when it holds:
 *  - a NUL byte (not a legal file name byte; would truncate the path in C APIs);
 *  - a backslash (a path separator on Windows: `a\..\..\x`), refused on every platform so a
 *    bucket downloads the same everywhere;
 *  - a leading `/` (an absolute path, e.g. key `data//etc/passwd` under prefix `data/`);
 *  - an empty segment (`a//b`) or a `.` / `..` segment: they would either escape or silently
 *    alias another key (`a/./b` and `a//b` would both land on `a/b`).
 * With those refused the mapping is one-to-one: two keys never share a local path. A key ending
 * in `/` is a directory marker (what S3 consoles create for an empty "folder"): it makes an empty
 * directory and no file. `resolveInside` then re-checks the joined path lexically; `download`
 * also checks the real path of every directory it creates (a symlink already in the target
 * directory cannot lead writes out of it).
 */
import path from 'node:path';

/** A key's place under the download directory, or why it has none. */
export type SafePath =
  | { ok: true; segments: string[]; directory: boolean }
  | { ok: false; reason: string };

/** Maps `rel` (the key with the selected base stripped) to path segments, or refuses it. */
export function safeRelativePath(rel: string): SafePath {
  if (rel.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (rel.includes('\\')) return { ok: false, reason: 'contains a backslash (a path separator on Windows)' };
  if (rel.startsWith('/')) return { ok: false, reason: 'would be an absolute path (starts with "/")' };
  const directory = rel === '' || rel.endsWith('/');
  const body = rel.endsWith('/') ? rel.slice(0, -1) : rel;
  if (body === '') return { ok: true, segments: [], directory: true };
  const segments = body.split('/');
  for (const s of segments) {
    if (s === '') return { ok: false, reason: 'has an empty path segment ("//")' };
    if (s === '..') return { ok: false, reason: 'has a ".." segment (would escape the directory)' };
    if (s === '.') return { ok: false, reason: 'has a "." segment' };
  }
  return { ok: true, segments, directory };
}

/**
 * The absolute path of `segments` under `root`, or undefined when it is not strictly inside
 * `root` (defence in depth: safeRelativePath already refused every way out).
 */
export function resolveInside(root: string, segments: readonly string[]): string | undefined {
  const base = path.resolve(root);
  const p = path.resolve(base, ...segments);
  return p !== base && p.startsWith(base.endsWith(path.sep) ? base : base + path.sep) ? p : undefined;
}

/** True when `p` is `root` itself or lies under it (both absolute, already resolved). */
export function isWithin(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}
