/**
 * Local paths that map to one key. keyFor (src/fs/keys.ts) turns `\` into `/` (a separator on
 * Windows, a legal name character on POSIX), so `a\b.txt` and `a/b.txt` share a key: neither may
 * be sent over the other. Memory stays flat: only names holding a backslash are remembered (per
 * directory, as the walk lists them), and a file is looked for on disk only when such a name
 * could map onto its path. Files with a counterpart on disk wait for the walk's end; those that
 * still share a key with another walked file are refused, the others go.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FileEntry } from './walk.js';

export interface KeyProblem { file: FileEntry; reason: string }

/** stat calls one file's search may make (the grouping of n key segments into names is 2^(n-1)) */
const SEARCH_BUDGET = 10_000;

/** `a\b` → ['a', 'b']; undefined when a part is empty, "." or "..": that name has no clear key. */
function nameParts(name: string): string[] | undefined {
  const parts = name.split('\\');
  return parts.some((p) => p === '' || p === '.' || p === '..') ? undefined : parts;
}

export class KeyCollisionGuard {
  /** directory (relative, '.' = root) → key segments of its entries whose name holds a backslash */
  private readonly odd = new Map<string, string[][]>();
  /** files with a counterpart on disk, by key (relative to the root), held to the walk's end */
  private readonly held = new Map<string, FileEntry[]>();

  constructor(private readonly root: string, private readonly followSymlinks: boolean) {}

  /** the walk's directory listings (walkFiles' onDirectory) */
  readonly noteDirectory = (rel: string, names: readonly string[]): void => {
    const parts = names.filter((n) => n.includes('\\')).map(nameParts).filter((p) => p !== undefined);
    if (parts.length > 0) this.odd.set(rel, parts);
  };

  /** The walk's files, less those that share a key with another (each reported once, naming the others). */
  async *filter(walk: AsyncIterable<FileEntry>, onProblem: (p: KeyProblem) => void): AsyncGenerator<FileEntry> {
    for await (const f of walk) {
      const verdict = await this.check(f);
      if (verdict === 'ok') yield f;
      else if (verdict !== 'held') onProblem({ file: f, reason: verdict });
    }
    for (const group of this.held.values()) {
      // a counterpart the walk did not yield (filtered out, skipped) leaves the file alone on its key
      if (group.length === 1) yield group[0]!;
      else for (const f of group) onProblem({ file: f, reason: collisionReason(group.filter((g) => g !== f)) });
    }
    this.held.clear();
  }

  /** 'ok' to send now, 'held' until the walk's end, or why it is refused. */
  private async check(f: FileEntry): Promise<'ok' | 'held' | string> {
    // the common case, once per file: no backslash in this path nor in any name listed so far
    if (this.odd.size === 0 && !f.rel.includes('\\')) return 'ok';
    const segs = f.rel.split('/');
    const keySegs: string[] = [];
    for (const s of segs) {
      const parts = nameParts(s);
      if (!parts) return 'a backslash in its name makes an empty, "." or ".." key segment (keys use "/" for "\\"); rename it';
      keySegs.push(...parts);
    }
    if (keySegs.length === segs.length && !this.involved(segs)) return 'ok';
    let others: string[];
    try {
      others = await this.sameKeyOnDisk(keySegs, f.rel);
    } catch {
      return 'too many paths could share its key (keys use "/" for "\\") to check them all; rename it';
    }
    if (others.length === 0) return 'ok';
    const key = keySegs.join('/');
    this.held.set(key, [...(this.held.get(key) ?? []), f]);
    return 'held';
  }

  /** A path without backslashes can share a key only if a directory above it lists a backslash name that spells its next segments. */
  private involved(segs: readonly string[]): boolean {
    if (this.odd.size === 0) return false;
    for (let i = 0; i < segs.length; i++) {
      const names = this.odd.get(i === 0 ? '.' : segs.slice(0, i).join('/'));
      if (names?.some((parts) => parts.length <= segs.length - i && parts.every((p, j) => p === segs[i + j]))) return true;
    }
    return false;
  }

  /** Every other file on disk (as the walk would see it) whose key segments are `keySegs`. */
  private async sameKeyOnDisk(keySegs: readonly string[], selfRel: string): Promise<string[]> {
    const found: string[] = [];
    let budget = SEARCH_BUDGET;
    const look = this.followSymlinks ? fs.promises.stat : fs.promises.lstat;
    const visit = async (dir: string[], from: number): Promise<void> => {
      for (let to = from; to < keySegs.length; to++) {
        if (--budget < 0) throw new RangeError('search budget exhausted');
        const rel = [...dir, keySegs.slice(from, to + 1).join('\\')];
        const st = await look(path.join(this.root, ...rel)).catch(() => undefined);
        if (!st) continue;
        if (to === keySegs.length - 1) {
          if (st.isFile() && rel.join('/') !== selfRel) found.push(rel.join('/'));
        } else if (st.isDirectory()) await visit(rel, to + 1);
      }
    };
    await visit([], 0);
    return found;
  }
}

function collisionReason(others: readonly FileEntry[]): string {
  return `same key as ${others.map((o) => o.rel).join(', ')} (keys use "/" for "\\"): neither is sent; rename one`;
}
