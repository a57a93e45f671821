/**
 * `s3x delete-prefix` and `s3x download` ask for their first listing page while the preflight runs
 * (src/ops/preflight-listing.ts), through the fault proxy in front of a real RGW gateway: the
 * listing is sent before the preflight has answered, yet no DeleteObjects goes out before the
 * preflight passed; a preflight that fails (while the listing itself succeeds) stops the run
 * with its one clear line, exit 2, and nothing is deleted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy } from '../support/fault-proxy.js';
import { putObjects } from '../support/seed.js';
import { listAll, makeBucket, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
let bucket: string;
let drop: () => Promise<void>;
const keys = (prefix: string): string[] => Array.from({ length: 30 }, (_, i) => `${prefix}/k${String(i).padStart(2, '0')}`);
/** the preflight is the only ListObjectsV2 with max-keys=1 */
const PREFLIGHT = /^GET \/[^/?]+\?list-type=2&max-keys=1$/;
const LISTING = /^GET \/[^/?]+\?list-type=2&prefix=/;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'delpre'));
  await putObjects(env, bucket, [...keys('slow'), ...keys('denied'), 'sibling/x'].map((k) => [k, 'x'] as const));
});

const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-prelist-'));
afterAll(async () => {
  await drop?.();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('delete-prefix: listing during the preflight', () => {
  it('the first page is asked for before the preflight answers; every DeleteObjects comes after the preflight passed', async () => {
    // the preflight's first attempt never answers: its deadline cuts it, the second one passes
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: PREFLIGHT, stallNth: [1] } });
    try {
      const r = await runCli(env, ['delete-prefix', bucket, 'slow', '--endpoint-url', proxy.url, '--min-deadline-ms', '500']);
      expect(r.code, r.stderr).toBe(0);
      expect(await listAll(env, bucket, 'slow/')).toEqual([]);
      const log = proxy.requestLog();
      const preflights = log.flatMap((l, i) => (PREFLIGHT.test(l) ? [i] : []));
      const firstListing = log.findIndex((l) => LISTING.test(l));
      const firstDelete = log.findIndex((l) => l.startsWith('POST '));
      expect(preflights.length).toBe(2);
      // sent before the preflight's second (passing) attempt: not after the preflight passed
      expect(firstListing).toBeGreaterThanOrEqual(0);
      expect(firstListing).toBeLessThan(preflights[1]!);
      expect(firstDelete).toBeGreaterThan(preflights[1]!);
    } finally {
      await proxy.close();
    }
  });

  it('a failed preflight stops the run before any delete, though the listing answered: one line, exit 2, every key kept', async () => {
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: PREFLIGHT, failAfter: 0, failStatus: 404, failCode: 'NoSuchBucket', delayMs: 300 } });
    try {
      const r = await runCli(env, ['delete-prefix', bucket, 'denied', '--endpoint-url', proxy.url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^s3x: error: bucket '${bucket}' does not exist at http://127\\.0\\.0\\.1:\\d+\\n$`));
      const log = proxy.requestLog();
      expect(log.some((l) => LISTING.test(l))).toBe(true);
      expect(log.filter((l) => l.startsWith('POST ') || l.startsWith('DELETE '))).toEqual([]);
      expect(await listAll(env, bucket, 'denied/')).toHaveLength(30);
      expect((await listAll(env, bucket, 'sibling/')).map((o) => o.Key)).toEqual(['sibling/x']);
    } finally {
      await proxy.close();
    }
  });
});

describe('download: listing during the preflight', () => {
  it('a failed preflight stops the run before any GET of an object, though the listing answered: one line, exit 2, no file, no directory made', async () => {
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: PREFLIGHT, failAfter: 0, failStatus: 404, failCode: 'NoSuchBucket', delayMs: 300 } });
    const out = path.join(work, 'out');
    try {
      const r = await runCli(env, ['download', bucket, 'denied', out, '--endpoint-url', proxy.url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^s3x: error: bucket '${bucket}' does not exist at http://127\\.0\\.0\\.1:\\d+\\n$`));
      const log = proxy.requestLog();
      expect(log.some((l) => LISTING.test(l))).toBe(true);
      expect(log.filter((l) => /^GET \/[^/?]+\/denied\//.test(l))).toEqual([]);
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('the first page is asked for before the preflight answers; every object GET comes after the preflight passed; files exact', async () => {
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: PREFLIGHT, stallNth: [1] } });
    const out = path.join(work, 'out2');
    try {
      const r = await runCli(env, ['download', bucket, 'denied', out, '--endpoint-url', proxy.url, '--min-deadline-ms', '500']);
      expect(r.code, r.stderr).toBe(0);
      expect(fs.readdirSync(out).sort()).toEqual(keys('denied').map((k) => k.slice('denied/'.length)));
      for (const n of fs.readdirSync(out)) expect(fs.readFileSync(path.join(out, n), 'utf8')).toBe('x');
      const log = proxy.requestLog();
      const preflights = log.flatMap((l, i) => (PREFLIGHT.test(l) ? [i] : []));
      const firstListing = log.findIndex((l) => LISTING.test(l));
      const firstGet = log.findIndex((l) => /^GET \/[^/?]+\/denied\//.test(l));
      expect(preflights.length).toBe(2);
      expect(firstListing).toBeGreaterThanOrEqual(0);
      expect(firstListing).toBeLessThan(preflights[1]!);
      expect(firstGet).toBeGreaterThan(preflights[1]!);
    } finally {
      await proxy.close();
    }
  });
});
