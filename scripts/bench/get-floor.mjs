#!/usr/bin/env node
/**
 * Node's own floor for the large-download scenario (S6l): the client CPU of bare `http.get`
 * ranged GETs written to files, with no s3x code at all, to compare with `s3x download`'s.
 * Usage: node scripts/bench/get-floor.mjs [--raw [--md5 | --md5-worker]] DIR PART_MIB URL... (URLs from `s3x presign`,
 * one per object; each object is fetched as PART_MIB ranged parts, 16 in flight, ~1 MiB writev
 * batches like src/ops/download.ts). Prints the process's user+sys CPU seconds; writes DIR/0, …
 * Or: ... DIR PART_MIB --s3 ENDPOINT BUCKET PREFIX: the objects under PREFIX/ (listed, signed by
 * ./floor-sign.mjs; credentials from the environment), each written to DIR/<key after PREFIX/>,
 * as `npm run bench` runs it for S6l (so it checks the tree like any download).
 * `--raw` (plain http only): no http module; a net.Socket's `onread` fills pooled 1 MiB buffers
 * that are written as they fill, so no body byte is copied or allocated per chunk in JS: the
 * floor of a body path that bypasses Node's HTTP parser (which copies every body chunk).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { encodePath, listQuery, nextToken, sign, xmlText } from './floor-sign.mjs';

const raw = process.argv[2] === '--raw';
// --md5 (after --raw): every body byte also goes through MD5 on this thread, part by part (the
// CPU s3x's verification spends; the digests are not checked). --md5-worker: the same MD5 on one
// worker thread, each 1 MiB buffer moved to it (not copied) once written and moved back after
const md5Worker = raw && process.argv[3] === '--md5-worker';
const md5 = raw && (process.argv[3] === '--md5' || md5Worker);
const [dir, partMiB, ...urls] = process.argv.slice(raw ? (md5 ? 4 : 3) : 2);
const s3 = urls[0] === '--s3' ? { endpoint: new URL(urls[1] ?? ''), bucket: urls[2], prefix: urls[3] } : undefined;
if (!dir || !(Number(partMiB) > 0) || urls.length === 0 || (s3 && !s3.prefix)) {
  console.error('usage: node scripts/bench/get-floor.mjs [--raw] DIR PART_MIB URL...');
  process.exit(2);
}
const partBytes = Number(partMiB) * 1024 * 1024;
/** The headers of a GET of `url`: presigned, or signed here (--s3). */
const headersFor = (url) => (s3 ? sign('GET', new URL(url).pathname, '', { host: new URL(url).host }) : {});
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const get = (url, headers) => new Promise((resolve, reject) => http.get(url, { agent, headers: { ...headersFor(url), ...headers } }, resolve).on('error', reject));

async function part(fh, url, start, end) {
  const res = await get(url, { range: `bytes=${start}-${end}` });
  if (res.statusCode !== 206) throw new Error(`${url}: HTTP ${res.statusCode}`);
  let pos = start;
  let batch = [];
  let batchBytes = 0;
  const flush = async () => {
    const { bytesWritten } = await fh.writev(batch, pos);
    if (bytesWritten !== batchBytes) throw new Error('short write');
    pos += batchBytes;
    batch = [];
    batchBytes = 0;
  };
  for await (const chunk of res) {
    batch.push(chunk);
    batchBytes += chunk.length;
    if (batchBytes >= 1024 * 1024) await flush();
  }
  if (batchBytes > 0) await flush();
  if (pos !== end + 1) throw new Error(`${url}: ${pos - start} bytes, expected ${end - start + 1}`);
}

const BUFFER_BYTES = 1024 * 1024;
const pool = [];
const take = () => pool.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES);

/** --md5-worker: hashes per part id on another thread; answers a digest when a part ends. */
const hasher = md5Worker ? new Worker(`
  const { parentPort } = require('node:worker_threads');
  const crypto = require('node:crypto');
  const hashes = new Map();
  parentPort.on('message', ({ id, buf, len }) => {
    if (!hashes.has(id)) hashes.set(id, crypto.createHash('md5'));
    if (buf) { hashes.get(id).update(new Uint8Array(buf, 0, len)); parentPort.postMessage({ buf }, [buf]); }
    else { parentPort.postMessage({ id, digest: hashes.get(id).digest('hex') }); hashes.delete(id); }
  });`, { eval: true }) : undefined;
const digestWaits = new Map();
hasher?.on('message', ({ buf, id, digest }) => (buf ? pool.push(Buffer.from(buf)) : digestWaits.get(id)(digest)));
let nextPartId = 0;

