/**
 * A small glob matcher for --priority patterns and bucket maps, with the same rules as
 * --include/--exclude: `**` crosses directories, `*` and `?` do not, and a pattern without `/`
 * matches the base name at any depth.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') { re += '(?:.*/)?'; i += 2; } else { re += '.*'; i += 1; }
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Matcher for a path relative to the walked root. */
export function pathMatcher(glob: string): (rel: string) => boolean {
  const re = globToRegExp(glob);
  return glob.includes('/') ? (rel) => re.test(rel) : (rel) => re.test(rel.slice(rel.lastIndexOf('/') + 1));
}
