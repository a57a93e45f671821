#!/usr/bin/env node
/**
 * npm run bench: upload scenarios (S1 small files, S2 large files, S4 stalled requests), delete-prefix
 * (S5) and download (S6s/S6l: the S1 and S2 data sets), each tool in its own process, alternating tools (A B C A B C…)
 * on the same local server in one run; medians and min–max of wall time, client CPU (user+sys of
 * the tool's whole process tree) and server CPU (Ceph daemons), and the ratio s3x / fastest peer.
 * Every run is verified by listing (object count and bytes) before its time counts.
 *
 *   npm run bench [-- --reps 3 --scenarios S1,S2 --concurrency 16 --out docs/benchmarks.md --baseline DIR --tools s3x,s5cmd]
 *
 * --tools a,b: only the tools whose names begin so (e.g. `s3x,s5cmd,node floor`: s3x, s3x --no-verify,
 * the floors). Each ratio of two tools also shows the median and range of its per-rep ratios.
 *
 * --baseline DIR: a built checkout of an earlier commit (e.g. `git worktree add DIR HEAD~1`, npm ci,
 * npm run build); every s3x run is repeated with DIR/bin/s3x.js as "s3x @base", interleaved, and
 * the report gives s3x ÷ s3x @base per scenario: no scenario may get slower.
 *
 * Endpoints: S3X_BENCH_ENDPOINT (+ AWS_* credentials), else scripts/ceph-rgw.sh up (one gateway).
 * Peers found on PATH are included: aws-cli (`aws s3 cp --recursive`), rclone (`copy`); the
 * plain-SDK baseline (sdk-plain.mjs) always runs for uploads, and for S1 Node's floor (put-floor.mjs:
 * bare signed PUTs over http.request, no s3x code; not a peer; for S7 too, its peak RSS beside s3x's), and for S2 put-large-floor.mjs
 * (multipart uploads of 16 MiB parts over http.request, each part read once and its MD5 sent). S5 (delete): aws-cli `s3 rm --recursive`,
 * rclone `delete`, s3cmd `del --recursive`, s5cmd `rm`, and Node's floor (delete-floor.mjs: bare list pages
 * and DeleteObjects of 100 keys, 16 in flight; not a peer); the objects are seeded again (by s3x upload, untimed)
 * before every run. S6 (download): aws-cli `s3 cp --recursive`, rclone `copy`, s3cmd `get --recursive`
 * from a set uploaded once, and for S6s Node's floor (small-get-floor.mjs: bare signed GETs over
 * http.get, written with fs.promises.writeFile; not a peer) and for S6l (get-floor.mjs --raw: 16 MiB
 * ranged GETs read by bare sockets into pooled buffers, no MD5; compared with s3x --no-verify); every run is compared byte for byte
 * with the source tree.
 * S0 (ls): Node's floors `node -e 0` and ls-floor.mjs (one bare signed listing, printed; not peers).
 * S9 (S9u, S9d, S9t): s3x alone under --bwlimit 20MiB/s (upload, download) and --tpslimit 50, ~10 s
 * each; the rate the run reports about itself ÷ the limit (target within 5%).
 * H1–H5, H4d, H5l, H5d (hedged requests, issue 14; not in the default set: `--scenarios H`): s3x alone
 * through the fault proxy, with and without `--no-hedge`, against the same run fault-free; each run's
 * `--json` gives the hedges, retries (false deadline cuts on a healthy endpoint), bytes sent twice,
 * the slowest straggler's total time ÷ the median undisturbed request, and when each straggler was
 * first cut (`cutMs`: its first hedge or deadline) ÷ that median. H5 runs 10 reps whatever
 * `--reps` says, hedging twice per rep (an A/A pair beside the A/B one), and reports the median of
 * per-rep ratios: a few percent is all there is to see, and one tool's wall moves that much alone.
 * H5d: a healthy download of 10 × 64 MiB in 16 MiB ranged parts (`--no-verify`), straight to the
 * gateway, with and without `--no-hedge`: hedges and retries of parts no fault slowed. H4d: the
 * same download through the fault proxy, 1 part GET in 20 stalled after 4 MiB of its body, every
 * part counted (a run's first wave included); the proxy's log has no Range, so the stragglers it
 * made are not told apart from the gateway's own there. Every H run's s3x reports how long its main
 * thread waited for a core (thread-wait.cjs); H3 runs once more with the client on a core of its own
 * (taskset; the Ceph daemons and the proxy on the others), when there are 2 cores or more, and
 * once with every request 17 ms later (the same shared cores, a median as slow as the pinned arm's).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const REPS = Number(opt('reps', '3'));
const CONC = Number(opt('concurrency', '16'));
const OUT = opt('out', undefined);
const BASE = opt('baseline', undefined);
const SCENARIOS = {
  // start-up: list a prefix holding one object, process start to exit
  S0: { what: 'start-up: ls of a prefix holding one object', files: 1, size: 4096, dirs: 0, op: 'ls', reps: 10 },
  S1: { what: '2,000 × 4 KiB in nested dirs', files: 2000, size: 4096, dirs: 20 },
  S2: { what: '4 × 64 MiB', files: 4, size: 64 * 1024 * 1024, dirs: 0 },
  // s3x alone, through the fault proxy (test/support/fault-proxy.ts) in both arms, so the
  // proxy's own cost is in the baseline too; the ratio is stalled ÷ fault-free.
  // three endpoints, each behind a proxy throttled to the same rate, vs one of them: what the
  // pool buys when every endpoint (not the client) is the bottleneck. Ratio = 1-endpoint wall ÷ 3-endpoint wall.
  S3: { what: '12 × 16 MiB, endpoints throttled to 16 MB/s each: 3 vs 1', files: 12, size: 16 * 1024 * 1024, dirs: 0, throttled: true },
  // how the strategies cope with one endpoint 5× slower than the others (picks the default)
  S3s: { what: '48 × 2 MiB, 3 endpoints, one 5× slower (16/16/3.2 MB/s): strategies', files: 48, size: 2 * 1024 * 1024, dirs: 0, throttled: 'uneven' },
  S4: { what: '2,000 × 4 KiB, 2% of PUTs stalled vs none', files: 2000, size: 4096, dirs: 20, faults: true },
  // delete-prefix: `files` objects under one prefix, seeded (untimed) before each run of each tool
  S5: { what: 'delete 2,000 × 1 KiB under a prefix', files: 2000, size: 1024, dirs: 20, op: 'delete' },
  // download of the S1 and S2 data sets, uploaded once; `--scenarios S6` runs both
  S6s: { what: 'download 2,000 × 4 KiB (the S1 set)', files: 2000, size: 4096, dirs: 20, op: 'download' },
  S6l: { what: 'download 4 × 64 MiB (the S2 set)', files: 4, size: 64 * 1024 * 1024, dirs: 0, op: 'download' },
  // peak RSS flat in the number of files: s3x alone, one run each (100,000 PUTs take minutes)
  S7a: { what: 'peak RSS: 1,000 empty files', files: 1000, size: 0, dirs: 100, rss: true, reps: 1 },
  S7b: { what: 'peak RSS: 100,000 empty files', files: 100_000, size: 0, dirs: 100, rss: true, reps: 1 },
  // sync with nothing to send (every file already stored): peak RSS flat in the number of files
  S8a: { what: 'peak RSS: sync 20,000 files against 20,000 keys', files: 20_000, size: 0, dirs: 100, rss: true, op: 'sync', reps: 1 },
  S8b: { what: 'peak RSS: sync 200,000 files against 200,000 keys', files: 200_000, size: 0, dirs: 100, rss: true, op: 'sync', reps: 1 },
  // --bwlimit / --tpslimit accuracy (issue 13), s3x alone: the rate the run measured itself (its --json
  // summary: bytes, or HTTP requests preflight included, ÷ its wall time) ÷ the limit; target 0.95–1.05.
  // The upload mixes multipart parts and small files (they share the bucket); the download reads the set back.
  S9u: { what: 'upload 3 × 64 MiB + 400 × 20 KiB (200 MiB) at --bwlimit 20MiB/s (~10 s)', op: 'limit', sets: [[3, 64 * 1024 * 1024, 0], [400, 20 * 1024, 4]], flags: ['--bwlimit', '20MiB/s'], perSec: 20 * 1024 * 1024, unit: 'bytes' },
  S9d: { what: 'download the S9u set at --bwlimit 20MiB/s (~10 s)', op: 'limit', download: true, sets: [[3, 64 * 1024 * 1024, 0], [400, 20 * 1024, 4]], flags: ['--bwlimit', '20MiB/s'], perSec: 20 * 1024 * 1024, unit: 'bytes' },
  S9t: { what: 'upload 500 × 1 KiB at --tpslimit 50 (~10 s)', op: 'limit', sets: [[500, 1024, 5]], flags: ['--tpslimit', '50'], perSec: 50, unit: 'requests' },
};
// hedged requests (issue 14): `tools` (below) name the proxy's faults per run
Object.assign(SCENARIOS, {
  H1: { what: '2,000 × 4 KiB, 2% and 5% of PUTs stalled vs none (targets ≤ 1.05, ≤ 1.2)', files: 2000, size: 4096, dirs: 20, faults: true, hedge: 'H1' },
  H2: { what: '500 × 4 KiB, 5% of PUTs stalled vs none (target ≤ 1.5)', files: 500, size: 4096, dirs: 5, faults: true, hedge: 'H2' },
  H3: { what: '2,000 × 4 KiB, every 20th answer 1 s late (slow, not stalled) vs none', files: 2000, size: 4096, dirs: 20, faults: true, hedge: 'H3' },
  H4: { what: '10 × 64 MiB (16 MiB parts), 1 part in 20 stalled mid-body: straggler ÷ expected (target ≤ 3)', files: 10, size: 64 * 1024 * 1024, dirs: 0, faults: true, hedge: 'H4' },
  // 10 reps and an A/A pair: hedging's cost is a few percent at most, and one tool's wall moves ±5% from rep to rep here
  H5: { what: '2,000 × 4 KiB, healthy endpoint: hedging vs --no-hedge (hedges ≤ 5%, false cuts < 1%)', files: 2000, size: 4096, dirs: 20, faults: true, hedge: 'H5', reps: 10, pairs: true },
  H5l: { what: '10 × 64 MiB (16 MiB parts), healthy endpoint: hedging vs --no-hedge (hedges ≤ 5%, false cuts < 1%, bytes sent twice)', files: 10, size: 64 * 1024 * 1024, dirs: 0, faults: true, hedge: 'H5l' },
  // a download's parts start in waves of 16 and are not served alike: the first answers are the fastest
  H5d: { what: 'download 10 × 64 MiB (16 MiB ranged parts, --no-verify), healthy endpoint: hedging vs --no-hedge (hedges ≤ 5%, false cuts < 1%)', files: 10, size: 64 * 1024 * 1024, dirs: 0, op: 'download', hedge: 'H5d' },
  H4d: { what: 'download 10 × 64 MiB (16 MiB ranged parts, --no-verify), 1 part GET in 20 stalled mid-body, the first wave counted: straggler ÷ expected (target ≤ 3)', files: 10, size: 64 * 1024 * 1024, dirs: 0, op: 'download', faults: true, hedge: 'H4d', noWarmUp: true },
});
const groups = { S6: ['S6s', 'S6l'], S7: ['S7a', 'S7b'], S8: ['S8a', 'S8b'], S9: ['S9u', 'S9d', 'S9t'], H: ['H1', 'H2', 'H3', 'H4', 'H4d', 'H5', 'H5l', 'H5d'] };
const chosen = opt('scenarios', 'S0,S1,S2,S3,S3s,S4,S5,S6,S7,S8').split(',').flatMap((s) => groups[s] ?? [s]);
const have = (cmd) => { try { execFileSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; } };
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { encoding: 'utf8', ...o });
// async, so the in-process fault proxy keeps serving while a tool runs
const runAsync = (cmd, a, o) => new Promise((resolve, reject) => {
  const child = spawn(cmd, a, { stdio: 'inherit', ...o });
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  child.on('error', reject);
  child.on('close', () => { clearTimeout(timer); resolve(); });
});

// --- servers ---------------------------------------------------------------
let endpoint = process.env.S3X_BENCH_ENDPOINT;
let cephDir = process.env.S3X_CEPH_DIR;
if (!endpoint) {
  cephDir ??= '/tmp/s3x-ceph';
  // a new cluster: S2/S6 data, 100,000 (S7) and 220,000 (S8) objects filled the 20 GiB default
  process.env.S3X_CEPH_OSD_GB ??= '45';
  const envText = sh('bash', [path.join(ROOT, 'scripts/ceph-rgw.sh'), 'up', '--dir', cephDir, '7480', '7481', '7482'], { stdio: ['ignore', 'pipe', 'inherit'] });
  for (const m of envText.matchAll(/^export ([A-Z0-9_]+)="?([^"\n]*)"?$/gm)) process.env[m[1]] = m[2];
  endpoint = process.env.S3X_ENDPOINTS.split(' ')[0];
}
/** The Ceph daemons' pids (their pid files), when the bench knows the cluster's directory. */
const serverPids = () => (!cephDir ? [] : fs.readdirSync(path.join(cephDir, 'run')).filter((n) => n.endsWith('.pid'))
  .map((f) => fs.readFileSync(path.join(cephDir, 'run', f), 'utf8').trim()));
