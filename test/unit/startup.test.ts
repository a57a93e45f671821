/**
 * The built CLI (bin/s3x.js → the bundle, scripts/bundle-cli.mjs) starts without what only some
 * runs need: node:tls and node:https (https endpoints, src/config/tls-modules.ts), the glob
 * packages and the AWS SDK, ora and cli-table3 (the bundle's side files), and compiles the bundle
 * from the V8 code cache the build wrote. Each cost every start several ms of CPU
 * (docs/benchmarks.md, ninth session and 2026-12-03); this keeps them so structurally, without
 * timing anything.
 * Needs `npm run build` (as `npm test` does first).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInS3 } from '../../scripts/stand-in-s3.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
let dir: string;
let probe: string;
let server: http.Server;
let endpoint: string;

beforeAll(async () => {
  // the build's stand-in S3 (empty listings, PUTs answered with their MD5)
  ({ server, endpoint } = await startStandInS3());
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-startup-'));
  probe = path.join(dir, 'probe.cjs');
  // at exit: which of them this process loaded, and whether V8 took the bundle's code cache
  fs.writeFileSync(probe, `const vm = require('node:vm'); const compiled = {};
vm.Script = class extends vm.Script {
  constructor(src, opts) { super(src, opts); compiled[require('node:path').basename(opts?.filename ?? '')] = !opts?.cachedData ? 'missing' : this.cachedDataRejected ? 'rejected' : 'used'; }
};
process.on('exit', () => require('node:fs').writeFileSync(process.env.S3X_PROBE_OUT, JSON.stringify({
    tls: process.moduleLoadList.includes('NativeModule tls'),
    https: process.moduleLoadList.includes('NativeModule https'),
    spawn: process.moduleLoadList.includes('NativeModule child_process'),
    threads: process.moduleLoadList.includes('NativeModule worker_threads'),
    globs: 'lazy-packages.cjs' in compiled || Object.keys(require.cache).some((f) => /lazy-packages\\.cjs$|[\\\\/]node_modules[\\\\/](fast-glob|micromatch)[\\\\/]/.test(f)),
    side: Object.keys(require.cache).filter((f) => /[\\\\/]dist[\\\\/]s3x[\\\\/](aws-sdk-client-s3|ora|cli-table3)\\.cjs$/.test(f)).map((f) => require('node:path').basename(f)),
    cache: compiled['main.cjs'] ?? 'none',
    globsCache: compiled['lazy-packages.cjs'] ?? 'none',
  })));`);
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await new Promise((r) => server.close(r));
});

/** Runs the built CLI with `args` under the probe; its exit code and what it loaded. */
type Loaded = { code: number | null; tls: boolean; https: boolean; spawn: boolean; threads: boolean; globs: boolean; side: string[]; cache: string; globsCache: string };
async function loaded(args: string[]): Promise<Loaded> {
  const out = path.join(dir, `out-${args[0]}.json`);
  // a clean environment, as the bench's: no CA bundle (which needs node:tls for its roots), no proxy
  const env = { PATH: process.env.PATH, HOME: dir, S3X_PROBE_OUT: out, AWS_ACCESS_KEY_ID: 'AKIDSTARTUP', AWS_SECRET_ACCESS_KEY: 'startup-secret', AWS_REGION: 'us-east-1' };
  const child = spawn(process.execPath, ['-r', probe, path.join(ROOT, 'bin/s3x.js'), ...args], { cwd: dir, env, stdio: 'ignore' });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, ...(JSON.parse(fs.readFileSync(out, 'utf8')) as Omit<Loaded, 'code'>) };
}

describe('start-up of the built CLI', () => {
  it('the bundle is built, with its code cache, in strict mode, and holds no import() (bin/s3x.js compiles it as a vm.Script, which cannot resolve one)', () => {
    expect(fs.existsSync(path.join(ROOT, 'dist/s3x/main.cjs')), 'run npm run build first').toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'dist/s3x/main.cjs.cache'))).toBe(true);
    const bundle = fs.readFileSync(path.join(ROOT, 'dist/s3x/main.cjs'), 'utf8');
    expect(bundle).not.toMatch(/\bimport\(/);
    expect(fs.readFileSync(path.join(ROOT, 'dist/s3x/lazy-packages.cjs'), 'utf8'), 'the glob side file is compiled as a vm.Script too').not.toMatch(/\bimport\(/);
    // strict mode, as src/'s ES modules are: the directive counts only as the file's first statement
    expect(bundle.startsWith('"use strict";')).toBe(true);
  });

  it('--version and an ls of an http endpoint load neither tls, https, child_process, worker_threads, the glob packages nor a side file, and V8 takes the code cache', async () => {
    const lean = { code: 0, tls: false, https: false, spawn: false, threads: false, globs: false, side: [], cache: 'used', globsCache: 'none' };
    expect(await loaded(['--version'])).toEqual(lean);
    expect(await loaded(['ls', 's3://startup-bucket/p/', '--endpoint-url', endpoint])).toEqual(lean);
  });

  it('the probe sees what a run needs: a walk loads the glob packages (from their code cache), an https endpoint tls and https', async () => {
    const src = fs.mkdtempSync(path.join(dir, 'src-'));
    fs.writeFileSync(path.join(src, 'a.txt'), 'a');
    expect(await loaded(['upload', src, 'startup-bucket', '--endpoint-url', endpoint, '--no-progress'])).toEqual({ code: 0, tls: false, https: false, spawn: false, threads: false, globs: true, side: [], cache: 'used', globsCache: 'used' });
    expect(await loaded(['ls', 's3://startup-bucket/p/', '--endpoint-url', 'https://127.0.0.1:9', '--retries', '0'])).toMatchObject({ tls: true, https: true, globs: false });
    expect(await loaded(['upload', src, 'startup-bucket', 'p2', '--endpoint-url', endpoint, '--no-progress', '--table'])).toMatchObject({ code: 0, side: ['cli-table3.cjs'] });
  });
});
