#!/usr/bin/env node
// The baseline a developer writes in ten minutes: @aws-sdk/client-s3 as it comes (plus the
// settings RGW needs), N workers, readFile + PutObject per file. No deadlines, SDK retries.
// usage: sdk-plain.mjs <dir> <bucket> <prefix> <endpoint> <concurrency>
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const [dir, bucket, prefix, endpoint, conc] = process.argv.slice(2);
const s3 = new S3Client({
  endpoint, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});
const files = (await fs.readdir(dir, { recursive: true, withFileTypes: true }))
  .filter((d) => d.isFile()).map((d) => path.join(d.parentPath ?? d.path, d.name));
let next = 0;
await Promise.all(Array.from({ length: Number(conc) }, async () => {
  while (next < files.length) {
    const f = files[next++];
    const key = `${prefix}/${path.relative(dir, f).split(path.sep).join('/')}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await fs.readFile(f) }));
  }
}));
s3.destroy();
