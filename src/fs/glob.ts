import { globSelector } from './select.js';

/**
 * A small glob matcher for bucket-map patterns (bucket names, never paths): `**` crosses
 * directories, `*` and `?` do not.
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

/** Matcher for a path relative to the walked root (--priority): read as an --include is, see src/fs/select.ts. */
export function pathMatcher(glob: string): (rel: string) => boolean {
  return globSelector(glob);
}
