#!/usr/bin/env node
// Bundles the CLI (src/cli/main.ts and everything it imports) into one CommonJS file,
// dist/s3x/main.cjs, plus side files for what only some commands load (the AWS SDK, ora,
// cli-table3, the glob packages), required on first use. Node then reads and compiles a few files
// instead of resolving hundreds of modules at start-up (issue 12: `s3x ls` in ≤ 0.1 s). The
// library (dist/index.js) stays tsc's output. bin/s3x.js loads the bundle.
//
// Why CommonJS: bin/s3x.js compiles it with vm.Script and the V8 code cache written below
// (main.cjs.cache), which Node 20 offers for scripts but not for ES modules; with the CommonJS
// shim that took `s3x ls` from 175 to 153 ms of CPU on a 2 GHz Xeon (docs/benchmarks.md, second
// session of 2026-12-03).
//
// dist/s3x/ sits two levels below the package root, like dist/cli/, so the paths the CLI builds
// from import.meta (../../package.json, ../../scripts/ceph-rgw.sh) point at the same files.
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStandInS3 } from './stand-in-s3.mjs';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'dist/s3x');
fs.rmSync(outdir, { recursive: true, force: true });

/** CommonJS packages kept out of the bundle: their own file, required on first use (lazyCommonJs) */
const LAZY = ['fast-glob', 'micromatch'];
const LAZY_FILE = 'lazy-packages.cjs';
/**
 * Packages src/ loads only on some paths (a dynamic import(), or a module that is): each is a side
 * file of its own (sideFiles). Inside main.cjs they would cost every start: a code cache that held
 * them was 718 KB against 247 KB, and `s3x ls` took 173 vs 149 ms of CPU.
 */
const SIDE = { '@aws-sdk/client-s3': 'aws-sdk-client-s3.cjs', ora: 'ora.cjs', 'cli-table3': 'cli-table3.cjs' };
/** what the CLI's code reads from import.meta, in a CommonJS file (the banner defines __s3xUrl) */
const IMPORT_META = { 'import.meta.url': '__s3xUrl', 'import.meta.dirname': '__dirname' };
const COMMON = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // prefer packages' ESM builds (the SDK's dist-es): smaller, and tree-shaken
  mainFields: ['module', 'main'],
  legalComments: 'linked',
  // whitespace, comments and syntax only: V8 compiles the bundle at every start, and the 560 KB
  // of source took ~16 ms of it; identifiers are kept, so stack traces still read
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

await build({
  ...COMMON,
  entryPoints: { main: path.join(root, 'src/cli/main.ts') },
  outdir,
  outExtension: { '.js': '.cjs' },
  define: IMPORT_META,
  // "use strict" first: the directive counts only at the top of the file (bin/s3x.js's wrapper
  // function), and src/ is ES modules, strict throughout, as the ES-module bundle before was
  banner: { js: "\"use strict\";const __s3xUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyCommonJs(LAZY), sideFiles(SIDE), commanderSpawnOnUse()],
});

for (const [name, file] of Object.entries(SIDE)) {
  // strict, as these ran in ES-module chunks before (esbuild's prologue here would follow its helpers)
  await build({ ...COMMON, banner: { js: '"use strict";' }, stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, loader: 'js' }, outfile: path.join(outdir, file) });
}

// the glob packages' side file, beside main.cjs (its only output: one file, no chunks)
await build({
  ...COMMON,
  stdin: { contents: `module.exports = { ${LAZY.map((n) => `${JSON.stringify(n)}: require(${JSON.stringify(n)})`).join(', ')} };`, resolveDir: root, loader: 'js' },
  outfile: path.join(outdir, LAZY_FILE),
});

// One namespace object per Node built-in. esbuild's CommonJS output wraps every `import … from
// 'node:fs'` site in __toESM(require('node:fs'), 1), which copies each export of the module into a
// new object of getters: 19 sites for fs, 15 for path, 10 for crypto… ES modules share one
// namespace per module, and so does this. `s3x ls` 119 vs 135 ms of CPU (60 alternating runs).
// The build fails if esbuild's helper changes, so an esbuild upgrade is looked at.
const mainFile = path.join(outdir, 'main.cjs');
const TO_ESM = 'var __toESM=(mod,isNodeMode,target)=>(target=mod!=null?__create(__getProtoOf(mod)):{},__copyProps(isNodeMode||!mod||!mod.__esModule?__defProp(target,"default",{value:mod,enumerable:!0}):target,mod))';
const mainSource = fs.readFileSync(mainFile, 'utf8');
if (mainSource.split(TO_ESM).length !== 2) throw new Error('bundle-cli: esbuild\'s __toESM helper is not the one expected; look at the namespace memo');
fs.writeFileSync(mainFile, mainSource.replace(TO_ESM, TO_ESM.replace('var __toESM=', 'var __toESMOnce=') +
  ',__s3xNamespaces=new WeakMap(),__toESM=(mod,isNodeMode)=>{if(!isNodeMode||mod==null||typeof mod!="object")return __toESMOnce(mod,isNodeMode);' +
  'let ns=__s3xNamespaces.get(mod);return ns||__s3xNamespaces.set(mod,ns=__toESMOnce(mod,isNodeMode)),ns}'));

await writeCodeCache(path.join(outdir, 'main.cjs.cache'));

