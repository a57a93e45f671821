/**
 * Property: `s3x sync s3://bucket/p <dir> --delete` against the real gateway deletes exactly
 * the selected local files (the walk with the same --include/--exclude is the oracle) that have
 * no object under the prefix — nothing else: not an excluded file, not a symlink nor what it
 * points to, not a directory, nothing outside <dir> — and nothing at all when any download
 * failed (a key that cannot be a local path, a file where a directory must go, or the other
 * way round); with --shard, only this shard's files. With --checksum and success, every selected object's bytes are in its file.
 * Seeded: S3X_PROP_SEED=<n> reruns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { walkFiles } from '../../src/fs/walk.js';
import { parseShard, shardFilter } from '../../src/ops/shard.js';
import { makeBucket, runCli, type S3TestEnv } from '../support/s3.js';
import { putObjects } from '../support/seed.js';

const env: S3TestEnv = inject('s3');
const SEGMENTS = ['a', 'b', 'c.txt', 'd.log', '.h', 'é', 'a b'];
const INCLUDES = ['*.txt', 'a/**', '*', '.*', '**/b'];
const EXCLUDES = ['*.log', 'b/', 'a', 'é/*', '*.txt', '.h'];

let bucket: string;
let drop: () => Promise<void>;
const temps: string[] = [];
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'syncdownprop')); });
afterAll(async () => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
  await drop?.();
});

const relPath = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const scenario = fc.record({
  local: fc.array(relPath, { maxLength: 8 }),
  /** for each local file: is there an object at its path, and with the same bytes? */
  remoteOfLocal: fc.array(fc.constantFrom('none', 'same', 'other'), { minLength: 8, maxLength: 8 }),
  remoteOnly: fc.array(relPath, { maxLength: 6 }),
  /** a key no local path can hold: the run fails, nothing may be deleted */
  badKey: fc.boolean(),
  include: fc.subarray(INCLUDES, { maxLength: 2 }),
  exclude: fc.subarray(EXCLUDES, { maxLength: 2 }),
  checksum: fc.boolean(),
  symlink: fc.boolean(),
  shard: fc.constantFrom(undefined, '1/2', '2/2'),
});

/** Keeps the paths that can all be files at once (no path is another's directory). */
function asFiles(rels: readonly string[]): string[] {
  const out: string[] = [];
  for (const r of new Set(rels)) {
    if (out.some((o) => o.startsWith(`${r}/`) || r.startsWith(`${o}/`))) continue;
    out.push(r);
  }
  return out;
}

function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, p).split(path.sep).join('/'), fs.readFileSync(p, 'utf8'));
  }
  return out;
}

let round = 0;
describe('sync s3:// → <dir> --delete (property, real gateway)', () => {
  it('deletes exactly the selected local-only files, and nothing when a download failed', async () => {
    const seed = process.env.S3X_PROP_SEED ? Number(process.env.S3X_PROP_SEED) : undefined;
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const prefix = `prop-${round++}`;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-sdprop-'));
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-sdprop-out-'));
      temps.push(dir, outside);
      const local = asFiles(s.local);
      for (const rel of local) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), `local ${rel}`);
      }
      fs.writeFileSync(path.join(outside, 'target'), 'outside');
      if (s.symlink) fs.symlinkSync(path.join(outside, 'target'), path.join(dir, 'ln'));
      const objects = new Map<string, string>();
      local.forEach((rel, i) => {
        const how = s.remoteOfLocal[i] ?? 'none';
        // 'other': the same size, other bytes (only --checksum is sure to see it)
        if (how !== 'none') objects.set(rel, how === 'same' ? `local ${rel}` : `LOCAL ${rel}`);
      });
      for (const rel of s.remoteOnly) if (!objects.has(rel)) objects.set(rel, `remote ${rel}`);
      const seedObjects: Array<[string, string]> = [...objects].map(([rel, body]) => [`${prefix}/${rel}`, body]);
      if (s.badKey) seedObjects.push([`${prefix}/x//y`, 'bad']);
      seedObjects.push([`${prefix}-beside/c.txt`, 'beside']);
      await putObjects(env, bucket, seedObjects);

      const selected = new Set<string>();
      for await (const f of walkFiles(dir, { include: s.include, exclude: s.exclude })) selected.add(f.rel);
      const before = filesUnder(dir);
      const args = ['sync', `s3://${bucket}/${prefix}`, dir, '--endpoint-url', env.endpoints[0]!, '--delete-all', '--json'];
      for (const g of s.include) args.push('--include', g);
      for (const g of s.exclude) args.push('--exclude', g);
      if (s.checksum) args.push('--checksum');
      if (s.shard) args.push('--shard', s.shard);
      const inShard = shardFilter(s.shard ? parseShard(s.shard) : undefined);
      const r = await runCli(env, args);
      const after = filesUnder(dir);
      const deleted = [...before.keys()].filter((rel) => !after.has(rel)).sort();

      // never outside, never a link or its target
      expect(fs.readFileSync(path.join(outside, 'target'), 'utf8')).toBe('outside');
      if (s.symlink) expect(fs.lstatSync(path.join(dir, 'ln')).isSymbolicLink()).toBe(true);
      if (r.code !== 0) {
        expect(r.code, r.stderr).toBe(1);
        expect(deleted).toEqual([]);
        return;
      }
      // (a bad key the filters do not select is no failure: it is not downloaded)
      const expected = [...selected].filter((rel) => !objects.has(rel) && inShard(`${prefix}/${rel}`)).sort();
      expect(deleted).toEqual(expected);
      if (s.checksum) {
        for (const [rel, body] of objects) {
          if (inShard(`${prefix}/${rel}`) && (selected.has(rel) || await shadowSelected(rel, s))) expect(after.get(rel)).toBe(body);
        }
      }
    }), { numRuns: 20, ...(seed !== undefined && { seed }) });
  }, 900_000);
});

/** The walk on a one-file shadow tree: would it take a file at `rel`? */
async function shadowSelected(rel: string, s: { include: string[]; exclude: string[] }): Promise<boolean> {
  const shadow = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-sdprop-shadow-'));
  try {
    fs.mkdirSync(path.dirname(path.join(shadow, rel)), { recursive: true });
    fs.writeFileSync(path.join(shadow, rel), '');
    for await (const f of walkFiles(shadow, { include: s.include, exclude: s.exclude })) if (f.rel === rel) return true;
    return false;
  } finally {
    fs.rmSync(shadow, { recursive: true, force: true });
  }
}
