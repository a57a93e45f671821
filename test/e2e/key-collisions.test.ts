/**
 * Two local files that map to one key (on POSIX `a\b.txt` and `a/b.txt`: a backslash becomes a
 * key separator) are never sent one over the other: both are reported, naming each other, neither
 * is sent, the run goes on with the rest and exits 1. A backslash name with no counterpart is
 * sent as before; a counterpart the filters leave out is no collision.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';
import { putObjects } from '../support/seed.js';

const env: S3TestEnv = inject('s3');
const oneEndpoint = ['--endpoint-url', env.endpoints[0]!];

const TREE = {
  'a\\b.txt': 'file named a\\b.txt',
  'a/b.txt': 'file b.txt in a/',
  'd\\e/f.txt': 'f.txt in the directory d\\e',
  'd/e/f.txt': 'f.txt in d/e/',
  'd/e/other.txt': 'no counterpart',
  'g\\h\\i.txt': 'file named g\\h\\i.txt',
  'g\\h/i.txt': 'i.txt in the directory g\\h',
  'solo\\x.txt': 'a backslash name alone',
  'dbl\\\\y.txt': 'two backslashes in a row: an empty key segment',
  'ok.txt': 'plain',
};
/** colliding groups: every member fails, naming the others */
const GROUPS = [['a\\b.txt', 'a/b.txt'], ['d\\e/f.txt', 'd/e/f.txt'], ['g\\h\\i.txt', 'g\\h/i.txt']];
const SENT = { 'solo/x.txt': TREE['solo\\x.txt'], 'd/e/other.txt': TREE['d/e/other.txt'], 'ok.txt': TREE['ok.txt'] };

let bucket: string;
let drop: () => Promise<void>;
let tree: string;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'collide'));
  tree = makeTree(TREE);
});

afterAll(async () => {
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

type Failed = { path: string; key?: string; error: string };
function expectCollisions(failed: Failed[]): void {
  for (const group of GROUPS) {
    for (const p of group) {
      const f = failed.find((x) => x.path === p);
      expect(f, `${p} reported`).toBeDefined();
      for (const other of group.filter((o) => o !== p)) expect(f!.error).toContain(other);
    }
  }
  const dbl = failed.find((x) => x.path === 'dbl\\\\y.txt');
  expect(dbl?.error).toMatch(/backslash/);
  expect(failed).toHaveLength(GROUPS.flat().length + 1);
}

async function keysUnder(prefix: string): Promise<string[]> {
  return (await listAll(env, bucket, prefix)).map((o) => o.Key!.slice(prefix.length)).sort();
}

describe('local paths that map to one key', () => {
  it('upload: both reported, neither sent, the rest sent, exit 1', async () => {
    const r = await runCli(env, ['upload', tree, bucket, 'up', ...oneEndpoint, '--json', '-c', '4']);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { files: number; failed: Failed[] };
    expectCollisions(summary.failed);
    expect(summary.files).toBe(Object.keys(SENT).length);
    expect(await keysUnder('up/')).toEqual(Object.keys(SENT).sort());
    expect(r.code).toBe(1);
  });

  it('upload --dry-run: the plan leaves them out and names them', async () => {
    const r = await runCli(env, ['upload', tree, bucket, 'dry', '--dry-run']);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('would upload'))).toHaveLength(Object.keys(SENT).length);
    expect(r.stdout).toMatch(/\n {2}a\\b\.txt: .*a\/b\.txt/);
    expect(r.code).toBe(1);
  });

  it('a counterpart the filters leave out is no collision', async () => {
    const r = await runCli(env, ['upload', tree, bucket, 'filtered', ...oneEndpoint, '--exclude', 'a/**', '--json']);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { failed: Failed[] };
    expect(summary.failed.map((f) => f.path)).not.toContain('a\\b.txt');
    expect(await keysUnder('filtered/')).toContain('a/b.txt');
    const body = await (await import('../support/s3.js')).objectMd5(env, bucket, 'filtered/a/b.txt');
    expect(body).toBe((await import('node:crypto')).createHash('md5').update(TREE['a\\b.txt']).digest('hex'));
  });

  it('sync --delete: both reported, the object at their key untouched, nothing deleted, exit 1', async () => {
    await putObjects(env, bucket, [['sy/a/b.txt', 'already there'], ['sy/gone.txt', 'no local file']]);
    const r = await runCli(env, ['sync', tree, bucket, 'sy', ...oneEndpoint, '--delete', '--json']);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { failed: Failed[]; deleted: number };
    expectCollisions(summary.failed);
    expect(summary.deleted).toBe(0);
    const keys = await keysUnder('sy/');
    expect(keys).toEqual([...Object.keys(SENT), 'a/b.txt', 'gone.txt'].sort());
    const md5 = await (await import('../support/s3.js')).objectMd5(env, bucket, 'sy/a/b.txt');
    expect(md5).toBe((await import('node:crypto')).createHash('md5').update('already there').digest('hex'));
    expect(r.code).toBe(1);
  });
});
