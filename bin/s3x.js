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
 * The bundle's side files compiled here like the bundle, with a code cache of their own: the glob
 * packages' (upload, sync, patterns), which took an upload of one file 16 ms of CPU to compile.
 * The others are required as Node does (the SDK's holds import()s, which a vm.Script cannot run).
 */
const CACHED_SIDE_FILES = new Set(['./lazy-packages.cjs']);
/** every file compiled by runCached, for the build's run to write their caches */
const compiled = [];

/**
 * Runs a CommonJS file compiled with the V8 code cache the build wrote beside it (`file`.cache):
 * less CPU per command, and Node 20 has no such cache for ES modules. V8 checks a cache against
 * its own version, its flags and the source, and compiles from source if it rejects it.
 */
function runCached(file, requireFn) {
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // no cache (a partial build): compile from source
  }
  // no importModuleDynamically: the build leaves no import() in these files (test/unit/startup.test.ts)
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
  compiled.push({ cacheFile, script });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, requireFn, mod, file, path.dirname(file));
  return mod.exports;
}

/** The bundle, and the require() it is given: Node's, but for the side files compiled with their caches. */
function loadBundle(file) {
  const nodeRequire = createRequire(file);
  const sides = new Map();
  const bundleRequire = Object.assign((id) => {
    if (!CACHED_SIDE_FILES.has(id)) return nodeRequire(id);
    if (!sides.has(id)) {
      const side = path.join(path.dirname(file), id);
      sides.set(id, runCached(side, createRequire(side)));
    }
    return sides.get(id);
  }, { resolve: nodeRequire.resolve, cache: nodeRequire.cache });
  const { main } = runCached(file, bundleRequire);
  // the build's own run (scripts/bundle-cli.mjs) writes the caches once the command has compiled what it ran
  const writing = process.env.S3X_WRITE_CODE_CACHE === `${file}.cache`;
  const writeCache = () => { if (writing) for (const c of compiled) writeFileSync(c.cacheFile, c.script.createCachedData()); };
  return { main, writeCache };
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
