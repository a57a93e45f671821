#!/usr/bin/env node
// Thin shim: the CLI is bundled into dist/s3x/main.mjs (`npm run build`, or on `npm ci`;
// scripts/bundle-cli.mjs says why). A tree built by tsc alone (dist/cli/main.js newer than the
// bundle, or no bundle) runs dist/cli/main.js instead, so a stale bundle never runs.
// s3x pins @aws-sdk/* to a release that supports Node 20; its "future versions need Node 22"
// notice is about releases we do not use, so the CLI does not print it.
import { statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
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
// A run lives seconds: V8's default tier-up (a function is optimised after ~66 KB of its
// bytecode ran) spent ~20% of a 2,000-file upload's CPU compiling ~120 functions in TurboFan on a
// 2-core machine; 8× that budget optimises only the hottest few (~8-16): client CPU -13 to -22%
// on 2,000-file runs, +3% on a 4 × 64 MiB upload (docs/benchmarks.md, tenth session). The cost:
// V8 rejects Node's built-in code cache once a flag changed, so built-ins loaded later and each
// worker thread compile from source (+~65 ms CPU per worker; a 25-file download +36 ms). Set after
// the bundle is loaded (before, `s3x ls` paid ~40 ms); only here, never in a library user's process.
setFlagsFromString('--interrupt-budget=540672');
process.exitCode = await main(process.argv);
settled = true;