const serverCpuSec = () => {
  if (!cephDir) return NaN;
  let ticks = 0;
  for (const pid of serverPids()) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch { /* daemon gone */ }
  }
  return ticks / 100;
};
/** The cores this process may run on ("0-2,5" from taskset), or none without taskset. */
const cores = (() => {
  if (!have('taskset')) return [];
  const list = /list:\s*(\S+)/.exec(sh('taskset', ['-c', '-p', String(process.pid)]))?.[1] ?? '';
  return list.split(',').flatMap((r) => { const [a, b = a] = r.split('-').map(Number); return Array.from({ length: b - a + 1 }, (_, i) => a + i); });
})();
/** A client can be given a core no server shares: 2 cores or more, and the servers' pids known. */
const pinnable = () => cores.length >= 2 && serverPids().length > 0;
/**
 * Runs `run(prefix)` with the servers and this process (the fault proxy) on every core but the
 * last; `prefix` (taskset) puts the client's command on that last one. Restored after.
 */
async function pinnedRun(run) {
  const pinAll = (list) => { for (const pid of [...serverPids(), String(process.pid)]) sh('taskset', ['-a', '-c', '-p', list, pid], { stdio: 'ignore' }); };
  pinAll(cores.slice(0, -1).join(','));
  try {
    return await run(['taskset', '-c', String(cores.at(-1))]);
  } finally {
    pinAll(cores.join(','));
  }
}

