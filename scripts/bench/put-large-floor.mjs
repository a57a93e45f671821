#!/usr/bin/env node
/**
 * Node's own floor for the large-upload scenario (S2): each file of DIR as a multipart upload of
 * PART_MIB parts (`http.request`, keep-alive, 16 parts in flight over all files), each part read
 * once into a buffer of its own, its MD5 sent as Content-MD5, SigV4 with UNSIGNED-PAYLOAD as s3x
 * signs; no s3x code at all, no retries, no deadlines: what Node alone spends on the same bytes.
 * Usage: node scripts/bench/put-large-floor.mjs DIR PART_MIB ENDPOINT BUCKET PREFIX (credentials
 * and region from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION). Prints user+sys CPU
 * seconds of the process (start-up included) and the wall time.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { encodePath, haveCredentials, sign } from './floor-sign.mjs';

const [dir, partMiB, endpoint, bucket, prefix] = process.argv.slice(2);
if (!dir || !(Number(partMiB) > 0) || !endpoint || !bucket || !prefix || !haveCredentials) {
  console.error('usage: node scripts/bench/put-large-floor.mjs DIR PART_MIB ENDPOINT BUCKET PREFIX (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
  process.exit(2);
}
const t0 = performance.now();
const partBytes = Number(partMiB) * 1024 * 1024;
const url = new URL(endpoint);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One signed request; resolves with the answer's body text and headers (a 200 only). */
function call(method, key, query, headers, body) {
  const pathName = `/${bucket}/${encodePath(key)}`;
  sign(method, pathName, query, Object.assign(headers, { host: url.host }));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: query ? `${pathName}?${query}` : pathName, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c) => { text += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve({ text, headers: res.headers }) : reject(new Error(`${method} ${key}: HTTP ${res.statusCode} ${text.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file of DIR with its key, size and multipart upload (created as its first part is due). */
const files = fs.readdirSync(dir, { recursive: true }).map((rel) => ({ file: path.join(dir, String(rel)), key: `${prefix}/${String(rel)}` }))
  .map((f) => ({ ...f, st: fs.statSync(f.file) })).filter((f) => f.st.isFile())
  .map(({ file, key, st }) => ({ file, key, bytes: st.size, uploadId: undefined, etags: [] }));
const jobs = files.flatMap((f) => Array.from({ length: Math.max(1, Math.ceil(f.bytes / partBytes)) }, (_, i) => ({ f, i })));

async function uploadIdOf(f) {
  f.uploadId ??= call('POST', f.key, 'uploads=', {}, undefined).then(({ text }) => /<UploadId>([^<]+)</.exec(text)[1]);
  return f.uploadId;
}

async function part({ f, i }) {
  const start = i * partBytes;
  const body = Buffer.allocUnsafe(Math.min(partBytes, f.bytes - start));
  const fd = fs.openSync(f.file, 'r');
  try {
    for (let got = 0; got < body.length;) got += fs.readSync(fd, body, got, body.length - got, start + got);
  } finally {
    fs.closeSync(fd);
  }
  const md5 = crypto.createHash('md5').update(body).digest('base64');
  const id = await uploadIdOf(f);
  const query = `partNumber=${i + 1}&uploadId=${encodeURIComponent(id)}`;
  const { headers } = await call('PUT', f.key, query, { 'content-length': String(body.length), 'content-md5': md5 }, body);
  f.etags[i] = headers.etag;
}

let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => { while (next < jobs.length) await part(jobs[next++]); }));
await Promise.all(files.map(async (f) => {
  const xml = `<CompleteMultipartUpload>${f.etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  await call('POST', f.key, `uploadId=${encodeURIComponent(await f.uploadId)}`, { 'content-length': String(Buffer.byteLength(xml)) }, xml);
}));
agent.destroy();
const cpu = process.cpuUsage();
console.log(`files ${files.length} cpu_s ${((cpu.user + cpu.system) / 1e6).toFixed(3)} wall_s ${((performance.now() - t0) / 1000).toFixed(3)}`);
