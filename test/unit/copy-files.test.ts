/**
 * fs/copy-files.ts: the files of a hedged streamed download's copies (ops/download.ts). The kept
 * one stays; every other copy's is removed, also one opened or finished after the winner was kept.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CopyFiles } from '../../src/fs/copy-files.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-copy-files-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;
function setup(): { dir: string; copies: CopyFiles; registry: Set<string> } {
  const dir = path.join(root, `d${n++}`);
  fs.mkdirSync(dir);
  let i = 0;
  const registry = new Set<string>();
  return { dir, registry, copies: new CopyFiles(() => path.join(dir, `t.s3x-tmp-${i++}`), registry) };
}

describe('CopyFiles', () => {
  it('keep: the winner\'s file stays, the loser\'s (finished or not) is removed', async () => {
    const { dir, copies, registry } = setup();
    const a = await copies.open();
    const b = await copies.open();
    await a.fh.writeFile('aaaa');
    await b.fh.writeFile('bbbb');
    await a.fh.close();
    await copies.keep(b.path);
    await b.fh.close();
    expect(fs.readdirSync(dir)).toEqual([path.basename(b.path)]);
    expect(fs.readFileSync(b.path, 'utf8')).toBe('bbbb');
    expect([...registry]).toEqual([b.path]);
    expect(copies.pending).toEqual([]);
  });

  it('a copy whose open is under way when the winner is kept never leaves a file', async () => {
    const { dir, copies } = setup();
    const a = await copies.open();
    const late = copies.open().then(() => 'opened', (e: Error) => e.message);
    await copies.keep(a.path);
    expect(await late).toMatch(/already has its file/);
    await a.fh.close();
    expect(fs.readdirSync(dir)).toEqual([path.basename(a.path)]);
    await expect(copies.open()).rejects.toThrow(/already has its file/);
    expect(fs.readdirSync(dir)).toEqual([path.basename(a.path)]);
  });

  it('close: every file removed (the request failed or was interrupted); remove is idempotent', async () => {
    const { dir, copies, registry } = setup();
    const a = await copies.open();
    const b = await copies.open();
    await copies.remove(a.path);
    await copies.remove(a.path);
    await copies.close();
    await a.fh.close();
    await b.fh.close();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(registry.size).toBe(0);
  });

  it('an open that fails (path taken) leaves nothing registered and touches nothing', async () => {
    const { dir, copies, registry } = setup();
    fs.writeFileSync(path.join(dir, 't.s3x-tmp-0'), 'not ours');
    await expect(copies.open()).rejects.toThrow(/EEXIST/);
    expect(registry.size).toBe(0);
    await copies.close();
    expect(fs.readFileSync(path.join(dir, 't.s3x-tmp-0'), 'utf8')).toBe('not ours');
  });

  it('finished: a finished copy\'s undo runs when its file is removed after all (or was already), never for the kept one', async () => {
    const { copies } = setup();
    const undone: string[] = [];
    const a = await copies.open();
    const b = await copies.open();
    const c = await copies.open();
    copies.finished(a.path, () => undone.push('a'));
    copies.finished(b.path, () => undone.push('b'));
    await copies.keep(b.path);
    expect(undone).toEqual(['a']);
    // c finishes after the race was decided: its file is gone already
    copies.finished(c.path, () => undone.push('c'));
    expect(undone).toEqual(['a', 'c']);
    for (const x of [a, b, c]) await x.fh.close();
  });

  it('property: whatever the copies and the order of their ends, only the kept file is left', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }), fc.nat(), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(),
      async (copiesN, winnerPick, removeFirst, failed) => {
        const { dir, copies, registry } = setup();
        const opened = await Promise.all(Array.from({ length: copiesN }, () => copies.open()));
        const winner = opened[winnerPick % copiesN]!;
        // some losers fail and remove their own file before the race ends, the others after
        for (const [k, c] of opened.entries()) if (c !== winner && removeFirst[k]) await copies.remove(c.path);
        if (failed) await copies.close(); else await copies.keep(winner.path);
        for (const c of opened) { await c.fh.close(); if (c !== winner) await copies.remove(c.path); }
        expect(fs.readdirSync(dir)).toEqual(failed ? [] : [path.basename(winner.path)]);
        expect([...registry]).toEqual(failed ? [] : [winner.path]);
      },
    ), { numRuns: 50 });
  });
});
