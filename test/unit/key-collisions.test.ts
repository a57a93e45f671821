/** KeyCollisionGuard (src/fs/key-collisions.ts): order-independent, and no disk look-ups in a tree without backslashes. */
import fs from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { KeyCollisionGuard } from '../../src/fs/key-collisions.js';
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
