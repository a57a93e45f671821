#!/usr/bin/env node
// Thin shim: the CLI lives in dist/cli/main.js (built by `npm run build`, or on `npm ci`).
// s3x pins @aws-sdk/* to a release that supports Node 20; its "future versions need Node 22"
// notice is about releases we do not use, so the CLI does not print it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);
