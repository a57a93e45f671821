/**
 * Which keys `ls`, `delete-prefix`, `download` and `cleanup-multipart` act on, from the prefix
 * the user typed.
 *
 * By default a prefix names a folder, with the same join rule as `upload`: `logs`, `logs/` and
 * `/logs/` all select the keys that start with `logs/`, so `logs-old/…` and `logs.txt` are NOT
 * selected. What `s3x upload dir b logs` wrote is exactly what `s3x delete-prefix b logs` deletes.
 * With `raw`, the prefix is a plain string prefix, as S3 matches it: `logs` selects `logs/…`,
 * `logs-old/…` and `logs.txt`. Either way the match is literal: `*`, `?` and `[` are characters,
 * not globs.
 */
import { normalizePrefix } from './keys.js';

/** The bucket and prefix options of every verb that acts on a prefix (ls, delete-prefix, download, cleanup-multipart). */
export interface PrefixOptions {
  bucket: string;
  /** folder rule by default: `logs` selects `logs/…`, not `logs-old/…` nor `logs.txt`; '' = the whole bucket */
  prefix?: string;
  /** match the prefix as a plain string: `logs` also selects `logs-old/…` and `logs.txt` */
  rawPrefix?: boolean;
}

export interface KeySelection {
  /** sent as ListObjectsV2 `Prefix`, and checked again on every listed key: `key.startsWith(prefix)` */
  prefix: string;
  /**
   * the part of every selected key that `download` strips to make the local path: the prefix up
   * to and including its last `/` ('' when it has none)
   */
  base: string;
}

/** The selection for `prefix` (folder rule), or the raw string prefix when `raw`. */
export function selectKeys(prefix: string | undefined, raw = false): KeySelection {
  if (raw) {
    const p = prefix ?? '';
    return { prefix: p, base: p.slice(0, p.lastIndexOf('/') + 1) };
  }
  const folder = normalizePrefix(prefix);
  const p = folder ? `${folder}/` : '';
  return { prefix: p, base: p };
}

/** True when `key` is selected. Listing already filters by prefix; this is the defensive re-check. */
export function isSelected(sel: KeySelection, key: string): boolean {
  return key.startsWith(sel.prefix);
}
