/**
 * Starts the real S3 servers the e2e tests talk to, once per `vitest run`:
 *  - S3X_TEST_ENDPOINTS="http://h:p http://h:p …" (+ AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY):
 *    use those endpoints as they are (they must front the same data);
 *  - otherwise `scripts/ceph-rgw.sh up` brings up a one-node Ceph cluster with three radosgw
 *    gateways on 127.0.0.1:7480-7482 (reusing it when already running) and stops it at the end
 *    if this run started it (S3X_TEST_KEEP_SERVERS=1 keeps it up for the next run).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { S3TestEnv } from './s3.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts/ceph-rgw.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3TestEnv;
  }
}

function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2]!.replace(/^["']|["']$/g, '');
  }
  return vars;
}

export default function setup(project: TestProject): (() => void) | undefined {
  const given = process.env.S3X_TEST_ENDPOINTS?.trim();
  if (given) {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = process.env;
    if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
      throw new Error('S3X_TEST_ENDPOINTS is set: also set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    }
    project.provide('s3', {
      endpoints: given.split(/[\s,]+/),
      accessKeyId: AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_SECRET_ACCESS_KEY,
      region: process.env.AWS_REGION ?? 'us-east-1',
      cephDir: undefined,
    });
    return undefined;
  }
  const dir = process.env.S3X_CEPH_DIR ?? '/tmp/s3x-ceph';
  let wasRunning = false;
  try {
    execFileSync('bash', [SCRIPT, 'status', '--dir', dir], { stdio: 'ignore' });
    wasRunning = true;
  } catch { /* not running: start it */ }
  const out = execFileSync('bash', [SCRIPT, 'up', '--dir', dir, '7480', '7481', '7482'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 170_000,
  });
  const vars = parseEnvFile(out);
  project.provide('s3', {
    endpoints: (vars.S3X_ENDPOINTS ?? '').split(/\s+/).filter(Boolean),
    accessKeyId: vars.AWS_ACCESS_KEY_ID!,
    secretAccessKey: vars.AWS_SECRET_ACCESS_KEY!,
    region: vars.AWS_REGION ?? 'us-east-1',
    cephDir: dir,
  });
  if (wasRunning || process.env.S3X_TEST_KEEP_SERVERS === '1') return undefined;
  return () => {
    execFileSync('bash', [SCRIPT, 'down', '--dir', dir], { stdio: 'inherit', timeout: 60_000 });
  };
}
