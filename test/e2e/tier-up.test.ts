/**
 * The CLI raises V8's interrupt budget in a real run of many small files (src/cli/tier-up.ts), in
 * both directions, through the progress each command gets from the library; the files arrive
 * intact either way. The policy's decisions are unit-tested in test/unit/tier-up.test.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIN_FILES_FOUND, SMALL_RUN_INTERRUPT_BUDGET } from '../../src/cli/tier-up.js';
import { makeBucket, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const endpointFlags = ['--endpoint-url', env.endpoints[0]!];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-tier-up-'));
const FILES = MIN_FILES_FOUND + 20;
const raised = (stderr: string): boolean => stderr.split('\n').some((l) => l.includes('V8 tier-up budget set') && l.includes(`"interruptBudget":${SMALL_RUN_INTERRUPT_BUDGET}`));

let bucket: string;
let drop: () => Promise<void>;
const contents = new Map<string, Buffer>();

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'tier-up'));
  for (let i = 0; i < FILES; i++) {
    const rel = `d${i % 5}/f${i}.bin`;
    contents.set(rel, crypto.randomBytes(16 + (i % 7)));
    fs.mkdirSync(path.join(work, 'src', path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(work, 'src', rel), contents.get(rel)!);
  }
});
afterAll(async () => {
  await drop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('V8 tier-up in a run of many small files', () => {
  it('upload and download raise the budget, and every file arrives intact', async () => {
    const up = await runCli(env, ['upload', path.join(work, 'src'), bucket, 'many', ...endpointFlags, '--no-progress', '--log-level', 'debug']);
    expect(up.code, up.stderr).toBe(0);
    expect(raised(up.stderr)).toBe(true);

    const out = path.join(work, 'out');
    const down = await runCli(env, ['download', bucket, 'many', out, ...endpointFlags, '--no-progress', '--log-level', 'debug']);
    expect(down.code, down.stderr).toBe(0);
    expect(raised(down.stderr)).toBe(true);
    for (const [rel, bytes] of contents) expect(fs.readFileSync(path.join(out, rel)).equals(bytes), rel).toBe(true);
  });
});