/** One ranged GET on its own socket: the response head is parsed by hand, the body read in place. */
function rawPart(fh, url, start, end) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let cur = take();
    let fill = 0;
    let inHead = true;
    let left = end - start + 1;
    let pos = start;
    let writing = false;
    let done = false;
    const queue = [];
    const pump = () => {
      if (writing) return;
      const job = queue.shift();
      if (!job) {
        if (!done) return;
        socket.destroy();
        if (!hasher) return resolve();
        digestWaits.set(partId, () => { digestWaits.delete(partId); resolve(); });
        hasher.postMessage({ id: partId });
        return;
      }
      writing = true;
      fs.write(fh.fd, job.buf, 0, job.len, job.pos, (err, n) => {
        if (err || n !== job.len) return reject(err ?? new Error('short write'));
        if (hasher) hasher.postMessage({ id: partId, buf: job.buf.buffer, len: job.len }, [job.buf.buffer]);
        else pool.push(job.buf);
        writing = false;
        if (queue.length < 2 && socket.isPaused()) socket.resume();
        pump();
      });
    };
    const partId = nextPartId++;
    const hash = md5 && !hasher ? crypto.createHash('md5') : undefined;
    const ship = () => {
      hash?.update(cur.subarray(0, fill));
      queue.push({ buf: cur, len: fill, pos });
      pos += fill;
      cur = take();
      fill = 0;
      pump();
    };
    const onread = (n) => {
      if (inHead) {
        const text = cur.toString('latin1', 0, fill + n);
        const at = text.indexOf('\r\n\r\n');
        if (at < 0) { fill += n; return undefined; }
        if (!/^HTTP\/1\.1 206 /.test(text)) { reject(new Error(`${url}: ${text.split('\r\n')[0]}`)); socket.destroy(); return false; }
        inHead = false;
        const bodyBytes = fill + n - (at + 4);
        cur.copy(cur, 0, at + 4, fill + n);
        fill = bodyBytes;
        left -= bodyBytes;
      } else {
        fill += n;
        left -= n;
      }
      if (left === 0) { done = true; ship(); return false; }
      // reads may still land after a pause: the buffer is shipped early enough to always have room
      if (BUFFER_BYTES - fill < 65536) { ship(); if (queue.length >= 2) { socket.pause(); return false; } }
      return undefined;
    };
    const socket = net.connect({ host: u.hostname, port: Number(u.port || 80), onread: { buffer: () => cur.subarray(fill), callback: onread } },
      () => {
        const signed = Object.entries(headersFor(url)).filter(([k]) => k !== 'host').map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n${signed}Range: bytes=${start}-${end}\r\n\r\n`);
      });
    socket.on('error', reject);
  });
}

async function object(url, i, name = String(i)) {
  const head = await get(url, { range: 'bytes=0-0' });
  head.resume();
  const size = Number(/\/(\d+)$/.exec(head.headers['content-range'] ?? '')?.[1]);
  if (!(size > 0)) throw new Error(`${url}: no size in Content-Range`);
  const file = path.join(dir, name);
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.promises.open(file, 'w');
  try {
    await fh.truncate(size);
    const jobs = [];
    const fetchPart = raw ? rawPart : part;
    for (let start = 0; start < size; start += partBytes) jobs.push(fetchPart(fh, url, start, Math.min(size, start + partBytes) - 1));
    await Promise.all(jobs);
  } finally {
    await fh.close();
  }
}

/** --s3: every key under PREFIX/ (ListObjectsV2 pages), as [url, name]. */
async function listed() {
  const base = `${s3.endpoint.origin}/${s3.bucket}`;
  const out = [];
  for (let token; ;) {
    const query = listQuery(`${s3.prefix}/`, token);
    const res = await new Promise((resolve, reject) => http.get(`${base}?${query}`, { agent, headers: sign('GET', `/${s3.bucket}`, query, { host: s3.endpoint.host }) }, resolve).on('error', reject));
    let xml = '';
    for await (const c of res) xml += c;
    if (res.statusCode !== 200) throw new Error(`list: HTTP ${res.statusCode}`);
    for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
      const key = xmlText(m[1]);
      out.push([`${base}/${encodePath(key)}`, key.slice(s3.prefix.length + 1)]);
    }
    token = nextToken(xml);
    if (!token) return out;
  }
}

fs.mkdirSync(dir, { recursive: true });
if (s3) await Promise.all((await listed()).map(([url, name], i) => object(url, i, name)));
else await Promise.all(urls.map((url, i) => object(url, i)));
agent.destroy();
await hasher?.terminate();
const cpu = process.cpuUsage();
console.log(`user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
