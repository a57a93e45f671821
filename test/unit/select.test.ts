/**
 * One pattern, one meaning: for a table of --include/--exclude cases, pathSelector (what
 * remote keys are filtered by) selects exactly the files fast-glob's walk yields on a real
 * tree, and walkFiles (src/fs/walk.ts) yields exactly what the selector selects.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fg from 'fast-glob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globPatterns, globSelector, pathSelector } from '../../src/fs/select.js';
import { pathMatcher } from '../../src/fs/glob.js';
import { walkFiles } from '../../src/fs/walk.js';

const FILES = [
  'a.txt', 'b.txt', 'c.txt', 'secret.txt', 'd/secret.txt', 'd/a.txt', 'd/z.txt', 'd/y.log', 'd/sub/x.log',
  'uploads/a.jpg', 'x/uploads/b.jpg', 'uploads.txt', 'x/uploadsy',
  'node_modules/m/index.js', 'node_modules/n.js', 'src/node_modules/n.js', 'src/a.c',
  'cache/a', 'cache/b/c', 'cachex/d',
  'x.tmp', 't.tmp/inner.txt', 'img.png', 'd/pic.jpg',
  'build/o.o', 'lib/build/p.o', 'lib/q.c', 'lib/builder/r.o',
  '.env', '.git/config', '.git/objects/ab/cd', '.github/w.yml', 'd/.hidden',
  'ünï/çà.txt', 'd/ünï/x', 'ünïx', 'café.txt',
  'a-b/c.txt', 'a/b/c.txt', 'a/b.txt', 'sp ace/f i.txt', 'dots.../..x', 'e/b.txt',
];

/** [name, include, exclude] */
const CASES: Array<[string, string[], string[]]> = [
  ['everything', [], []],
  ['bare name file', [], ['secret.txt']],
  ['bare name dir', [], ['uploads']],
  ['dir/ (a directory, at any depth)', [], ['node_modules/']],
  ['a/b/ (a directory, anchored)', [], ['a/b/']],
  ['include dir/', ['d/'], []],
  ['dir/**', [], ['cache/**']],
  ['*.{tmp,log} (files only: t.tmp/ is not pruned)', [], ['*.{tmp,log}']],
  ['[ab].txt', [], ['[ab].txt']],
  ['!(x) extglob exclude', [], ['!(*.txt)']],
  ['!(x) extglob include', ['!(*.txt)'], []],
  ['**/x', [], ['**/build']],
  ['dotfiles: .git', [], ['.git']],
  ['dotfiles: .* (files only)', [], ['.*']],
  ['nested path exclude', [], ['d/*.log']],
  ['nested include + exclude', ['d/**'], ['d/*.log']],
  ['static path exclude prunes a/b', [], ['a/b']],
  ['unicode dir', [], ['ünï']],
  ['unicode include', ['café*', 'ç*'], []],
  ['include base names', ['*.txt', '*.c'], ['a*']],
  ['include with braces', ['{a,lib}/**'], ['**/b']],
  ['spaces and dots', [], ['sp ace', '..x']],
  ['a-b vs a/b', [], ['a-b']],
  ['all excluded', [], ['*']],
  ['include that is a negation is an exclude', ['**', '!d'], []],
  ['static include', ['a/b/c.txt', 'src/a.c'], []],
  ['? wildcard', [], ['?.txt']],
  // found by the sync --delete property test: the selector took the file `uploads.txt` for `uploads.txt/**`
  ['include x/** where x is a file', ['uploads.txt/**'], []],
  ['include x/** where x is a file, with a base-less include', ['uploads.txt/**', '*.c'], []],
];

/** include/exclude cases where fast-glob itself is looser than its own rule (see below) */
const STRICTER: Array<[string, string[], string[]]> = [
  // the task for a/** starts inside a/, so fast-glob never tests a/ against the exclude `a`
  ['include a/** with exclude a', ['a/**', 'src/**'], ['a']],
  // a static include is stat'ed directly, not walked: parent excludes are never tested
  ['static include under an excluded dir', ['a/b/c.txt'], ['a']],
];

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-select-'));
  for (const f of FILES) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), f);
  }
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** What fast-glob yields with the walk's options and patterns (src/fs/walk.ts), files only. */
async function rawFastGlob(include: string[], exclude: string[]): Promise<string[]> {
  const out = await fg(include.length > 0 ? globPatterns(include) : ['**'], {
    cwd: root, dot: true, onlyFiles: true, suppressErrors: true, followSymbolicLinks: false, baseNameMatch: true, ignore: globPatterns(exclude), unique: true,
  });
  return out.sort();
}

