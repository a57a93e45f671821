/**
 * Local relative path → object key. Keys always use `/`; the prefix is joined by exactly one
 * `/` whatever slashes the user typed around it ("a", "a/", "/a/" → "a/<path>"; "" → "<path>").
 * `\` is a separator too (Windows), so on POSIX `a\b.txt` and `a/b.txt` get one key: upload
 * refuses such pairs (src/fs/key-collisions.ts).
 */
export function normalizePrefix(prefix: string | undefined): string {
  return (prefix ?? '').replace(/^\/+|\/+$/g, '');
}

export function keyFor(prefix: string, relPath: string): string {
  const rel = relPath.split(/[\\/]+/).filter((s) => s !== '' && s !== '.').join('/');
  const p = normalizePrefix(prefix);
  return p ? `${p}/${rel}` : rel;
}
