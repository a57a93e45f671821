#!/usr/bin/env node
// Thin shim: the CLI is bundled into dist/s3x/main.mjs (`npm run build`, or on `npm ci`;
// scripts/bundle-cli.mjs says why). A tree built by tsc alone (dist/cli/main.js newer than the
// bundle, or no bundle) runs dist/cli/main.js instead, so a stale bundle never runs.
// s3x pins @aws-sdk/* to a release that supports Node 20; its "future versions need Node 22"
// notice is about releases we do not use, so the CLI does not print it.
import { statSync } from 'node:fs';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let settled = false;
// If the event loop ever empties while main() is still pending, Node exits 13 silently; a user
// must at least be told it is s3x's fault.
process.on('exit', (code) => {
  if (!settled && code === 13) process.stderr.write('s3x: internal error: the run stalled with work pending (a bug in s3x; please report it with --log-level debug)\n');
});
const mtimeMs = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtimeMs('../dist/s3x/main.mjs') >= mtimeMs('../dist/cli/main.js');
const { main } = await import(bundled ? '../dist/s3x/main.mjs' : '../dist/cli/main.js');
process.exitCode = await main(process.argv);
settled = true;
