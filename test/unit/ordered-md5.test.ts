/** OrderedMd5: the MD5 of parts arriving in any interleaving, with retries and a hold budget, equals the file's. */
import crypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedMd5, type HoldBudget } from '../../src/fs/ordered-md5.js';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

/** Parts of `size` bytes in `partBytes` ranges. */
function ranges(size: number, partBytes: number): Array<{ start: number; end: number }> {
  const out = [];
  for (let s = 0; s < size; s += partBytes) out.push({ start: s, end: Math.min(size, s + partBytes) - 1 });
  return out;
}

/**
 * Feeds `data` as parts in chunks of `chunkBytes`, the parts interleaved by `order` (a part index
 * per step); `failAt[i]` = chunks after which part i's first attempt fails (sending junk after the
 * good bytes is not modelled: a failed attempt stops). Returns the digest and bytes read back.
 */
async function feed(data: Buffer, partBytes: number, chunkBytes: number, order: number[], budget: HoldBudget, failAt: Record<number, number> = {}) {
  const rs = ranges(data.length, partBytes);
  const h = new OrderedMd5(rs, budget);
  const pos = rs.map((r) => r.start);
  const sent = rs.map(() => 0);
  const failed = new Set<number>();
  rs.forEach((_, i) => h.attempt(i));
  const left = () => rs.some((r, i) => pos[i]! <= r.end);
  for (let step = 0; left(); step++) {
    let i = order.length > 0 ? order[step % order.length]! % rs.length : step % rs.length;
    while (pos[i]! > rs[i]!.end) i = (i + 1) % rs.length; // that part is done: the next one not done
    const r = rs[i]!;
    if (failAt[i] !== undefined && !failed.has(i) && sent[i] === failAt[i]) {
      failed.add(i);
      h.attempt(i); // the retry starts again at the part's first byte
      pos[i] = r.start;
      continue;
    }
    const n = Math.min(chunkBytes, r.end + 1 - pos[i]!);
    h.write(i, data.subarray(pos[i], pos[i]! + n));
    pos[i]! += n;
    sent[i]!++;
    if (pos[i]! > r.end) h.complete(i);
  }
  const readAt = async (at: number, len: number) => Buffer.from(data.subarray(at, at + len));
  return { digest: await h.digest(readAt), readBack: h.readBackBytes, budgetLeft: budget.bytes };
}

describe('OrderedMd5', () => {
  it('parts in parallel, budget large enough: the MD5 of the whole file, nothing read back, the budget given back', async () => {
    const data = crypto.randomBytes(1000_003);
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [1, 1, 2, 0, 3, 3]]) {
      const budget = { bytes: 10_000_000 };
      const r = await feed(data, 250_000, 4096, order, budget);
      expect(r.digest).toBe(md5(data));
      expect(r.readBack).toBe(0);
      expect(r.budgetLeft).toBe(10_000_000);
    }
  });

  it('a small budget: still the right MD5, and only the bytes not held are read back', async () => {
    const data = crypto.randomBytes(400_000);
    const budget = { bytes: 50_000 };
    const r = await feed(data, 100_000, 1000, [0, 1, 2, 3], budget);
    expect(r.digest).toBe(md5(data));
    // part 0 inline; parts 1-3 share 50,000 held bytes, the other 250,000 are read back
    expect(r.readBack).toBe(250_000);
    expect(r.budgetLeft).toBe(50_000);
  });

  it('no budget at all: the first part inline, the rest read back', async () => {
    const data = crypto.randomBytes(300_000);
    const r = await feed(data, 100_000, 7000, [1, 2, 0], { bytes: 0 });
    expect(r.digest).toBe(md5(data));
    expect(r.readBack).toBe(200_000);
  });

  it('a part retried before the frontier reached it is hashed once, from its retry, nothing read back', async () => {
    const data = crypto.randomBytes(300_000);
    const r = await feed(data, 100_000, 9000, [0, 1, 2], { bytes: 1e6 }, { 1: 5, 2: 1 });
    expect(r.digest).toBe(md5(data));
    expect(r.readBack).toBe(0);
  });

  it('a part retried after some of its bytes were hashed: the whole file is hashed from disk (the retry may differ)', async () => {
    const good = crypto.randomBytes(20_000);
    const h = new OrderedMd5(ranges(20_000, 10_000), { bytes: 1e6 });
    h.attempt(0);
    h.attempt(1);
    h.write(0, good.subarray(0, 4000)); // hashed at the frontier, then the attempt fails
    h.attempt(0);
    const onDisk = Buffer.from(good);
    onDisk[100]! ^= 0xff; // the retry's bytes, corrupted in transit, are what the file holds
    h.write(0, onDisk.subarray(0, 10_000));
    h.write(1, onDisk.subarray(10_000));
    h.complete(0);
    h.complete(1);
    expect(await h.digest(async (at, len) => Buffer.from(onDisk.subarray(at, at + len)))).toBe(md5(onDisk));
    expect(h.readBackBytes).toBe(20_000);
  });

  it('bytes past a part are ignored; a wrong byte gives another MD5', async () => {
    const data = crypto.randomBytes(20_000);
    const h = new OrderedMd5(ranges(20_000, 10_000), { bytes: 1e6 });
    h.attempt(0);
    h.attempt(1);
    h.write(1, data.subarray(10_000));
    h.write(0, Buffer.concat([data.subarray(0, 10_000), Buffer.from('extra')]));
    h.complete(0);
    h.complete(1);
    expect(await h.digest(async () => Buffer.alloc(0))).toBe(md5(data));
    const bad = Buffer.from(data);
    bad[15_000]! ^= 1;
    const r = await feed(bad, 10_000, 999, [1, 0], { bytes: 1e6 });
    expect(r.digest).not.toBe(md5(data));
  });

  it('digest before every part is complete is refused; abandon gives the budget back', async () => {
    const budget = { bytes: 1000 };
    const h = new OrderedMd5(ranges(2000, 1000), budget);
    h.attempt(0);
    h.attempt(1);
    h.write(1, Buffer.alloc(600));
    expect(budget.bytes).toBe(400);
    await expect(h.digest(async () => Buffer.alloc(0))).rejects.toThrow(/before every part is complete/);
    h.abandon();
    expect(budget.bytes).toBe(1000);
  });

  it('property: any interleaving, chunk size, budget and failed attempts give the MD5 of the file', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 1500 }), fc.integer({ min: 1, max: 700 }),
      fc.array(fc.nat(20), { maxLength: 30 }), fc.integer({ min: 0, max: 6000 }), fc.dictionary(fc.constantFrom('0', '1', '2', '3'), fc.nat(4)),
      async (size, partBytes, chunkBytes, order, budgetBytes, fails) => {
        const data = crypto.randomBytes(size);
        const failAt = Object.fromEntries(Object.entries(fails).map(([k, v]) => [Number(k), v]));
        const r = await feed(data, partBytes, chunkBytes, order, { bytes: budgetBytes }, failAt);
        expect(r.digest).toBe(md5(data));
        expect(r.budgetLeft).toBe(budgetBytes);
        expect(r.readBack).toBeLessThanOrEqual(size);
      },
    ), { numRuns: 300 });
  });
});