const cephVersion = () => { try { return sh('radosgw', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(' ').slice(0, 3).join(' '); } catch { return 'version unknown'; } };

// --- tools -----------------------------------------------------------------
const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-bench-'));
const cleanEnv = (home) => ({
  PATH: process.env.PATH, HOME: home, AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY, AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});
const tools = [
  { name: 's3x', cmd: (d, b, p) => [process.execPath, path.join(ROOT, 'bin/s3x.js'), 'upload', d, b, p, '--endpoint-url', endpoint, '-c', String(CONC), '--no-progress'] },
  { name: 'sdk-plain', cmd: (d, b, p) => [process.execPath, path.join(ROOT, 'scripts/bench/sdk-plain.mjs'), d, b, p, endpoint, String(CONC)] },
];
// aws-cli: every distinct `aws` found (e.g. v2 from Debian's awscli package in /usr/bin, v1 from pip)
const awsBins = [...new Set(['/usr/bin/aws', '/usr/local/bin/aws', 'aws'].filter((b) => have(b)).map((b) => {
  try { return sh('bash', ['-c', `command -v ${b}`]).trim(); } catch { return b; }
}))];
const seenAws = new Set();
for (const bin of awsBins) {
  let version;
  try { version = sh(bin, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] }).trim().split(' ')[0]; } catch { continue; }
  if (seenAws.has(version)) continue;
  seenAws.add(version);
  tools.push({
    name: `aws-cli (${version})`,
    bin,
    setup: (home) => {
      fs.mkdirSync(path.join(home, '.aws'), { recursive: true });
      fs.writeFileSync(path.join(home, '.aws/config'), `[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = ${CONC}\n  multipart_threshold = 64MB\n  multipart_chunksize = 16MB\n`);
    },
    cmd: (d, b, p) => [bin, 's3', 'cp', '--recursive', '--only-show-errors', '--endpoint-url', endpoint, d, `s3://${b}/${p}`],
  });
}
if (have('rclone')) {
  const version = sh('rclone', ['version'], { stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].replace(/^rclone\s+/, '').trim();
  tools.push({
    name: `rclone (${version})`,
    env: { RCLONE_CONFIG: '/dev/null', RCLONE_S3_PROVIDER: 'Ceph', RCLONE_S3_ENDPOINT: endpoint, RCLONE_S3_ENV_AUTH: 'true' },
    cmd: (d, b, p) => ['rclone', 'copy', d, `:s3:${b}/${p}`, '--transfers', String(CONC), '--checkers', String(CONC), '--s3-upload-cutoff', '64M', '--s3-chunk-size', '16M'],
  });
}

// S1 and S7: Node's floor, bare signed PUTs with no s3x code (put-floor.mjs); not a peer
const nodeFloor = { name: 'node floor (bare http PUTs)', cmd: (d, b, p) => [process.execPath, path.join(ROOT, 'scripts/bench/put-floor.mjs'), d, endpoint, b, p] };
// S2 only: Node's floor for multipart uploads of 16 MiB parts (s3x's part size) through
// http.request, each part read once and its MD5 sent (put-large-floor.mjs); not a peer
const largePutFloor = { name: 'node floor (bare http multipart PUTs)', cmd: (d, b, p) => [process.execPath, path.join(ROOT, 'scripts/bench/put-large-floor.mjs'), d, '16', endpoint, b, p] };
// S6s only: Node's floor for small GETs written to files, with no s3x code (small-get-floor.mjs); not a peer
const getFloor = { name: 'node floor (bare http GETs)', cmd: (b, p, o) => [process.execPath, path.join(ROOT, 'scripts/bench/small-get-floor.mjs'), endpoint, b, p, o] };
// the same, each file written by one job on a worker thread, as s3x writes small files (--worker)
const getWorkerFloor = { name: 'node floor (bare http GETs, files written on a worker)', cmd: (b, p, o) => [process.execPath, path.join(ROOT, 'scripts/bench/small-get-floor.mjs'), '--worker', endpoint, b, p, o] };
// S6l only: Node's floor for ranged GETs of 16 MiB (s3x's part size) read into pooled buffers by a
// bare socket and written as they fill, no MD5, no s3x code (get-floor.mjs --raw); not a peer
const rangedFloor = { name: 'node floor (raw ranged GETs, no MD5)', cmd: (b, p, o) => [process.execPath, path.join(ROOT, 'scripts/bench/get-floor.mjs'), '--raw', o, '16', '--s3', endpoint, b, p] };
const rangedMd5Floor = { name: 'node floor (raw ranged GETs, MD5 of every byte)', cmd: (b, p, o) => [process.execPath, path.join(ROOT, 'scripts/bench/get-floor.mjs'), '--raw', '--md5', o, '16', '--s3', endpoint, b, p] };
// the same, the MD5 on a worker thread that is handed each written buffer (no copy, no read-back)
const rangedMd5WorkerFloor = { name: 'node floor (raw ranged GETs, MD5 on a worker)', cmd: (b, p, o) => [process.execPath, path.join(ROOT, 'scripts/bench/get-floor.mjs'), '--raw', '--md5-worker', o, '16', '--s3', endpoint, b, p] };
// S0 only: Node starting and exiting, nothing loaded (`node -e 0`); not a peer
const startFloor = { name: 'node floor (node -e 0)', cmd: () => [process.execPath, '-e', '0'] };
// S0 only: an ES module doing the listing with bare signed GETs and printing it (ls-floor.mjs); not a peer
const lsFloor = { name: 'node floor (bare ListObjectsV2)', cmd: (b, p) => [process.execPath, path.join(ROOT, 'scripts/bench/ls-floor.mjs'), endpoint, b, `${p}/`] };
// S5 only: Node's floor for delete-prefix (delete-floor.mjs: bare list pages and DeleteObjects of 100 keys, 16 in flight); not a peer
const deleteFloor = { name: 'node floor (bare DeleteObjects)', cmd: (b, p) => [process.execPath, path.join(ROOT, 'scripts/bench/delete-floor.mjs'), endpoint, b, p] };
const floors = [deleteFloor.name, nodeFloor.name, largePutFloor.name, getFloor.name, getWorkerFloor.name, rangedFloor.name, rangedMd5Floor.name, rangedMd5WorkerFloor.name, startFloor.name, lsFloor.name];
/** S6l's floors against the peer doing the same: rclone verifies MD5, s5cmd does not */
const floorPeer = { [rangedFloor.name]: 's5cmd', [rangedMd5Floor.name]: 'rclone', [rangedMd5WorkerFloor.name]: 'rclone' };

// S5 / S6: delete-prefix and download. cmd(bucket, prefix, outDir) → argv.
const s3xBin = [process.execPath, path.join(ROOT, 'bin/s3x.js')];
const deleteTools = [{ name: 's3x', cmd: (b, p) => [...s3xBin, 'delete-prefix', b, p, '--endpoint-url', endpoint, '-c', String(CONC), '--no-progress'] }];
const downloadTools = [{ name: 's3x', cmd: (b, p, o) => [...s3xBin, 'download', b, p, o, '--endpoint-url', endpoint, '-c', String(CONC), '--no-progress'] }];
for (const awsTool of tools.filter((t) => t.name.startsWith('aws-cli'))) {
  deleteTools.push({ ...awsTool, cmd: (b, p) => [awsTool.bin, 's3', 'rm', '--recursive', '--only-show-errors', '--endpoint-url', endpoint, `s3://${b}/${p}/`] });
  downloadTools.push({ ...awsTool, cmd: (b, p, o) => [awsTool.bin, 's3', 'cp', '--recursive', '--only-show-errors', '--endpoint-url', endpoint, `s3://${b}/${p}/`, o] });
}
const rcloneTool = tools.find((t) => t.name.startsWith('rclone'));
if (rcloneTool) {
  deleteTools.push({ ...rcloneTool, cmd: (b, p) => ['rclone', 'delete', `:s3:${b}/${p}`, '--checkers', String(CONC), '--transfers', String(CONC)] });
  downloadTools.push({ ...rcloneTool, cmd: (b, p, o) => ['rclone', 'copy', `:s3:${b}/${p}`, o, '--transfers', String(CONC), '--checkers', String(CONC)] });
}
if (have('s3cmd')) {
  const version = sh('s3cmd', ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] }).trim().replace(/^s3cmd version /, '');
  const host = new URL(endpoint).host;
  const s3cmd = {
    name: `s3cmd (${version})`,
    setup: (home) => fs.writeFileSync(path.join(home, '.s3cfg'), `[default]\naccess_key = ${process.env.AWS_ACCESS_KEY_ID}\nsecret_key = ${process.env.AWS_SECRET_ACCESS_KEY}\n` +
      `host_base = ${host}\nhost_bucket = ${host}\nuse_https = ${endpoint.startsWith('https:') ? 'True' : 'False'}\nsignature_v2 = False\n`, { mode: 0o600 }),
  };
  // s3cmd has no parallelism: one request at a time, whatever --concurrency the others get
  tools.push({ ...s3cmd, name: `${s3cmd.name}, sequential`, cmd: (d, b, p) => ['s3cmd', 'put', '--recursive', '--quiet', '--no-progress', `${d}/`, `s3://${b}/${p}/`] });
  deleteTools.push({ ...s3cmd, cmd: (b, p) => ['s3cmd', 'del', '--recursive', `s3://${b}/${p}/`] });
  downloadTools.push({ ...s3cmd, cmd: (b, p, o) => ['s3cmd', 'get', '--recursive', `s3://${b}/${p}/`, `${o}/`] });
}
// S0: list a prefix holding one object. cmd(bucket, prefix) → argv.
const lsTools = [{ name: 's3x', cmd: (b, p) => [...s3xBin, 'ls', b, `${p}/`, '--endpoint-url', endpoint] }];
downloadTools.push({ name: 's3x --no-verify', cmd: (b, p, o) => [...downloadTools[0].cmd(b, p, o), '--no-verify'] });
for (const awsTool of tools.filter((t) => t.name.startsWith('aws-cli'))) lsTools.push({ ...awsTool, cmd: (b, p) => [awsTool.bin, 's3', 'ls', '--endpoint-url', endpoint, `s3://${b}/${p}/`] });
if (rcloneTool) lsTools.push({ ...rcloneTool, cmd: (b, p) => ['rclone', 'lsf', `:s3:${b}/${p}/`] });
if (have('s3cmd')) lsTools.push({ ...deleteTools.find((t) => t.name.startsWith('s3cmd')), cmd: (b, p) => ['s3cmd', 'ls', `s3://${b}/${p}/`] });
// s5cmd: not in Debian or npm; used when a binary is on PATH (built from its public source, never committed)
if (have('s5cmd')) {
  const version = sh('s5cmd', ['version'], { stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const s5 = (...a) => ['s5cmd', '--endpoint-url', endpoint, '--numworkers', String(CONC), ...a];
  const s5cmd = { name: `s5cmd (${version})` };
  tools.push({ ...s5cmd, cmd: (d, b, p) => s5('cp', '-p', '16', `${d}/`, `s3://${b}/${p}/`) });
  deleteTools.push({ ...s5cmd, cmd: (b, p) => s5('rm', `s3://${b}/${p}/*`) });
  downloadTools.push({ ...s5cmd, cmd: (b, p, o) => s5('cp', '-p', '16', `s3://${b}/${p}/*`, `${o}/`) });
  lsTools.push({ ...s5cmd, cmd: (b, p) => s5('ls', `s3://${b}/${p}/*`) });
}
// S8: sync of a tree already stored (nothing to send)
const syncTools = [{ name: 's3x', cmd: (d, b, p) => [...s3xBin, 'sync', d, `s3://${b}/${p}`, '--endpoint-url', endpoint, '-c', String(CONC), '--no-progress'] }];
/** With --baseline: each s3x tool again, run from the earlier checkout, as "<name> @base". */
const withBase = (list) => {
  if (!BASE) return list;
  const baseBin = path.join(path.resolve(BASE), 'bin/s3x.js');
  const swap = (argv) => argv.map((a) => (a === s3xBin[1] ? baseBin : a));
  return list.flatMap((t) => (t.name.startsWith('s3x') && !t.noBase ? [t, { ...t, name: `${t.name} @base`, base: true, cmd: (...a) => swap(t.cmd(...a)) }] : [t]));
};
/**
 * Untimed, before every timed run: the previous run's files (a download's tree, removed after its
 * check) still had dirty pages; their writeback then taxed the next tool's writes (by hand, S6l
 * with `sync` between runs: no run's system CPU doubled; without it, a third of them).
 */
const flushDirtyPages = () => sh('sync', []);
/**
 * With --tools a,b: only the tools whose names start with one of them (case-insensitive), e.g.
 * `--tools s3x,s5cmd,node floor` for many reps of s3x against its floor and the fastest peer.
 */
const TOOLS = opt('tools', undefined)?.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
const onlyChosenTools = (list) => (TOOLS ? list.filter((t) => TOOLS.some((x) => t.name.toLowerCase().startsWith(x))) : list);
/**
 * Uploads `dir` to bucket/prefix with s3x over every gateway (untimed) and checks the count. Single
 * PUTs only (threshold 5 GiB): every seeded object's ETag is its MD5, so a download that verifies
 * really hashes (multipart ETags cannot be checked by rclone, nor by s3x without the part size).
 */
const seed = (dir, prefix, files) => {
  const gateways = process.env.S3X_ENDPOINTS?.split(' ').filter(Boolean) ?? [endpoint];
  sh(process.execPath, [path.join(ROOT, 'bin/s3x.js'), 'upload', dir, bucket, prefix, ...gateways.flatMap((e) => ['--endpoint-url', e]), '-c', '32', '--multipart-threshold', '5GiB', '--no-progress'], { env: cleanEnv(work), stdio: ['ignore', 'ignore', 'inherit'] });
  const [count] = sh(process.execPath, [path.join(ROOT, 'scripts/s3-tool.mjs'), 'count', endpoint, bucket, `${prefix}/`], { env: cleanEnv(work) }).trim().split(' ').map(Number);
  if (count !== files) throw new Error(`seeding ${prefix}: ${count} of ${files} objects`);
};
/** True when the trees under a and b hold the same relative paths with the same bytes. */
const sameTree = (a, b) => {
  const files = (d) => fs.readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => path.relative(d, path.join(e.parentPath ?? e.path, e.name))).sort();
  const fa = files(a);
  const fb = files(b);
  return fa.length === fb.length && fa.every((f, i) => f === fb[i] && fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))));
};

