#!/usr/bin/env node
// Thin shim: the CLI is bundled into dist/s3x/main.cjs (`npm run build`, or on `npm ci`;
// scripts/bundle-cli.mjs says why). A tree built by tsc alone (dist/cli/main.js newer than the
// bundle, or no bundle) runs dist/cli/main.js instead, so a stale bundle never runs.
// CommonJS (bin/package.json): Node starts an ES-module entry ~11 ms slower.
// s3x pins @aws-sdk/* to a release that supports Node 20; its "future versions need Node 22"
// notice is about releases we do not use, so the CLI does not print it.
'use strict';
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let settled = false;
// If the event loop ever empties while main() is still pending, Node exits 13 silently; a user
// must at least be told it is s3x's fault.
process.on('exit', (code) => {
  if (!settled && code === 13) process.stderr.write('s3x: internal error: the run stalled with work pending (a bug in s3x; please report it with --log-level debug)\n');
});

/**
 * Compiles the CommonJS bundle with V8's code cache that the build wrote beside it (less CPU per
 * command; Node 20 has no such cache for ES modules). V8 checks the cache against its own
 * version, its flags and the source, and compiles from source if it rejects it.
 */
function loadBundle(file) {
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // no cache (a partial build): compile from source
  }
  // no importModuleDynamically: the build leaves no import() in the bundle (test/unit/startup.test.ts)
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  // the build's own run (scripts/bundle-cli.mjs) writes the cache once the command has compiled what it ran
  const writeCache = process.env.S3X_WRITE_CODE_CACHE === cacheFile ? () => writeFileSync(cacheFile, script.createCachedData()) : () => {};
  return { main: mod.exports.main, writeCache };
}

async function run() {
  const bundle = path.join(__dirname, '../dist/s3x/main.cjs');
  const mtimeMs = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const bundled = mtimeMs(bundle) >= mtimeMs(path.join(__dirname, '../dist/cli/main.js'));
  const { main, writeCache = () => {} } = bundled ? loadBundle(bundle) : await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv);
  writeCache();
  settled = true;
}
run();
