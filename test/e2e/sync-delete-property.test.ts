/**
 * Property: after `s3x sync --delete` against the real gateway, the remote holds exactly what
 * the rules say, and nothing outside them was touched. Random small trees with awkward names,
 * include/exclude patterns from a fixed grammar, a skipped directory symlink, a broken link, an
 * unreadable directory (the CLI runs as 'nobody' so permissions bite), with and without
 * --follow-symlinks; the remote is seeded
 * with objects for local files, remote-only ones inside and outside the rules, under the
 * link/unreadable subtrees, and beside the prefix (`p`, `px`, `p-x/…`).
 *
 * The oracle for "selected" is the walk itself on a one-file shadow tree per key: a key may go
 * only if the walk would have taken a local file at that path. Seeded: S3X_PROP_SEED=<n> reruns.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import fg from 'fast-glob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { globPatterns } from '../../src/fs/select.js';
import { walkFiles } from '../../src/fs/walk.js';
import { client, listAll, makeBucket, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
/** as root, run the CLI as 'nobody' so that chmod 000 bites (a non-root owner is refused anyway) */
const AS_USER = process.getuid?.() === 0 ? { uid: 65534 } : {};
const SEGMENTS = ['a', 'b', 'a-b', 'a b', 'é', 'ünï', '.d', 'x.tmp', 'y.log', 'c.txt', 'd..', 'node_modules', 'build', '[ab]'];
const INCLUDES = ['*.txt', '*.{tmp,log}', 'a/**', '**/b', '!(*.txt)', 'ünï', '.*', '*', 'a b/*'];
const EXCLUDES = ['a', 'b/', 'a/b/', '*.{tmp,log}', '[ab]', '[ab].txt', '!(*.txt)', '**/build', 'node_modules/', '.d', 'ünï', 'a-b', 'a b', '*.txt', 'x.tmp/**', '?', 'é/*'];

let bucket: string;
let drop: () => Promise<void>;
const temps: string[] = [];
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'syncprop')); });
afterAll(async () => {
  for (const t of temps) {
    fs.chmodSync(t, 0o755);
    fs.rmSync(t, { recursive: true, force: true });
  }
  await drop?.();
});

const relPath = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const scenario = fc.record({
  files: fc.array(relPath, { maxLength: 8 }),
  seedLocal: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  remoteOnly: fc.array(relPath, { maxLength: 8 }),
  include: fc.subarray(INCLUDES, { maxLength: 2 }),
  exclude: fc.subarray(EXCLUDES, { maxLength: 3 }),
  dirLink: fc.option(fc.constantFrom('lnk', 'a/lnk', 'a b/lnk'), { nil: undefined }),
  broken: fc.option(fc.constantFrom('broken', 'a/brk'), { nil: undefined }),
  // an unreadable dir fails the run (nothing deleted at all): in about one run in four
  locked: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.constantFrom('locked', 'a/locked'), weight: 1 }),
  deleteAll: fc.constantFrom(false, false, false, true),
  follow: fc.boolean(),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** Adds `p` unless it clashes with what is there (a file where a directory must be, or the reverse). */
function addPath(taken: Set<string>, p: string): boolean {
  const parts = p.split('/');
  for (let i = 1; i < parts.length; i++) if (taken.has(parts.slice(0, i).join('/'))) return false;
  for (const t of taken) if (t === p || t.startsWith(`${p}/`)) return false;
  taken.add(p);
  return true;
}

interface Built { root: string; files: string[]; dirLink: string | undefined; broken: string | undefined; locked: string | undefined }

function build(sc: Scenario): Built {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-prop-'));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-prop-target-'));
  temps.push(root, outside);
  fs.chmodSync(root, 0o755);
  fs.chmodSync(outside, 0o755);
  fs.writeFileSync(path.join(outside, 'e.txt'), 'elsewhere');
  const taken = new Set<string>();
  const files: string[] = [];
  const write = (rel: string, content: string): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  };
  const link = (rel: string | undefined, target: string): string | undefined => {
    if (rel === undefined || !addPath(taken, rel)) return undefined;
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.symlinkSync(target, path.join(root, rel));
    return rel;
  };
  const dirLink = link(sc.dirLink, outside);
  const broken = link(sc.broken, '/nonexistent/unmounted-share');
  let locked: string | undefined;
  if (sc.locked !== undefined && addPath(taken, `${sc.locked}/in.txt`)) locked = sc.locked;
  for (const f of sc.files) if (addPath(taken, f)) { write(f, `local ${f}`); files.push(f); }
  if (locked) {
    write(`${locked}/in.txt`, 'locked');
    fs.chmodSync(path.join(root, locked), 0o000);
  }
  return { root, files, dirLink, broken, locked };
}

/**
 * Would the walk take a local file at `rel`? A one-file shadow tree, walked with the same rules;
 * and never unless fast-glob alone (with the walk's options and patterns) takes it too.
 */
