/** KeyCollisionGuard (src/fs/key-collisions.ts): order-independent, and no disk look-ups in a tree without backslashes. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { KeyCollisionGuard } from '../../src/fs/key-collisions.js';
import { keyFor } from '../../src/fs/keys.js';
import { walkFiles, type FileEntry } from '../../src/fs/walk.js';
import { makeTree } from '../support/s3.js';

const trees: string[] = [];
afterAll(() => { for (const t of trees) fs.rmSync(t, { recursive: true, force: true }); });

async function run(tree: string, reorder?: (f: FileEntry[]) => FileEntry[]): Promise<{ sent: string[]; refused: string[] }> {
  const guard = new KeyCollisionGuard(tree, false);
  let walk: AsyncIterable<FileEntry> = walkFiles(tree, { onDirectory: guard.noteDirectory });
  if (reorder) {
    const all: FileEntry[] = [];
    for await (const f of walk) all.push(f); // the listings are all noted by now
    walk = (async function* () { yield* reorder(all); })();
  }
  const sent: string[] = [];
  const refused: string[] = [];
  for await (const f of guard.filter(walk, (p) => refused.push(p.file.rel))) sent.push(f.rel);
  return { sent: sent.sort(), refused: refused.sort() };
}

describe('KeyCollisionGuard', () => {
  const tree = makeTree({ 'a\\b.txt': '1', 'a/b.txt': '2', 'a/c.txt': '3', 'x\\y/z.txt': '4', 'x/y/z.txt': '5', 'solo\\s.txt': '6' });
  trees.push(tree);
  const want = { sent: ['a/c.txt', 'solo\\s.txt'], refused: ['a/b.txt', 'a\\b.txt', 'x/y/z.txt', 'x\\y/z.txt'] };

  it.each([
    ['walk order', undefined],
    ['plain paths first', (f: FileEntry[]) => [...f].sort((p, q) => Number(p.rel.includes('\\')) - Number(q.rel.includes('\\')))],
    ['backslash paths first', (f: FileEntry[]) => [...f].sort((p, q) => Number(q.rel.includes('\\')) - Number(p.rel.includes('\\')))],
  ])('refuses both members of a pair whatever the order: %s', async (_name, reorder) => {
    expect(await run(tree, reorder)).toEqual(want);
  });

  it('makes no disk look-up in a tree without backslashes', async () => {
    const plain = makeTree(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d${i % 5}/e${i % 3}/f${i}.txt`, 'x'])));
    trees.push(plain);
    const lstat = vi.spyOn(fs.promises, 'lstat');
    const stat = vi.spyOn(fs.promises, 'stat');
    try {
      const { sent, refused } = await run(plain);
      expect(sent).toHaveLength(50);
      expect(refused).toEqual([]);
      expect(lstat).not.toHaveBeenCalled();
      expect(stat.mock.calls.length).toBeLessThanOrEqual(51); // the walk's own stat per file (+ the root)
    } finally {
      lstat.mockRestore();
      stat.mockRestore();
    }
  });
});

describe('KeyCollisionGuard property', () => {
  it('sends exactly the files alone on their key, refuses the rest, in any order (seeded)', async () => {
    const SEGMENTS = ['a', 'b', 'c', 'a\\b', 'b\\c', 'a\\b\\c', 'a\\\\b'];
    const relPath = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
    await fc.assert(fc.asyncProperty(fc.uniqueArray(relPath, { minLength: 1, maxLength: 8 }), fc.boolean(), async (rels, reversed) => {
      const tree = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-collide-prop-'));
      try {
        const made: string[] = [];
        for (const rel of rels) {
          try { // a path that is a file in one entry and a directory in another: keep the first
            fs.mkdirSync(path.join(tree, path.dirname(rel)), { recursive: true });
            fs.writeFileSync(path.join(tree, rel), rel, { flag: 'wx' });
            made.push(rel);
          } catch { /* taken */ }
        }
        // a name whose backslashes make an empty segment is refused on its own, and so sends nothing over another
        const byKey = new Map<string, string[]>();
        for (const rel of made.filter((r) => !r.includes('\\\\'))) byKey.set(keyFor('', rel), [...(byKey.get(keyFor('', rel)) ?? []), rel]);
        const alone = made.filter((rel) => !rel.includes('\\\\') && byKey.get(keyFor('', rel))!.length === 1);
        const got = await run(tree, reversed ? (f) => [...f].reverse() : undefined);
        expect(got.sent).toEqual([...alone].sort());
        expect(got.refused).toEqual(made.filter((r) => !alone.includes(r)).sort());
      } finally {
        fs.rmSync(tree, { recursive: true, force: true });
      }
    }), { seed: 1201, numRuns: 80, interruptAfterTimeLimit: 20_000, verbose: true });
  });
});