// S4: s3x variants through the proxy; `stall` = fraction of PUTs that never get an answer.
const s3xCmd = (extra) => (d, b, p, ep) => [process.execPath, path.join(ROOT, 'bin/s3x.js'), 'upload', d, b, p, '--endpoint-url', ep, '-c', String(CONC), '--no-progress', ...extra];
const faultTools = [
  { name: 's3x, no faults', stall: 0, cmd: s3xCmd([]) },
  { name: 's3x, 2% stalled', stall: 0.02, cmd: s3xCmd([]) },
  { name: 's3x, 2% stalled, --min-deadline-ms 2000', stall: 0.02, noBase: true, cmd: s3xCmd(['--min-deadline-ms', '2000']) },
];
// H1–H5: `faults(rep)` is the proxy's FaultSpec for a run; `json`: the run's --json goes to a file
// (timed.sh discards stdout) and its summary is read back.
/** `argv` with its stdout (s3x's --json) into the file `jsonOut` */
const stdoutTo = (jsonOut, argv) => ['bash', '-c', 'exec "$@" >"$0"', jsonOut, ...argv];
const jsonCmd = (extra) => (d, b, p, ep, jsonOut) => stdoutTo(jsonOut, s3xCmd([...extra, '--json'])(d, b, p, ep));
const stalledPuts = (fraction) => (rep) => ({ match: /^PUT /, stallFraction: fraction, seed: rep + 1 });
/** H runs: s3x with scripts/bench/thread-wait.cjs preloaded (its main thread's wait for a core, at exit) */
const threadWaitEnv = { NODE_OPTIONS: `--require ${path.join(ROOT, 'scripts/bench/thread-wait.cjs')}` };
const hedgeTool = (name, faults, extra = [], more = {}) => ({ name, faults, json: true, noBase: true, env: threadWaitEnv, cmd: jsonCmd(extra), ...more });
const noFaults = hedgeTool('s3x, no faults', () => ({}));
/** H5d, H4d: `s3x download` to `ep` (H5d: the gateway; H4d: the fault proxy, with `faults`), its --json into `jsonOut` */
const dlHedgeTool = (name, extra = [], faults = undefined) => ({
  name, json: true, noBase: true, faults, env: threadWaitEnv,
  cmd: (b, p, o, jsonOut, ep) => stdoutTo(jsonOut, [process.execPath, path.join(ROOT, 'bin/s3x.js'), 'download', b, p, o,
    '--endpoint-url', ep, '-c', String(CONC), '--no-progress', '--no-verify', '--json', ...extra]),
});
const stalledParts = () => ({ match: /^PUT .*partNumber=/, stallEvery: 20, stallAfterBytes: 4 * 1024 * 1024 });
const stalledGets = () => ({ match: /^GET \/[^/?]+\/H4d\/source\//, stallEvery: 20, stallAfterBytes: 4 * 1024 * 1024 });
const late20 = () => ({ match: /^PUT /, responseDelayEvery: 20, responseDelayMs: 1000 });
const hedgeTools = {
  H1: [noFaults, hedgeTool('s3x, 2% stalled', stalledPuts(0.02)), hedgeTool('s3x, 5% stalled', stalledPuts(0.05)),
    hedgeTool('s3x, 2% stalled, --no-hedge', stalledPuts(0.02), ['--no-hedge']), hedgeTool('s3x, 5% stalled, --no-hedge', stalledPuts(0.05), ['--no-hedge'])],
  H2: [noFaults, hedgeTool('s3x, 5% stalled', stalledPuts(0.05)), hedgeTool('s3x, 5% stalled, --no-hedge', stalledPuts(0.05), ['--no-hedge'])],
  H3: [noFaults, hedgeTool('s3x, every 20th 1 s late', late20),
    hedgeTool('s3x, every 20th 1 s late, --hedge-budget 10%', late20, ['--hedge-budget', '10%']),
    hedgeTool('s3x, every 20th 1 s late, --no-hedge', late20, ['--no-hedge']),
    // the same on a core no server shares (pinnedRun): a cut's lateness that is the client's own.
    // Its gateway, on a core less, answers ~1.5× slower: the arm below has a slower median on shared cores
    ...(pinnable() ? [hedgeTool('s3x, every 20th 1 s late, client on a core of its own', late20, [], { pinned: true, noRatio: true })] : []),
    hedgeTool('s3x, every 20th 1 s late, every request 17 ms later', () => ({ ...late20(), delayMs: 17 }), [], { noRatio: true })],
  H4: [noFaults, hedgeTool('s3x, 1 part in 20 stalled mid-body', stalledParts),
    hedgeTool('s3x, 1 part in 20 stalled mid-body, --no-hedge', stalledParts, ['--no-hedge'])],
  H5: [noFaults, hedgeTool('s3x --no-hedge, no faults', () => ({}), ['--no-hedge']), hedgeTool('s3x, no faults, again', () => ({}))],
  H5l: [noFaults, hedgeTool('s3x --no-hedge, no faults', () => ({}), ['--no-hedge'])],
  H5d: [dlHedgeTool('s3x, no faults'), dlHedgeTool('s3x --no-hedge, no faults', ['--no-hedge'])],
  H4d: [dlHedgeTool('s3x, no faults', [], () => ({})), dlHedgeTool('s3x, 1 part GET in 20 stalled mid-body', [], stalledGets),
    dlHedgeTool('s3x, 1 part GET in 20 stalled mid-body, --no-hedge', ['--no-hedge'], stalledGets)],
};
/**
 * `${key}#${part}` of each request the proxy stalled or held in this run (`faultLog` entries, each
 * `${method} /${bucket}/${key}[?partNumber=n&…]`): the stragglers the bench made, told apart from the
 * gateway's own.
 */
function faultedKeys(entries, bucketName) {
  return new Set(entries.map(({ request }) => {
    const url = new URL(request.slice(request.indexOf(' ') + 1), 'http://x');
    const key = decodeURIComponent(url.pathname).slice(bucketName.length + 2);
    return `${key}#${url.searchParams.get('partNumber') ?? ''}`;
  }));
}
/**
 * What one H run's --json says: hedges and retries per request, and the worst straggler's ratio.
 * `faulted`: faultedKeys() of the run (a request stalled or held by the proxy, any of its copies);
 * `warmUp` false: the requests of the estimator's warm-up are counted too.
 */
function hedgeFigures(jsonPath, faulted = new Set(), warmUp = true) {
  const recs = fs.readFileSync(jsonPath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const summary = recs.at(-1);
  const reqs = recs.filter((r) => r.type === 'request' && (r.op === 'PutObject' || r.op === 'UploadPart' || r.op === 'GetObject'));
  // a straggler: a request retried or hedged; its expected time: the median of the undisturbed ones of its op
  const calmMs = {};
  const calm = (op) => (calmMs[op] ??= median(reqs.filter((r) => r.op === op && r.attempts === 1 && !r.hedged).map((r) => r.successMs)));
  const ratios = reqs.filter((r) => r.attempts > 1 || r.hedged > 0).map((r) => r.totalMs / calm(r.op));
  // after the estimator's warm-up (src/endpoints/estimator.ts: a small request's tail is known after
  // 100 of them, a part is hedged after 4): before it, a straggler can only be cut at the 500 ms floor.
  // In start order (`startMs`), and every request, hedged or not: a late answer nobody hedged is a straggler too.
  // H4d counts every request: a large read's silence hedges it before any hedge time is known
  const warmFrom = (op) => (!warmUp ? 0 : (op === 'PutObject' ? 100 : 4) + CONC); // H5d's GETs are parts
  const byStart = [...reqs].sort((a, b) => (a.startMs ?? 0) - (b.startMs ?? 0));
  const seen = {};
  const warmReqs = byStart.filter((r) => (seen[r.op] = (seen[r.op] ?? 0) + 1) > warmFrom(r.op));
  const warm = warmReqs.map((r) => r.totalMs / calm(r.op));
  const over3 = warm.filter((x) => x > 3).length;
  // the issue's "every straggler cut within 3× its expected time": a straggler (after warm-up) is a
  // request cut (hedged or out of deadline, `cutMs`) or over 3× the median; cut in time when its
  // first cut came by 3× the median (the copy that then answers has its own time, gateway's tail included)
  const strag = warmReqs.filter((r) => r.cutMs !== undefined || r.totalMs > 3 * calm(r.op));
  const cutRatio = (r) => (r.cutMs ?? r.totalMs) / calm(r.op);
  const cutLate = strag.filter((r) => cutRatio(r) > 3).length;
  // the issue's stragglers are the ones the proxy made; the gateway's own (nothing injected) are
  // counted apart, with those no later request overtook (the gateway paused for all in flight)
  const made = (r) => faulted.has(`${r.key}#${r.part ?? ''}`);
  const madeStrag = strag.filter(made);
  const ownStrag = strag.filter((r) => !made(r));
  const overtakenBy = (r) => warmReqs.filter((o) => o.op === r.op && o.startMs > r.startMs && o.startMs + o.totalMs < r.startMs + r.totalMs).length;
  const bytes = reqs.reduce((sum, r) => sum + r.bytes, 0);
  // the shape of the run's own times: where 3× the median falls (a hedge at p95 cuts later than 3×
  // the median when p95 is past it)
  const mainOp = ['UploadPart', 'GetObject'].find((op) => reqs.some((r) => r.op === op)) ?? 'PutObject';
  const times = warmReqs.filter((r) => r.op === mainOp).map((r) => r.totalMs).sort((a, b) => a - b);
  const q = (p) => times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))] / calm(mainOp) : 0;
  // scripts/bench/thread-wait.cjs's line in the run's stderr (beside its --json)
  const stderrPath = jsonPath.replace(/\.json$/, '.stderr');
  const wait = /main thread ran (\d+) ms, waited (\d+) ms/.exec(fs.existsSync(stderrPath) ? fs.readFileSync(stderrPath, 'utf8') : '');
  return {
    ranMs: wait ? Number(wait[1]) : NaN, waitedMs: wait ? Number(wait[2]) : NaN, medianMs: Number(calm(mainOp)),
    p95x: q(0.95), p99x: q(0.99),
    maxStragglerWarm: warm.length ? Math.max(...warm) : 0, over3,
    stragglers: strag.length, cutLate, worstCut: strag.length ? Math.max(...strag.map(cutRatio)) : 0,
    made: madeStrag.length, madeLate: madeStrag.filter((r) => cutRatio(r) > 3).length, madeWorst: madeStrag.length ? Math.max(...madeStrag.map(cutRatio)) : 0,
    own: ownStrag.length, ownLate: ownStrag.filter((r) => cutRatio(r) > 3).length, ownPaused: ownStrag.filter((r) => overtakenBy(r) === 0).length,
    hedgeBytesPct: bytes ? (100 * (summary.hedgeBytes ?? 0)) / bytes : 0,
    hedgedPct: (100 * summary.hedged) / summary.requests, wonPct: (100 * summary.hedgeWon) / summary.requests,
    retriedPct: (100 * summary.retries) / summary.requests, maxStraggler: ratios.length ? Math.max(...ratios) : 0,
  };
}
let proxy;
const THROTTLE_BYTES_PER_SEC = 16e6;
const multiCmd = (n) => (d, b, p, eps) => [process.execPath, path.join(ROOT, 'bin/s3x.js'), 'upload', d, b, p, ...eps.slice(0, n).flatMap((e) => ['--endpoint-url', e]), '-c', String(CONC), '--no-progress'];
const throttledTools = [
  { name: 's3x, 1 endpoint', cmd: multiCmd(1) },
  { name: 's3x, 3 endpoints', cmd: multiCmd(3) },
];
const strategyCmd = (strategy) => (d, b, p, eps) => [...multiCmd(3)(d, b, p, eps), '--strategy', strategy];
const unevenTools = ['adaptive', 'least-loaded', 'round-robin'].map((s) => ({ name: `s3x --strategy ${s}`, noBase: s !== 'adaptive', cmd: strategyCmd(s) }));
let throttleProxies;

