/**
 * A pool config file holding a secret, broken in several ways: the CLI prints one line that names
 * the file and what is wrong, never the secret, and exits 2.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const SECRET = 'SUPERSECRET123';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-config-e2e-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const ep = { url: env.endpoints[0]!, accessKeyId: env.accessKeyId, secretAccessKey: SECRET };

describe('config errors on the command line', () => {
  it.each([
    ['top-level array', JSON.stringify([{ endpoints: [ep] }])],
    ['malformed JSON next to the secret', `{"endpoints":[{"url":"${ep.url}","accessKeyId":"${ep.accessKeyId}","secretAccessKey": ${SECRET}}]}`],
    ['wrong type for the secret', JSON.stringify({ endpoints: [{ ...ep, secretAccessKey: [SECRET] }] })],
    ['secret in a number field', JSON.stringify({ endpoints: [{ ...ep, retries: SECRET }] })],
  ])('%s: one line, no secret, exit 2', async (name, text) => {
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
    fs.writeFileSync(file, text);
    const r = await runCli(env, ['ls', 'some-bucket', '--config', file]);
    expect(r.stdout + r.stderr).not.toContain('SUPERSECRE');
    expect(r.stderr).toMatch(new RegExp(`^s3x: error: --config ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .+\\n$`));
    expect(r.code).toBe(2);
  });
});
