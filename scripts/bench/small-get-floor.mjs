#!/usr/bin/env node
/**
 * Node's own floor for the small-download scenario (S6s): list a prefix (ListObjectsV2 pages),
 * then GET every object with bare signed `http.get` (keep-alive, 16 in flight) and write it with
 * `fs.promises.writeFile` under DIR, each directory made once; no s3x code at all. It does less
 * than `s3x download` (no temporary file and rename, no MD5 check, no mtime, no path checks), so
 * s3x ÷ this is what s3x's safety and bookkeeping cost over Node's http and fs.
 * With --worker, each file is one job on a worker thread (open, write and close, blocking there), a
 * round trip per file as s3x's writer threads do (src/fs/new-file.ts), one thread on 2 cores.
 * Usage: node scripts/bench/small-get-floor.mjs [--worker] ENDPOINT BUCKET PREFIX DIR (credentials
 * and region from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { encodePath, haveCredentials, listQuery, nextToken, sign, xmlText } from './floor-sign.mjs';

const onWorker = process.argv[2] === '--worker';
const [endpoint, bucket, prefix, dir] = process.argv.slice(onWorker ? 3 : 2);
if (!endpoint || !bucket || !prefix || !dir || !haveCredentials) {
  console.error('usage: node scripts/bench/small-get-floor.mjs [--worker] ENDPOINT BUCKET PREFIX DIR (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
  process.exit(2);
}
const url = new URL(endpoint);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** GET a path (with a canonical query string) and the whole body. */
function get(pathName, query) {
  const headers = sign('GET', pathName, query, { host: url.host });
  return new Promise((resolve, reject) => {
    http.get({ host: url.hostname, port: url.port, path: query ? `${pathName}?${query}` : pathName, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${pathName}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const keys = [];
for (let token; ;) {
  const query = listQuery(`${prefix}/`, token);
  const xml = (await get(`/${bucket}`, query)).toString('utf8');
  for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(xmlText(m[1]));
  token = nextToken(xml);
  if (!token) break;
}
/** --worker: threads that write a whole file per job; a job goes to the one with the fewest in flight. */
const WRITER = `const fs = require('node:fs'); const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, file, data }) => {
  const fd = fs.openSync(file, 'wx');
  try { for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off, off); } finally { fs.closeSync(fd); }
  parentPort.postMessage(id);
});`;
const writers = onWorker ? Array.from({ length: Math.min(4, Math.max(1, os.availableParallelism() - 1)) }, () => {
  const w = { thread: new Worker(WRITER, { eval: true }), waits: new Map() };
  w.thread.on('message', (id) => { w.waits.get(id)(); w.waits.delete(id); });
  return w;
}) : [];
let nextJob = 0;
const writeFile = (file, data) => {
  if (!onWorker) return fs.promises.writeFile(file, data);
  const w = writers.reduce((a, b) => (b.waits.size < a.waits.size ? b : a));
  const bytes = new Uint8Array(data);
  const id = nextJob++;
  return new Promise((resolve) => { w.waits.set(id, resolve); w.thread.postMessage({ id, file, data: bytes }, [bytes.buffer]); });
};
const made = new Map();
const mkdir = (d) => { let p = made.get(d); if (!p) made.set(d, (p = fs.promises.mkdir(d, { recursive: true }))); return p; };
let next = 0;
async function worker() {
  while (next < keys.length) {
    const key = keys[next++];
    const file = path.join(dir, key.slice(prefix.length + 1));
    const [data] = await Promise.all([get(`/${bucket}/${encodePath(key)}`, ''), mkdir(path.dirname(file))]);
    await writeFile(file, data);
  }
}
await Promise.all(Array.from({ length: 16 }, worker));
agent.destroy();
await Promise.all(writers.map((w) => w.thread.terminate()));
console.log(`objects ${keys.length}`);
