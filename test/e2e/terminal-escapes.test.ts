/**
 * Keys and paths holding terminal control characters (ESC sequences, CR, LF, C1, a bidi override)
 * are shown escaped in every human-readable line (ls, dry-run plans, failure lines, the request
 * table), so a key cannot clear the screen, rewrite or hide a line; --json keeps the exact key.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { putObjects } from '../support/seed.js';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { client, listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const oneEndpoint = ['--endpoint-url', env.endpoints[0]!];
/** what must never reach a terminal raw: C0 except LF (the line ends), DEL, C1, bidi controls */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const NAMES = ['\u001b[2Jclear.txt', 'cr\rhidden.txt', 'bidi\u202etxt.exe', 'c1\u009bx.txt', 'nl\nFailed: 0.txt', 'bell\u0007.txt'];
/** local names: fast-glob's walk does not yield names holding CR or LF (reported separately) */
const LOCAL = NAMES.filter((n) => !/[\r\n]/.test(n));
const lines = (text: string): string[] => text.split('\n');

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
let proxy: FaultProxy;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'escapes'));
  await putObjects(env, bucket, [...NAMES.map((n) => [`esc/${n}`, 'x'] as const), ['esc/dir\u001b]0;title\u0007/x.txt', 'x']]);
  tree = makeTree(Object.fromEntries(LOCAL.map((n) => [`sub/${n}`, `body of ${n}`])));
  proxy = await startFaultProxy({ target: env.endpoints[0]! });
});

afterAll(async () => {
  await proxy?.close();
  if (bucket) {
    // one by one: a DeleteObjects XML body cannot carry these characters
    const s3 = client(env);
    for (const o of await listAll(env, bucket)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
    s3.destroy();
  }
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

describe('control characters in keys and paths', () => {
  it('ls: escaped in text lines (objects and PRE lines), exact in --json', async () => {
    const r = await runCli(env, ['ls', bucket, 'esc', '-r', ...oneEndpoint]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain(' esc/\\x1b[2Jclear.txt\n');
    expect(r.stdout).toContain(' esc/cr\\rhidden.txt\n');
    expect(r.stdout).toContain(' esc/bidi\\u202etxt.exe\n');
    expect(r.stdout).toContain(' esc/nl\\nFailed: 0.txt\n');
    expect(lines(r.stdout).filter((l) => l.includes(' esc/'))).toHaveLength(NAMES.length + 1);

    const pre = await runCli(env, ['ls', bucket, 'esc', ...oneEndpoint]);
    expect(pre.stdout).not.toMatch(RAW);
    expect(pre.stdout).toContain('PRE esc/dir\\x1b]0;title\\x07/\n');

    const json = await runCli(env, ['ls', bucket, 'esc', '-r', ...oneEndpoint, '--json']);
    // JSON escapes (\u202e) are exact and keep the terminal safe when --json goes to one
    expect(json.stdout).not.toMatch(RAW);
    const keys = lines(json.stdout.trim()).map((l) => JSON.parse(l) as { type: string; key?: string }).filter((x) => x.type === 'object').map((x) => x.key);
    expect(keys.sort()).toEqual([...NAMES.map((n) => `esc/${n}`), 'esc/dir\u001b]0;title\u0007/x.txt'].sort());
  });

  it('upload --dry-run and sync --dry-run --delete: plan lines escaped', async () => {
    const up = await runCli(env, ['upload', tree, bucket, 'up', '--dry-run']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout + up.stderr).not.toMatch(RAW);
    expect(up.stdout).toContain('would upload sub/\\x1b[2Jclear.txt → s3://');
    expect(lines(up.stdout).filter((l) => l.startsWith('would upload'))).toHaveLength(LOCAL.length);

    const sy = await runCli(env, ['sync', tree, bucket, 'esc', '--dry-run', '--delete', ...oneEndpoint]);
    expect(sy.code, sy.stderr).toBe(0);
    expect(sy.stdout + sy.stderr).not.toMatch(RAW);
    expect(sy.stdout).toContain('would delete s3://');
    expect(sy.stdout).toContain('esc/bell\\x07.txt\n');
    // a key holding a line break cannot be matched by the patterns: never a delete candidate
    expect(sy.stdout).not.toContain('cr\\rhidden.txt');
  });

  it('a failure line and the request table: escaped', async () => {
    proxy.setFaults({ match: /^PUT .*(%1B%5B2J|%E2%80%AE)/i, slowDownEvery: 1 });
    const r = await runCli(env, ['upload', tree, bucket, 'fail', '--endpoint-url', proxy.url, '--retries', '0', '--table']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(RAW);
    expect(r.stdout).toMatch(/\n {2}sub\/\\x1b\[2Jclear\.txt: .*SlowDown/);
    expect(r.stdout).toContain('fail/sub/bell\\x07.txt');
    expect(r.stdout).toMatch(/\n {2}sub\/bidi\\u202etxt\.exe: .*SlowDown/);
    // the warn-level log lines on stderr (pino NDJSON) name both files, escaped
    expect(r.stderr).toContain('bidi\\u202etxt.exe');
  });
});