// S9: s3x under --bwlimit / --tpslimit, timed like the others (timed.sh), its --json summary kept in a file.
/** One rep of an S9 scenario: { ok, wall, cpu, serverSec, bytes, rate, ratio, retries }; rate and ratio from the run's own summary. */
const limitRun = async (sc, spec, dir, rep) => {
  const home = fs.mkdtempSync(path.join(work, 'home-'));
  const target = path.join(work, `dl-${sc}-${rep}`);
  const out = path.join(work, `t-${sc}-${rep}`);
  const json = `${out}.json`;
  const argv = spec.download ? ['download', bucket, `${sc}/source`, target, ...spec.flags] : ['upload', dir, bucket, `${sc}/${rep}`, ...spec.flags];
  const s3x = [...s3xBin, ...argv, '--endpoint-url', endpoint, '-c', String(CONC), '--no-progress', '--json'];
  const cpu0 = serverCpuSec();
  await runAsync('bash', [path.join(ROOT, 'scripts/bench/timed.sh'), out, 'bash', '-c', 'out=$1; shift; exec "$@" >"$out"', 'sh', json, ...s3x], { env: cleanEnv(home) });
  const serverSec = serverCpuSec() - cpu0;
  fs.rmSync(home, { recursive: true, force: true });
  const [rc, , user, sys] = fs.readFileSync(out, 'utf8').trim().split(' ').map(Number);
  const summary = fs.readFileSync(json, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((r) => r.type === 'summary');
  if (!summary) return { ok: false, wall: NaN, ratio: NaN, rate: NaN, retries: NaN };
  const wall = summary.wallMs / 1000;
  const measured = spec.unit === 'bytes' ? summary.bytes : summary.endpoints.reduce((n, e) => n + e.requests, 0);
  let ok = rc === 0 && summary.failed.length === 0;
  if (spec.download) { ok &&= sameTree(dir, target); fs.rmSync(target, { recursive: true, force: true }); }
  if (!ok) console.error(`${sc} rep ${rep}: exit ${rc} — not counted\n${fs.readFileSync(`${out}.stderr`, 'utf8').slice(0, 2000)}`);
  return { ok, wall, cpu: user + sys, serverSec, bytes: summary.bytes, rate: measured / wall, ratio: measured / wall / spec.perSec, retries: summary.retries };
};

// --- runs ------------------------------------------------------------------
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const results = [];
const bucket = `s3x-bench-${Date.now().toString(36)}`;
sh(process.execPath, [path.join(ROOT, 'scripts/s3-tool.mjs'), 'mkbucket', endpoint, bucket]);
for (const sc of chosen) {
  const spec = SCENARIOS[sc];
  if (!spec) throw new Error(`unknown scenario ${sc}`);
  const dir = path.join(work, sc);
  if (spec.op === 'limit') {
    spec.sets.forEach(([n, size, dirs], i) => sh(process.execPath, [path.join(ROOT, 'scripts/s3-tool.mjs'), 'gen', path.join(dir, `set${i}`), String(n), String(size), String(dirs)]));
    spec.files = spec.sets.reduce((n, [k]) => n + k, 0);
    if (spec.download) seed(dir, `${sc}/source`, spec.files);
    const r = [];
    for (let rep = 0; rep < (spec.reps ?? REPS); rep++) {
      const x = await limitRun(sc, spec, dir, rep);
      console.error(`${sc} rep ${rep}: ${x.wall.toFixed(2)} s wall, ${spec.unit === 'bytes' ? `${(x.rate / 2 ** 20).toFixed(2)} MiB/s` : `${x.rate.toFixed(2)} requests/s`}, measured ÷ limit ${x.ratio.toFixed(3)}, ${x.retries} retries${x.ok ? '' : ' (FAILED)'}`);
      if (x.ok) r.push(x);
    }
    if (r.length > 0) {
      const wall = median(r.map((x) => x.wall));
      results.push({
        scenario: sc, what: spec.what, tool: `s3x ${spec.flags.join(' ')}`, n: r.length, wall, wallMin: Math.min(...r.map((x) => x.wall)), wallMax: Math.max(...r.map((x) => x.wall)),
        cpuMsPerFile: (median(r.map((x) => x.cpu)) * 1000) / spec.files, serverSec: median(r.map((x) => x.serverSec)), mbps: r[0].bytes / 1e6 / wall, objPerSec: spec.files / wall, rssMiB: 0,
        ratio: median(r.map((x) => x.ratio)), ratioMin: Math.min(...r.map((x) => x.ratio)), ratioMax: Math.max(...r.map((x) => x.ratio)), retries: r.reduce((n, x) => n + x.retries, 0),
      });
    }
    continue;
  }
  sh(process.execPath, [path.join(ROOT, 'scripts/s3-tool.mjs'), 'gen', dir, String(spec.files), String(spec.size), String(spec.dirs)]);
  const scTools = onlyChosenTools(withBase(spec.hedge ? hedgeTools[spec.hedge] : spec.op === 'sync' ? syncTools : spec.rss ? [...tools.filter((t) => t.name === 's3x'), nodeFloor] : spec.op === 'delete' ? [...deleteTools, deleteFloor]
    : spec.op === 'download' ? [...downloadTools, ...(sc === 'S6s' ? [getFloor, getWorkerFloor] : sc === 'S6l' ? [rangedFloor, rangedMd5Floor, rangedMd5WorkerFloor] : [])] : spec.op === 'ls' ? [...lsTools, startFloor, lsFloor]
      : spec.faults ? faultTools : spec.throttled === 'uneven' ? unevenTools : spec.throttled ? throttledTools
        : sc === 'S1' ? [...tools, nodeFloor] : sc === 'S2' ? [...tools, largePutFloor] : tools));
  if (spec.op === 'download' || spec.op === 'ls') seed(dir, `${sc}/source`, spec.files);
  if (spec.op === 'sync') seed(dir, `${sc}/synced`, spec.files);
  if (spec.throttled && !throttleProxies) {
    const { startFaultProxy } = await import(path.join(ROOT, 'dist-support/fault-proxy.js'));
    const gateways = process.env.S3X_ENDPOINTS?.split(' ').filter(Boolean) ?? [endpoint];
    throttleProxies = await Promise.all([0, 1, 2].map((i) => startFaultProxy({
      target: gateways[i % gateways.length], maxLifetimeMs: 30 * 60_000, faults: { throttleBytesPerSecTotal: THROTTLE_BYTES_PER_SEC },
    })));
  }
  if (spec.throttled) {
    const rates = spec.throttled === 'uneven' ? [THROTTLE_BYTES_PER_SEC, THROTTLE_BYTES_PER_SEC, THROTTLE_BYTES_PER_SEC / 5] : [THROTTLE_BYTES_PER_SEC, THROTTLE_BYTES_PER_SEC, THROTTLE_BYTES_PER_SEC];
    throttleProxies.forEach((x, i) => x.setFaults({ throttleBytesPerSecTotal: rates[i] }));
  }
  if (spec.faults && !proxy) {
    const { startFaultProxy } = await import(path.join(ROOT, 'dist-support/fault-proxy.js'));
    proxy = await startFaultProxy({ target: endpoint, maxLifetimeMs: 30 * 60_000 });
  }
  const runs = Object.fromEntries(scTools.map((t) => [t.name, []]));
  for (let rep = 0; rep < (spec.reps ?? REPS); rep++) {
    // every other rep in reverse order: a tool always run first (or right after a given other)
    // would carry whatever the gateway still does from the run before into its ratio
    for (const t of rep % 2 === 0 ? scTools : [...scTools].reverse()) {
      if (spec.faults) proxy.setFaults(t.faults ? t.faults(rep) : t.stall ? { match: /^PUT /, stallFraction: t.stall, seed: rep + 1 } : {});
      const home = fs.mkdtempSync(path.join(work, 'home-'));
      t.setup?.(home);
      const prefix = `${sc}/${t.name.replace(/[^a-z0-9]+/gi, '-')}/${rep}`;
      const out = path.join(work, `t-${sc}-${rep}`);
      if (spec.op && spec.op !== 'sync') {
        // delete: a fresh set under `prefix`; download: the set uploaded once, into a fresh directory
        if (spec.op === 'delete') seed(dir, prefix, spec.files);
        const target = path.join(work, `dl-${sc}-${rep}`); // download only
        if (spec.op === 'download') fs.mkdirSync(target);
        flushDirtyPages();
        const cpu0 = serverCpuSec();
        await runAsync('bash', [path.join(ROOT, 'scripts/bench/timed.sh'), out, ...t.cmd(bucket, spec.op === 'delete' ? prefix : `${sc}/source`, target, `${out}.json`, spec.faults ? proxy.url : endpoint)], { env: { ...cleanEnv(home), ...t.env } });
        const serverSec = serverCpuSec() - cpu0;
        const [rc, wall, user, sys] = fs.readFileSync(out, 'utf8').trim().split(' ').map(Number);
        let ok;
        let detail;
        if (spec.op === 'delete') {
          const [left] = sh(process.execPath, [path.join(ROOT, 'scripts/s3-tool.mjs'), 'count', endpoint, bucket, `${prefix}/`], { env: cleanEnv(home) }).trim().split(' ').map(Number);
          ok = rc === 0 && left === 0;
          detail = `${left} of ${spec.files} objects left`;
        } else if (spec.op === 'ls') {
          ok = rc === 0;
          detail = 'the listing failed';
        } else {
          ok = rc === 0 && sameTree(dir, target);
          detail = 'the downloaded tree differs from the source';
          fs.rmSync(target, { recursive: true, force: true });
        }
        if (!ok) console.error(`${sc} ${t.name} rep ${rep}: exit ${rc}, ${detail} — not counted\n${fs.readFileSync(`${out}.stderr`, 'utf8').slice(0, 2000)}`);
        else runs[t.name].push({ rep, wall, cpu: user + sys, serverSec, ...(t.json && { hedge: hedgeFigures(`${out}.json`, undefined, !spec.noWarmUp) }) });
        const h = ok && t.json ? runs[t.name].at(-1).hedge : undefined;
        const hedging = h ? `, hedged ${h.hedgedPct.toFixed(1)}% (won ${h.wonPct.toFixed(1)}%), retried ${h.retriedPct.toFixed(1)}%, ${h.hedgeBytesPct.toFixed(1)}% bytes twice` : '';
        console.error(`${sc} ${t.name.padEnd(22)} rep ${rep}: ${wall.toFixed(2)} s wall, ${(spec.files / wall).toFixed(0)} objects/s, ${(user + sys).toFixed(2)} s client CPU, ${serverSec.toFixed(2)} s server CPU${hedging}${ok ? '' : ' (FAILED)'}`);
        fs.rmSync(home, { recursive: true, force: true });
        continue;
      }
      flushDirtyPages();
      const cpu0 = serverCpuSec();
      const stalled0 = proxy?.stats().stalled ?? 0;
      const faults0 = proxy?.faultLog().length ?? 0;
      const into = spec.op === 'sync' ? `${sc}/synced` : prefix; // sync: the stored tree, nothing to send
      const jsonOut = `${out}.json`;
      const argv = t.cmd(dir, bucket, into, spec.faults ? proxy.url : spec.throttled ? throttleProxies.map((x) => x.url) : endpoint, jsonOut);
      const timed = (prefix = []) => runAsync('bash', [path.join(ROOT, 'scripts/bench/timed.sh'), out, ...prefix, ...argv], { env: { ...cleanEnv(home), ...t.env } });
      await (t.pinned ? pinnedRun(timed) : timed());
      const serverSec = serverCpuSec() - cpu0;
      const [rc, wall, user, sys, rssKiB] = fs.readFileSync(out, 'utf8').trim().split(' ').map(Number);
      const [count, bytes] = sh(process.execPath, [path.join(ROOT, 'scripts/s3-tool.mjs'), 'count', endpoint, bucket, `${into}/`], { env: cleanEnv(home) }).trim().split(' ').map(Number);
      const ok = rc === 0 && count === spec.files && bytes === spec.files * spec.size;
      if (!ok) console.error(`${sc} ${t.name} rep ${rep}: exit ${rc}, ${count}/${spec.files} objects, ${bytes} bytes — not counted\n${fs.readFileSync(`${out}.stderr`, 'utf8').slice(0, 2000)}`);
      else runs[t.name].push({ rep, wall, cpu: user + sys, serverSec, rssKiB, ...(t.json && { hedge: hedgeFigures(jsonOut, faultedKeys(proxy.faultLog().slice(faults0), bucket)) }) });
      const h = ok && t.json ? runs[t.name].at(-1).hedge : undefined;
      const stalls = (spec.faults ? `, ${(proxy.stats().stalled - stalled0)} stalled` : '') +
        (h ? `, hedged ${h.hedgedPct.toFixed(1)}% (won ${h.wonPct.toFixed(1)}%), retried ${h.retriedPct.toFixed(1)}%, worst straggler ${h.maxStraggler.toFixed(1)}× (${h.maxStragglerWarm.toFixed(1)}× after warm-up, ${h.over3} over 3×; ${h.stragglers} stragglers, ${h.cutLate} cut after 3×, worst first cut ${h.worstCut.toFixed(1)}×; made by the proxy ${h.made}, cut late ${h.madeLate} (worst ${h.madeWorst.toFixed(1)}×); the gateway's own ${h.own}, late ${h.ownLate}, overtaken by none ${h.ownPaused}; ${h.hedgeBytesPct.toFixed(1)}% bytes twice; p95 ${h.p95x.toFixed(1)}×, p99 ${h.p99x.toFixed(1)}× the median; main thread ran ${h.ranMs} ms, waited ${h.waitedMs} ms for a core)` : '');
      console.error(`${sc} ${t.name.padEnd(22)} rep ${rep}: ${wall.toFixed(2)} s wall, ${(user + sys).toFixed(2)} s client CPU, ${serverSec.toFixed(2)} s server CPU${stalls}${ok ? '' : ' (FAILED)'}`);
      // untimed: an upload's objects go once counted, so a long run does not fill a small test cluster
      if (spec.op !== 'sync' && spec.size * spec.files >= 64 * 1024 * 1024) {
        sh(process.execPath, [...s3xBin.slice(1), 'delete-prefix', bucket, into, '--endpoint-url', endpoint, '--no-progress'], { env: cleanEnv(home), stdio: 'ignore' });
      }
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  for (const t of scTools) {
    const r = runs[t.name];
    if (r.length === 0) continue;
    results.push({
      scenario: sc, what: spec.what, tool: t.name, n: r.length, noRatio: t.noRatio === true,
      wall: median(r.map((x) => x.wall)), wallMin: Math.min(...r.map((x) => x.wall)), wallMax: Math.max(...r.map((x) => x.wall)),
      cpuMsPerFile: (median(r.map((x) => x.cpu)) * 1000) / spec.files, serverSec: median(r.map((x) => x.serverSec)),
      mbps: (spec.files * spec.size) / 1e6 / median(r.map((x) => x.wall)), objPerSec: spec.files / median(r.map((x) => x.wall)),
      rssMiB: median(r.map((x) => x.rssKiB ?? 0)) / 1024, perRep: r,
      ...(r[0].hedge && {
        hedgedPct: median(r.map((x) => x.hedge.hedgedPct)), wonPct: median(r.map((x) => x.hedge.wonPct)),
        retriedPct: median(r.map((x) => x.hedge.retriedPct)), maxStraggler: Math.max(...r.map((x) => x.hedge.maxStraggler)), maxStragglerWarm: Math.max(...r.map((x) => x.hedge.maxStragglerWarm)), over3: Math.max(...r.map((x) => x.hedge.over3)),
        stragglers: r.map((x) => x.hedge.stragglers), cutLate: r.map((x) => x.hedge.cutLate), worstCut: Math.max(...r.map((x) => x.hedge.worstCut)),
        made: r.map((x) => `${x.hedge.made}/${x.hedge.madeLate}`), madeWorst: Math.max(...r.map((x) => x.hedge.madeWorst)),
        own: r.map((x) => `${x.hedge.own}/${x.hedge.ownLate}/${x.hedge.ownPaused}`),
        medianMs: median(r.map((x) => x.hedge.medianMs)), ranMs: median(r.map((x) => x.hedge.ranMs)), waitedMs: median(r.map((x) => x.hedge.waitedMs)),
        hedgeBytesPct: median(r.map((x) => x.hedge.hedgeBytesPct)), p95x: median(r.map((x) => x.hedge.p95x)), p99x: median(r.map((x) => x.hedge.p99x)),
      }),
    });
  }
}
fs.rmSync(work, { recursive: true, force: true });
await proxy?.close();
await Promise.all((throttleProxies ?? []).map((x) => x.close()));

// --- report ----------------------------------------------------------------
const lines = [];
const peerVersions = [...new Set([...tools, ...deleteTools, ...downloadTools, ...lsTools].map((t) => t.name))].filter((n) => /\(/.test(n)).join(', ');
lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; s3x ${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}; peers: ${peerVersions || 'none found'}; ${new Date().toISOString().slice(0, 10)}; server: Ceph RGW (${cephVersion()}) at ${endpoint}; concurrency ${CONC}; ${REPS} reps (S0: 10, S7/S8: 1), medians (min–max)${TOOLS ? `; only the tools named ${TOOLS.map((x) => `"${x}…"`).join(', ')} (--tools)` : ''}${BASE ? `; @base = ${sh('git', ['-C', BASE, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim().slice(0, 80)}` : ''}`);
lines.push('');
lines.push('| scenario | tool | wall s | MB/s | objects/s | client CPU ms/file | server CPU s | s3x ÷ this (wall) |');
lines.push('|---|---|---|---|---|---|---|---|');
/** [a's run, b's run] for every rep both ran in (tools alternate within a rep) */
const repPairs = (a, b) => (a.perRep ?? []).map((x) => [x, b.perRep?.find((y) => y.rep === x.rep)]).filter(([, y]) => y);
/**
 * Ratios of `a` to `b` run next to each other (the same rep, tools alternating): the median of the
 * per-rep ratios of wall and client CPU, with their range. Beside the same tool against itself
 * (H5's "again") it shows how much of a difference this machine can tell from noise.
 */
const pairedRow = (sc, a, b) => {
  const pairs = repPairs(a, b);
  if (pairs.length === 0) return;
  const walls = pairs.map(([x, y]) => x.wall / y.wall);
  const cpus = pairs.map(([x, y]) => x.cpu / y.cpu);
  const show = (xs) => `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  lines.push(`| ${sc} | **${a.tool} ÷ no faults, paired per rep (${pairs.length} pairs): wall ${show(walls)}, client CPU ${show(cpus)}** | **${median(walls).toFixed(3)}** | | | | | |`);
};
/**
 * a's median wall ÷ b's; with 3 reps or more also the median and range of the per-rep ratios (the
 * two run in the same rep, so a gateway slower in one rep moves both): a few percent between medians
 * of 5 can be one slow rep, where the per-rep ratios show whether every rep agrees.
 */
const ratioRow = (sc, label, a, b) => {
  if (!a || !b) return;
  const pairs = repPairs(a, b);
  const walls = pairs.map(([x, y]) => x.wall / y.wall);
  const paired = pairs.length >= 3 ? `; per rep ${median(walls).toFixed(2)} (${Math.min(...walls).toFixed(2)}–${Math.max(...walls).toFixed(2)}, ${pairs.length} reps)` : '';
  lines.push(`| ${sc} | **${label}**${paired} | **${(a.wall / b.wall).toFixed(2)}** | | | | | |`);
};
for (const sc of chosen) {
  const rows = results.filter((r) => r.scenario === sc);
  const s3x = rows.find((r) => r.tool === 's3x');
  for (const r of rows) {
    lines.push(`| ${sc} ${r.what} | ${r.tool} | ${r.wall.toFixed(2)} (${r.wallMin.toFixed(2)}–${r.wallMax.toFixed(2)}) | ${r.mbps.toFixed(1)} | ${r.objPerSec.toFixed(0)} | ${r.cpuMsPerFile.toFixed(2)} | ${r.serverSec.toFixed(1)} | ${s3x ? (s3x.wall / r.wall).toFixed(2) : '–'} |`);
  }
  // the earlier commit, run interleaved with this one: ratios above 1 mean this tree got slower
  for (const b of rows.filter((r) => r.tool.endsWith(' @base'))) ratioRow(sc, `${b.tool.replace(/ @base$/, '')} ÷ same @base (earlier commit)`, rows.find((r) => r.tool === b.tool.replace(/ @base$/, '')), b);
  const spec = SCENARIOS[sc];
  if (spec.op === 'limit') {
    for (const r of rows) lines.push(`| ${sc} | **${spec.unit === 'bytes' ? 'MiB/s' : 'requests/s'} measured ÷ limit** (target 0.95–1.05; ${r.retries} retries) | **${r.ratio.toFixed(3)}** (${r.ratioMin.toFixed(3)}–${r.ratioMax.toFixed(3)}) | | | | | |`);
    continue;
  }
  if (spec.rss) {
    for (const r of rows) lines.push(`| ${sc} | **peak RSS of ${r.tool}** | **${r.rssMiB.toFixed(1)} MiB** | | | | | |`);
    const pair = { S7b: ['S7a', 'RSS 100,000 files ÷ 1,000 files'], S8b: ['S8a', 'RSS sync 200,000 ÷ 20,000'] }[sc];
    for (const big of pair ? rows : []) {
      const small = results.find((r) => r.scenario === pair[0] && r.tool === big.tool);
      if (small?.rssMiB > 0) lines.push(`| ${sc} | **${big.tool}: ${pair[1]}** (target ≤ 1.5) | **${(big.rssMiB / small.rssMiB).toFixed(2)}** | | | | | |`);
    }
    continue;
  }
  if (spec.throttled === 'uneven') {
    const best = [...rows].filter((r) => !r.tool.endsWith('@base')).sort((a, b) => a.wall - b.wall)[0];
    for (const r of rows.filter((x) => !x.tool.endsWith('@base'))) ratioRow(sc, `${r.tool} ÷ fastest (${best.tool})`, r, best);
    continue;
  }
  if (spec.throttled) {
    ratioRow(sc, '3 endpoints ÷ 1 endpoint (throughput)', rows.find((r) => r.tool === 's3x, 1 endpoint'), rows.find((r) => r.tool === 's3x, 3 endpoints'));
    continue;
  }
  if (spec.hedge) {
    const base = rows.find((r) => r.tool === 's3x, no faults');
    for (const r of rows.filter((x) => !x.tool.endsWith('@base'))) {
      // a pinned run's gateway has a core less, a delayed one every request later: walls not comparable with the base's
      if (r !== base && !r.noRatio) ratioRow(sc, `${r.tool} ÷ no faults`, r, base);
      if (r !== base && spec.pairs) pairedRow(sc, r, base);
      lines.push(`| ${sc} | ${r.tool}: hedged ${r.hedgedPct.toFixed(1)}% of requests (won ${r.wonPct.toFixed(1)}%), retried ${r.retriedPct.toFixed(1)}%, worst straggler ${r.maxStraggler.toFixed(1)}× the median request, ${r.maxStragglerWarm.toFixed(1)}× after the estimator's warm-up (the first 100 small requests or 4 parts started, + ${CONC} in flight; every request, hedged or not), ${r.over3} over 3× in the worst rep; stragglers per rep ${r.stragglers.join('/')}, cut later than 3× the median ${r.cutLate.join('/')} (worst first cut ${r.worstCut.toFixed(1)}×); of them made by the proxy / cut late, per rep ${r.made.join(', ')} (worst ${r.madeWorst.toFixed(1)}×); the gateway's own / late / overtaken by no later request ${r.own.join(', ')}; bytes sent twice ${r.hedgeBytesPct.toFixed(1)}%; whole times at p95 ${r.p95x.toFixed(1)}×, p99 ${r.p99x.toFixed(1)}× the median (${r.medianMs.toFixed(0)} ms)${Number.isNaN(r.waitedMs) ? '' : `; its main thread ran ${r.ranMs.toFixed(0)} ms and waited ${r.waitedMs.toFixed(0)} ms for a core`} (medians; worst over reps) | | | | | | |`);
    }
    continue;
  }
  if (spec.faults) {
    const base = rows.find((r) => r.tool === 's3x, no faults');
    for (const r of rows.filter((x) => x !== base && !x.tool.endsWith('@base'))) ratioRow(sc, `${r.tool} ÷ no faults`, r, base);
    continue;
  }
  const peers = rows.filter((r) => !r.tool.startsWith('s3x') && r.tool !== 'sdk-plain' && !floors.includes(r.tool)).sort((a, b) => a.wall - b.wall);
  ratioRow(sc, `s3x ÷ fastest peer (${peers[0]?.tool})`, s3x, peers[0]);
  // each floor against the s3x run doing the same (the ranged floor without MD5: s3x --no-verify)
  for (const floor of rows.filter((r) => floors.includes(r.tool))) {
    const mine = floor.tool === rangedFloor.name ? rows.find((r) => r.tool === 's3x --no-verify') : s3x;
    ratioRow(sc, `${mine?.tool} ÷ ${floor.tool} (no s3x code; does less)`, mine, floor);
    // where the floor itself stands: above the peer, what is left is Node's (S6l: like for like)
    const likeFor = floorPeer[floor.tool];
    const peer = likeFor ? peers.find((r) => r.tool.startsWith(likeFor)) : peers[0];
    ratioRow(sc, `${floor.tool} ÷ ${peer?.tool}`, floor, peer);
  }
  if (sc === 'S6l') {
    ratioRow(sc, 's3x ÷ rclone (both verify MD5)', s3x, peers.find((r) => r.tool.startsWith('rclone')));
    ratioRow(sc, 's3x --no-verify ÷ s5cmd (neither verifies)', rows.find((r) => r.tool === 's3x --no-verify'), peers.find((r) => r.tool.startsWith('s5cmd')));
  }
}
const text = lines.join('\n');
console.log(text);
if (OUT) fs.writeFileSync(path.resolve(ROOT, OUT), `# s3x benchmarks\n\nGenerated by \`npm run bench\` (scripts/bench/run.mjs). Lower wall time is better; a ratio below 1 means s3x is faster.\n\n${text}\n`);
