/**
 * The keys under the prefix with no local file (sync --delete's candidates): among what the
 * listing held and the walk did not find, only keys the same --include/--exclude and --shard
 * would have taken, and none at or under a path the walk could not read (a skipped link, an
 * unreadable directory): the file may be there.
 */
import path from 'node:path';
import { keyFor } from '../fs/keys.js';
import { pathSelector } from '../fs/select.js';

export interface RemoteSelection {
  /** the normalized key prefix ('' = bucket root) */
  prefix: string;
  /** the uploaded directory and the walk's filters */
  dir: string;
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  /** relative paths the walk met but did not upload or could not look under ('.' = the root) */
  unreadRels: readonly string[];
  inShard: (key: string) => boolean;
}

export function remoteOnlyKeys(keys: Iterable<string>, s: RemoteSelection): string[] {
  return [...keys].filter(remoteOnlySelector(s));
}

/** Is this key, which no local file has, a candidate? Build it once the walk is over (`unreadRels` complete). */
export function remoteOnlySelector(s: RemoteSelection): (key: string) => boolean {
  const selected = remoteSelector(s.include, s.exclude, s.dir);
  const unread = unreadSubtrees(s.prefix, s.unreadRels);
  const listPrefix = s.prefix ? `${s.prefix}/` : '';
  return (k) => k.startsWith(listPrefix) && !unread(k) && selected(k.slice(listPrefix.length)) && s.inShard(k);
}

/** Would --include/--exclude select this relative path? The walk's own reading (src/fs/select.ts). */
function remoteSelector(include: string[] | undefined, exclude: string[] | undefined, dir: string): (rel: string) => boolean {
  return pathSelector({ include, exclude, root: path.resolve(dir) });
}

/** Is this key at or below the key of a path the walk could not read ('.' = the root itself)? */
export function unreadSubtrees(prefix: string, rels: readonly string[]): (key: string) => boolean {
  if (rels.includes('.')) return () => true;
  const roots = new Set(rels.map((rel) => keyFor(prefix, rel)));
  return (key) => {
    if (roots.has(key)) return true;
    for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) if (roots.has(key.slice(0, i))) return true;
    return false;
  };
}