async function walkTakes(rel: string, include: string[], exclude: string[]): Promise<boolean> {
  const shadow = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-shadow-'));
  try {
    fs.mkdirSync(path.dirname(path.join(shadow, rel)), { recursive: true });
    fs.writeFileSync(path.join(shadow, rel), '');
    let walked = false;
    for await (const f of walkFiles(shadow, { include, exclude })) if (f.rel === rel) walked = true;
    const raw = await fg(include.length > 0 ? globPatterns(include) : ['**'], {
      cwd: shadow, dot: true, baseNameMatch: true, ignore: globPatterns(exclude), suppressErrors: true,
    });
    if (walked) expect(raw, `fast-glob does not take ${rel}`).toContain(rel);
    return walked;
  } finally {
    fs.rmSync(shadow, { recursive: true, force: true });
  }
}

async function seedRemote(keys: readonly string[]): Promise<void> {
  const s3 = client(env);
  try {
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `remote ${Key}` }))));
  } finally {
    s3.destroy();
  }
}

const under = (rel: string, roots: readonly string[]): boolean => roots.some((r) => rel === r || rel.startsWith(`${r}/`));

async function check(sc: Scenario): Promise<void> {
  const b = build(sc);
  const p = `r-${crypto.randomBytes(4).toString('hex')}`;
  const links = [b.dirLink, b.broken].filter((l) => l !== undefined);
  // a followed directory link is read like a directory; a broken one never is
  const unread = [...(sc.follow ? [] : [b.dirLink]), b.broken, b.locked].filter((l) => l !== undefined);
  const remoteRels = [...new Set([
    ...b.files.filter((_, i) => sc.seedLocal[i % sc.seedLocal.length]),
    ...sc.remoteOnly,
    ...links.flatMap((l) => [l, `${l}/x.txt`, `${l}/q/r`, `${l}/e.txt`]),
    ...(b.locked ? [`${b.locked}/in.txt`, `${b.locked}/gone`] : []),
  ])];
  const besides = [p, `${p}x`, `${p}-x/a`, `${p}.bak/c.txt`];
  await seedRemote([...remoteRels.map((r) => `${p}/${r}`), ...besides]);

  // what the rules say: local files the walk takes (as 'nobody': nothing under the locked dir)
  const local: string[] = [];
  for await (const f of walkFiles(b.root, { include: sc.include, exclude: sc.exclude, followSymlinks: sc.follow })) if (!b.locked || !under(f.rel, [b.locked])) local.push(f.rel);
  const goes: string[] = [];
  for (const r of remoteRels) {
    if (!local.includes(r) && !under(r, unread) && (await walkTakes(r, sc.include, sc.exclude))) goes.push(r);
  }

  const flags = [...sc.include.flatMap((x) => ['--include', x]), ...sc.exclude.flatMap((x) => ['--exclude', x])];
  const run = await runCli(env, ['sync', b.root, `s3://${bucket}/${p}`, '--endpoint-url', env.endpoints[0]!,
    sc.deleteAll ? '--delete-all' : '--delete', ...(sc.follow ? ['--follow-symlinks'] : []), ...flags], AS_USER);
  const out = `exit ${run.code}\n${run.stdout}${run.stderr}`;
  const after = (await listAll(env, bucket, p)).map((o) => o.Key!);
  // nothing beside the prefix was touched, ever
  expect(after.filter((k) => !k.startsWith(`${p}/`)).sort(), out).toEqual([...besides].sort());
  const got = after.filter((k) => k.startsWith(`${p}/`)).map((k) => k.slice(p.length + 1)).sort();
  const unchanged = [...remoteRels].sort();
  if (local.length === 0 && goes.length > 0 && !sc.deleteAll) {
    expect(run.code, out).toBe(2); // refuses to empty the prefix
    expect(got, out).toEqual(unchanged);
  } else if (run.code === 1) {
    // only the unreadable directory may fail the run, and then nothing is deleted
    expect(b.locked, out).toBeDefined();
    expect(run.stdout, out).toMatch(/cannot read directory: EACCES/);
    for (const r of remoteRels) expect(got, out).toContain(r);
  } else {
    expect(run.code, out).toBe(0);
    expect(got, out).toEqual([...new Set([...remoteRels.filter((r) => !goes.includes(r)), ...local])].sort());
  }
}

describe('property: sync --delete deletes exactly what the rules say', () => {
  it('random trees, patterns, links and an unreadable dir against the real gateway', async () => {
    const seed = Number(process.env.S3X_PROP_SEED ?? crypto.randomInt(2 ** 31));
    try {
      await fc.assert(fc.asyncProperty(scenario, check), { seed, numRuns: 12, endOnFailure: true, includeErrorInReport: true, interruptAfterTimeLimit: 40_000 });
    } catch (err) {
      throw new Error(`property failed; rerun with S3X_PROP_SEED=${seed}\n${(err as Error).message}`);
    }
  }, 60_000);
});
