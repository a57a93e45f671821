/**
 * How far upload's walk runs ahead of its uploads (src/ops/upload.ts WALK_AHEAD_FILES): 512 files
 * without priorities, 2,000 with them, so a HIGH file found late can still overtake.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { upload } from '../../src/index.js';
import { makeBucket, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
let bucket: string;
let drop: () => Promise<void>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-walk-ahead-'));

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'walkahead'));
  // 800 empty files in 8 directories: the walk finds them far faster than 2 requests send them
  for (let d = 0; d < 8; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`));
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `d${d}`, `f${f}`), '');
  }
});
afterAll(async () => {
  await drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The most files found and not yet done that any progress report showed. */
async function mostAhead(prefix: string, priorities?: Array<{ priority: 'HIGH'; glob: string }>): Promise<number> {
  let ahead = 0;
  const s = await upload({
    dir, bucket, prefix, endpointUrls: [env.endpoints[0]!], region: env.region, concurrency: 2,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    ...(priorities && { priorities }),
    onProgress: (p) => { ahead = Math.max(ahead, p.filesFound - p.filesDone - p.filesFailed); },
  });
  expect(s.files).toBe(800);
  expect(s.failed).toEqual([]);
  return ahead;
}

describe('upload: the walk ahead of the uploads', () => {
  it('runs at most 512 files ahead without priorities, further with them', async () => {
    // 512 queued + the files dispatch holds in progress (2 × concurrency)
    const plain = await mostAhead('plain');
    expect(plain).toBeGreaterThan(400);
    expect(plain).toBeLessThanOrEqual(512 + 4);
    expect(await mostAhead('prio', [{ priority: 'HIGH', glob: '**/f99' }])).toBeGreaterThan(600);
  }, 120_000);
});