/**
 * V8's code cache for main.cjs, written by bin/s3x.js after one command, run here exactly as a
 * user's command compiles it (same Node, no NODE_OPTIONS: V8 rejects a cache made under other
 * flags). The command is an upload of one file to a stand-in S3 on 127.0.0.1, so the cache holds
 * what most commands run (configuration, pool, engine, signing, HTTP, the walk): by hand, against
 * a cache made by `--version`, an upload of one file took 147 vs 159 ms of CPU, `ls` 115 vs 121
 * and a download of one 133 vs 141 (30 alternating runs). bin/s3x.js also writes the glob
 * packages' cache, which the upload loads. Should that run fail, the cache is made by
 * `--version` (a warning says so).
 */
async function writeCodeCache(cacheFile) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-build-'));
  const run = (args) => new Promise((resolve) => execFile(process.execPath, [path.join(root, 'bin/s3x.js'), ...args], {
    cwd: tmp, timeout: 60_000,
    // nothing of the builder's own configuration: no ~/.aws, no proxy, no CA bundle
    env: { PATH: process.env.PATH, HOME: tmp, AWS_ACCESS_KEY_ID: 'AKIDBUILD', AWS_SECRET_ACCESS_KEY: 'build-secret', AWS_REGION: 'us-east-1', S3X_WRITE_CODE_CACHE: cacheFile },
  }, (err, _out, stderr) => { if (err) console.warn(`bundle-cli: s3x ${args[0]}: ${stderr.trim() || err.message}`); resolve(!err && fs.existsSync(cacheFile)); }));
  let server;
  try {
    let endpoint;
    ({ server, endpoint } = await startStandInS3());
    fs.mkdirSync(path.join(tmp, 'src'));
    fs.writeFileSync(path.join(tmp, 'src/a.txt'), 'a');
    if (await run(['upload', path.join(tmp, 'src'), 's3x-build', 'p', '--endpoint-url', endpoint, '--no-progress'])) return;
    console.warn('bundle-cli: warning: the upload that makes the code cache failed; the cache holds --version only');
    if (!(await run(['--version']))) throw new Error('bundle-cli: bin/s3x.js wrote no code cache');
  } finally {
    server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * commander requires node:child_process at load, for executable subcommands s3x does not have;
 * with it come dgram and more (~2-4 ms of every start). Its one use, childProcess.spawn, now
 * requires it on call. The build fails if commander's line changes, so an upgrade is looked at.
 */
function commanderSpawnOnUse() {
  const line = "const childProcess = require('node:child_process');";
  return {
    name: 'commander-spawn-on-use',
    setup(b) {
      b.onLoad({ filter: /[\\/]node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
        const src = fs.readFileSync(args.path, 'utf8');
        if (!src.includes(line) || (src.match(/childProcess\.(\w+)/g) ?? []).some((m) => m !== 'childProcess.spawn')) throw new Error(`bundle-cli: ${args.path} no longer requires node:child_process as expected; look at commanderSpawnOnUse`);
        return { contents: src.replace(line, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
      });
    },
  };
}

/**
 * src/'s imports of these packages become a require() of their side file, beside main.cjs (an
 * import() of an external file would stay an import(), which a vm.Script cannot resolve)
 */
function sideFiles(map) {
  const filter = new RegExp(`^(${Object.keys(map).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);
  return {
    name: 'side-files',
    setup(b) {
      b.onResolve({ filter }, (args) => (args.importer.startsWith(path.join(root, 'src') + path.sep) ? { path: args.path, namespace: 'side' } : undefined));
      b.onResolve({ filter: /^\.\/[^/]+\.cjs$/, namespace: 'side' }, (args) => ({ path: args.path, external: true }));
      b.onLoad({ filter: /.*/, namespace: 'side' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(`./${map[args.path]}`)});`, loader: 'js' }));
    },
  };
}

/**
 * Our imports of these CommonJS packages become objects that load the package on first use,
 * from a file of their own (LAZY_FILE, built above). fast-glob and micromatch (125 KB) serve walks
 * and patterns only; on a 2 GHz Xeon, evaluating them at start cost `s3x ls` 0.005–0.014 s of CPU
 * (0.155 and 0.146 vs 0.160 s, two sets of 30 alternating runs) and compiling them another 0.008
 * (0.134 vs 0.143 s, 40 runs). Only default imports are rewritten (all of src/'s uses); the
 * proxy is callable too (fast-glob's default export is a function).
 */
function lazyCommonJs(names) {
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);
  return {
    name: 'lazy-commonjs',
    setup(b) {
      // only src/'s own imports: the packages' require() of each other (fast-glob's of micromatch) stay as they are
      const ours = (args) => args.kind === 'import-statement' && args.importer.startsWith(path.join(root, 'src') + path.sep);
      b.onResolve({ filter }, (args) => (ours(args) ? { path: args.path, namespace: 'lazy' } : undefined));
      b.onResolve({ filter: new RegExp(`^\\./${LAZY_FILE.replace('.', '\\.')}$`), namespace: 'lazy' }, (args) => ({ path: args.path, external: true }));
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
        resolveDir: root,
        loader: 'js',
        // the bundle's require() (bin/s3x.js compiles the side file with its code cache), on first use
        contents: `let m; const load = () => (m ??= require(${JSON.stringify(`./${LAZY_FILE}`)})[${JSON.stringify(args.path)}]);
export default new Proxy(function lazy() {}, { get: (_, key) => load()[key], has: (_, key) => key in load(), apply: (_, self, args) => load().apply(self, args) });`,
      }));
    },
  };
}
