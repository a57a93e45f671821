#!/usr/bin/env node
// Small helpers for the demo and benchmarks (not part of the s3x CLI):
//   node scripts/s3-tool.mjs mkbucket <endpoint> <bucket>          create if missing
//   node scripts/s3-tool.mjs count <endpoint> <bucket> [prefix]    print "<objects> <bytes>"
//   node scripts/s3-tool.mjs gen <dir> <files> <sizeBytes> [dirs]  deterministic tree
// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const [cmd, ...args] = process.argv.slice(2);
const { S3Client, CreateBucketCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
const s3 = (endpoint) => new S3Client({
  endpoint, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});
if (cmd === 'mkbucket') {
  const [endpoint, bucket] = args;
  try {
    await s3(endpoint).send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
  }
} else if (cmd === 'count') {
  const [endpoint, bucket, prefix = ''] = args;
  const c = s3(endpoint);
  let n = 0, bytes = 0, token;
  do {
    const page = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) { n++; bytes += o.Size ?? 0; }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  console.log(`${n} ${bytes}`);
} else if (cmd === 'gen') {
  const { generateTree } = await import('../dist/index.js');
  const [dir, files, size, dirs = '0'] = args;
  await generateTree(dir, { files: Number(files), sizeBytes: Number(size), dirs: Number(dirs) });
} else {
  console.error('usage: s3-tool.mjs mkbucket|count|gen …');
  process.exit(2);
}
