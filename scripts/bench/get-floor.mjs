#!/usr/bin/env node
/**
 * Node's own floor for the large-download scenario (S6l): the client CPU of bare `http.get`
 * ranged GETs written to files, with no s3x code at all, to compare with `s3x download`'s.
 * Usage: node scripts/bench/get-floor.mjs [--raw] DIR PART_MIB URL... (URLs from `s3x presign`,
 * one per object; each object is fetched as PART_MIB ranged parts, 16 in flight, ~1 MiB writev
 * batches like src/ops/download.ts). Prints the process's user+sys CPU seconds; writes DIR/0, …
 * `--raw` (plain http only): no http module; a net.Socket's `onread` fills pooled 1 MiB buffers
 * that are written as they fill, so no body byte is copied or allocated per chunk in JS: the
 * floor of a body path that bypasses Node's HTTP parser (which copies every body chunk).
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const raw = process.argv[2] === '--raw';
const [dir, partMiB, ...urls] = process.argv.slice(raw ? 3 : 2);
if (!dir || !(Number(partMiB) > 0) || urls.length === 0) {
  console.error('usage: node scripts/bench/get-floor.mjs [--raw] DIR PART_MIB URL...');
  process.exit(2);
}
const partBytes = Number(partMiB) * 1024 * 1024;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const get = (url, headers) => new Promise((resolve, reject) => http.get(url, { agent, headers }, resolve).on('error', reject));

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
        if (done) { socket.destroy(); resolve(); }
        return;
      }
      writing = true;
      fs.write(fh.fd, job.buf, 0, job.len, job.pos, (err, n) => {
        if (err || n !== job.len) return reject(err ?? new Error('short write'));
        pool.push(job.buf);
        writing = false;
        if (queue.length < 2 && socket.isPaused()) socket.resume();
        pump();
      });
    };
    const ship = () => {
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
      () => socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nRange: bytes=${start}-${end}\r\n\r\n`));
    socket.on('error', reject);
  });
}

async function object(url, i) {
  const head = await get(url, { range: 'bytes=0-0' });
  head.resume();
  const size = Number(/\/(\d+)$/.exec(head.headers['content-range'] ?? '')?.[1]);
  if (!(size > 0)) throw new Error(`${url}: no size in Content-Range`);
  const fh = await fs.promises.open(path.join(dir, String(i)), 'w');
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

fs.mkdirSync(dir, { recursive: true });
await Promise.all(urls.map(object));
agent.destroy();
const cpu = process.cpuUsage();
console.log(`user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
