/**
 * sync's streaming comparison (src/ops/key-join.ts) against the simple answer it replaced (a Map
 * of the whole listing): the key order of src/fs/key-order.ts is S3's (UTF-8 bytes), the sort
 * spills and merges back exactly, and the merge-join pairs and leaves over the same keys.
 */
import fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys, sortByKey, SpilledList, type Keyed } from '../../src/fs/key-order.js';
import { joinByKey } from '../../src/ops/key-join.js';
import type { ListedObject } from '../../src/ops/list.js';

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const sign = (n: number): number => Math.sign(n);

// the characters where orders part: '-' < '/' < '0', upper < lower case, 2-byte, 3-byte past
// the surrogates (U+E000, U+FFFD) and 4-byte (astral) characters
const keyChar = fc.constantFrom('a', 'b', 'A', 'Z', '-', '.', '/', '0', '_', ' ', 'é', 'ß', '\u00ff', '\ue000', '\ufffd', '😀', '𝄞', '日');
const key = fc.array(keyChar, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));

async function* from<T>(items: readonly T[]): AsyncGenerator<T> { yield* items; }
async function all<T>(it: AsyncIterable<T>): Promise<T[]> { const out: T[] = []; for await (const x of it) out.push(x); return out; }
/** `items` in batches of 1 to 3 (the join must not care where batches end) */
async function* batches<T>(items: readonly T[], size = 2): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
const keyed = (keys: readonly string[]): Array<Keyed<string>> => keys.map((k) => ({ k, v: k }));

describe('compareKeys', () => {
  it('is UTF-8 byte order for any strings of code points', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => sign(compareKeys(a, b)) === sign(utf8Order(a, b))));
    fc.assert(fc.property(key, key, (a, b) => sign(compareKeys(a, b)) === sign(utf8Order(a, b))));
  });

  it('puts "a-b" before "a/b" before "a0" (so a walk sorted by name is not key order)', () => {
    expect(['a0', 'a/b', 'a-b'].sort(compareKeys)).toEqual(['a-b', 'a/b', 'a0']);
    expect(compareKeys('\uffff', '😀')).toBeLessThan(0); // JS '<' says the opposite
  });
});

describe('sortByKey', () => {
  it('sorts any input in key order, stable, whether it fits one run or spills to several files', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(key, fc.nat(5))), fc.integer({ min: 1, max: 7 }), async (items, runItems) => {
      const sorted = (await all(sortByKey(from(items), {
        key: ([k]) => k, toLine: (v) => JSON.stringify(v), fromLine: (l) => JSON.parse(l) as [string, number], runItems,
      }))).flat().map((e) => e.v);
      const expected = items.map((v, i) => ({ v, i })).sort((a, b) => utf8Order(a.v[0], b.v[0]) || a.i - b.i).map((e) => e.v);
      expect(sorted).toEqual(expected);
    }), { numRuns: 200 });
  });
});

describe('joinByKey against a Map of the whole listing', () => {
  it('pairs every local key with its object and leaves exactly the others, in key order', async () => {
    const args = [fc.uniqueArray(key), fc.uniqueArray(key), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 })] as const;
    await fc.assert(fc.asyncProperty(...args, async (localKeys, remoteKeys, runItems, pageSize) => {
      const remote: ListedObject[] = [...remoteKeys].sort(utf8Order).map((k, i) => ({ key: k, bytes: i }));
      // the simple answer: a map of the listing, each local key taking its object out
      const map = new Map(remote.map((o) => [o.key, o]));
      const expectedPairs = new Map(localKeys.map((k) => [k, map.get(k)]));
      for (const k of localKeys) map.delete(k);
      const local = sortByKey(from(localKeys), { key: (k) => k, toLine: (k) => JSON.stringify(k), fromLine: (l) => JSON.parse(l) as string, runItems });
      const remoteOnly: string[] = [];
      const joined = await all(joinByKey(local, batches(remote, pageSize), (o) => remoteOnly.push(o.key)));
      expect(joined.map((j) => j.local)).toEqual([...localKeys].sort(utf8Order));
      for (const j of joined) expect(j.remote).toBe(expectedPairs.get(j.local));
      expect(remoteOnly).toEqual([...map.keys()]);
    }), { numRuns: 300 });
  });

  it('a local key met twice takes the object once (as the map did); a local side out of order is an error', async () => {
    const remote = [{ key: 'a', bytes: 1 }, { key: 'b', bytes: 2 }];
    const joined = await all(joinByKey(batches(keyed(['a', 'a', 'c'])), batches(remote, 1), () => {}));
    expect(joined.map((j) => j.remote?.key)).toEqual(['a', undefined, undefined]);
    await expect(all(joinByKey(batches(keyed(['b', 'a'])), batches(remote), () => {}))).rejects.toThrow(/not in key order/);
  });

  it('an empty local side leaves every object; an empty listing leaves none', async () => {
    const remoteOnly: string[] = [];
    expect(await all(joinByKey(batches(keyed([])), batches([{ key: 'x', bytes: 0 }]), (o) => remoteOnly.push(o.key)))).toEqual([]);
    expect(remoteOnly).toEqual(['x']);
    expect((await all(joinByKey(batches(keyed(['x'])), batches<ListedObject>([]), () => { throw new Error('none'); }))).length).toBe(1);
  });
});

describe('SpilledList', () => {
  it('gives back every string in order, any character included, from memory or from its file; dispose removes the file', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.string({ unit: 'binary' })), fc.integer({ min: 1, max: 4 }), async (keys, memoryItems) => {
      const list = new SpilledList(memoryItems);
      for (const k of keys) list.push(k);
      expect(list.count).toBe(keys.length);
      expect(await all(list.items())).toEqual(keys);
      list.dispose();
    }), { numRuns: 100 });
    const list = new SpilledList(2);
    for (const k of ['a\nb', 'c', 'd\r', 'e']) list.push(k);
    const dir = (list as unknown as { dir: string }).dir;
    expect(fs.existsSync(dir)).toBe(true);
    list.dispose();
    expect(fs.existsSync(dir)).toBe(false);
  });
});
