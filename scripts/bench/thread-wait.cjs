// Preloaded into s3x by `npm run bench` in the H scenarios (NODE_OPTIONS=--require): at exit, how
// long the main thread ran and how long it was ready to run but waited for a core (Linux's
// /proc/thread-self/schedstat, ns). On 2 cores shared with the gateway, a hedge due at 2× the
// median can be cut late only because its timer's thread waited for a core (docs/benchmarks.md).
'use strict';
process.on('exit', () => {
  try {
    const [ranNs, waitedNs] = require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    process.stderr.write(`s3x-bench: main thread ran ${(ranNs / 1e6).toFixed(0)} ms, waited ${(waitedNs / 1e6).toFixed(0)} ms for a core\n`);
  } catch {
    // not Linux, or no schedstat: nothing to say
  }
});
