/**
 * Throttling and clock skew against the real gateways (issue 10, items 7 and 8): a SlowDown storm
 * (test/support/fault-proxy.ts `slowDownStormMs`) slows the sender down instead of opening the
 * breakers and stopping the run, whether it starts mid-upload or before the preflight; a client
 * clock 20 minutes off (test/support/skew-clock.mjs) is corrected from the server's Date header
 * once per endpoint instead of being retried on every request.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { ROOT, listAll, makeBucket, makeTree, runCli, ndjson, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const FILES = 1500;
const STORM_MS = 12_000;

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'throttle'));
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) files[`d${i % 10}/f${i}.txt`] = `file ${i}\n`.repeat(1 + (i % 20));
  tree = makeTree(files);
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

type Transition = { from: string; to: string; reason?: string };
type Rec = {
  type: string; op?: string; attempts?: number; ok?: boolean; retries?: number; failed?: unknown[]; uploaded?: number;
  endpoints?: Array<{ name: string; retries: number; breaker: string; breakerTransitions: Transition[] }>;
};

const records = (stdout: string): Rec[] => ndjson<Rec>(stdout);

async function stormRun(prefix: string, stormAfter: number): Promise<void> {
  const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { slowDownStormAfter: stormAfter, slowDownStormMs: STORM_MS } });
  proxies.push(proxy);
  const t0 = performance.now();
  const r = await runCli(env, ['upload', tree, bucket, prefix, '--endpoint-url', proxy.url, '--json', '-c', '16']);
  const elapsedMs = performance.now() - t0;
  const recs = records(r.stdout);
  const summary = recs.at(-1)!;
  expect(r.stderr, `exit ${r.code} after ${Math.round(elapsedMs)} ms`).toBe('');
  // SlowDown never opened a breaker (a deadline on this loaded 2-core machine may: that is health)
  for (const ep of summary.endpoints!) expect(ep.breakerTransitions.filter((t) => t.reason === 'SlowDown'), ep.name).toEqual([]);
  expect(r.code).toBe(0);
  expect(summary.failed).toEqual([]);
  // the storm really happened, and the run outlasted it
  expect(proxy.stats().slowDowns).toBeGreaterThanOrEqual(5);
  expect(elapsedMs).toBeGreaterThanOrEqual(STORM_MS);
  expect((await listAll(env, bucket, `${prefix}/`)).length).toBe(FILES);
}

describe('SlowDown storm', () => {
  it(`a ${STORM_MS / 1000} s SlowDown storm starting shortly into a ${FILES}-file upload: every file arrives, exit 0, no breaker opens`, async () => {
    await stormRun('storm-mid', 150);
  });

  it(`a ${STORM_MS / 1000} s SlowDown storm starting before the preflight: every file arrives, exit 0`, async () => {
    await stormRun('storm-start', 0);
  });
});

describe('clock skew', () => {
  it('a client clock 20 min behind is corrected from the Date header: about one retry per endpoint, not six per request', async () => {
    const small = makeTree(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`s${i}.txt`, `skew ${i}\n`])));
    try {
      const r = await runCli(env, ['upload', small, bucket, 'skew', '--json', '-c', '4',
        ...env.endpoints.flatMap((u) => ['--endpoint-url', u])], {
        env: { NODE_OPTIONS: `--import ${path.join(ROOT, 'test/support/skew-clock.mjs')}`, S3X_TEST_CLOCK_OFFSET_MS: String(-20 * 60_000) },
      });
      const summary = records(r.stdout).at(-1)!;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((await listAll(env, bucket, 'skew/')).length).toBe(60);
      // one skew answer per endpoint (its preflight, or a first request in flight), then corrected
      for (const ep of summary.endpoints!) expect(ep.retries, ep.name).toBeLessThanOrEqual(2);
      expect(summary.endpoints!.reduce((n, ep) => n + ep.retries, 0)).toBeLessThanOrEqual(env.endpoints.length + 1);
      for (const ep of summary.endpoints!) expect(ep.breakerTransitions.filter((t) => t.reason === 'RequestTimeTooSkewed'), ep.name).toEqual([]);
    } finally {
      fs.rmSync(small, { recursive: true, force: true });
    }
  });
});