async function walked(include: string[], exclude: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const f of walkFiles(root, { include, exclude })) out.push(f.rel);
  return out.sort();
}

const selected = (include: string[], exclude: string[]): string[] =>
  FILES.filter(pathSelector({ include, exclude, root })).sort();

describe('pathSelector agrees with the walk, pattern by pattern', () => {
  it.each(CASES)('%s: include %j exclude %j', async (_name, include, exclude) => {
    const want = selected(include, exclude);
    expect(await rawFastGlob(include, exclude)).toEqual(want);
    expect(await walked(include, exclude)).toEqual(want);
  });

  it.each(STRICTER)('%s: the selector (and so the walk) is the stricter, never the looser', async (_name, include, exclude) => {
    const want = selected(include, exclude);
    const raw = await rawFastGlob(include, exclude);
    expect(raw.length).toBeGreaterThan(want.length);
    for (const f of want) expect(raw).toContain(f);
    expect(await walked(include, exclude)).toEqual(want);
  });

  it('reads the cases the old hand-written matcher misread (bare dir, dir/, braces, classes, extglobs)', () => {
    const sel = (exclude: string[]) => pathSelector({ exclude });
    expect(sel(['uploads'])('uploads/a.jpg')).toBe(false);
    expect(sel(['uploads'])('x/uploads/b.jpg')).toBe(false);
    expect(sel(['uploads'])('uploadsx/b.jpg')).toBe(true);
    expect(sel(['node_modules/'])('node_modules/m/index.js')).toBe(false);
    expect(sel(['node_modules/'])('src/node_modules/n.js')).toBe(false); // a trailing slash names a directory at any depth
    expect(sel(['node_modules/'])('node_modules')).toBe(false); // as fast-glob reads `x/**`: x itself too
    expect(sel(['a/b/'])('x/a/b/c.txt')).toBe(true); // a slash inside anchors it at the root
    expect(sel(['*.{tmp,log}'])('d/y.log')).toBe(false);
    expect(sel(['*.{tmp,log}'])('t.tmp/inner.txt')).toBe(true); // not a pruning pattern
    expect(sel(['[ab].txt'])('b.txt')).toBe(false);
    expect(sel(['[ab].txt'])('c.txt')).toBe(true);
    expect(sel(['!(*.txt)'])('d/pic.jpg')).toBe(false);
    expect(sel(['!(*.txt)'])('d/o.txt')).toBe(true);
    expect(sel(['**/build'])('lib/build/p.o')).toBe(false);
    expect(sel(['.git'])('.git/objects/ab/cd')).toBe(false);
    expect(sel(['ünï'])('d/ünï/x')).toBe(false);
    expect(sel(['ünï'])('ünïx')).toBe(true);
  });

  it('an absolute exclude is matched against root + rel, as fast-glob does', async () => {
    const exclude = [`${root}/d/*.txt`];
    const want = FILES.filter(pathSelector({ exclude, root })).sort();
    expect(want).not.toContain('d/a.txt');
    expect(want).toContain('d/y.log');
    expect(await rawFastGlob([], exclude)).toEqual(want);
  });
});

describe('--priority globs read like --include', () => {
  it.each([
    ['**/manifest.json', 'a/b/manifest.json', true],
    ['manifest.json', 'a/b/manifest.json', true],
    ['*.{json,yml}', 'x/c.yml', true],
    ['big/**', 'big/a/b.bin', true],
    ['big/**', 'bigger/a.bin', false],
    ['*.bin', 'a/b.txt', false],
  ])('%s vs %s → %s', (glob, rel, want) => {
    expect(globSelector(glob)(rel)).toBe(want);
    expect(pathMatcher(glob)(rel)).toBe(want);
  });
});

describe('walk: an include whose base directory is not there', () => {
  it('is nothing to read, not a failed directory (found by the sync --delete property test)', async () => {
    const problems: string[] = [];
    const out: string[] = [];
    for await (const f of walkFiles(root, { include: ['missing/*', 'a b/*', 'a.txt/*', 'cache/a'], onProblem: (p) => problems.push(`${p.rel}: ${p.reason}`) })) out.push(f.rel);
    expect(problems).toEqual([]);
    expect(out).toEqual(['cache/a']);
  });
});
