#!/usr/bin/env node
/**
 * Node's own floor for the small-upload scenario (S1): the client CPU of 2,000 bare signed PUTs
 * (`http.request`, keep-alive, 16 in flight, each file read whole, MD5 for Content-MD5, SigV4 with
 * UNSIGNED-PAYLOAD as s3x signs), with no s3x code at all, to compare with `s3x upload`'s.
 * Usage: node scripts/bench/put-floor.mjs DIR ENDPOINT BUCKET PREFIX (credentials and region from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION). Prints user+sys CPU seconds of the
 * process (start-up included) and the wall time.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { encodePath, haveCredentials, sign } from './floor-sign.mjs';

const [dir, endpoint, bucket, prefix] = process.argv.slice(2);
if (!dir || !endpoint || !bucket || !prefix || !haveCredentials) {
  console.error('usage: node scripts/bench/put-floor.mjs DIR ENDPOINT BUCKET PREFIX (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
  process.exit(2);
}
const t0 = performance.now();
const url = new URL(endpoint);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function put(key, body) {
  const md5 = crypto.createHash('md5').update(body).digest('base64');
  const pathName = `/${bucket}/${encodePath(key)}`;
  const headers = sign('PUT', pathName, '', { 'content-length': String(body.length), 'content-md5': md5, host: url.host });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: pathName, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${key}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The tree's files, one directory's listing held at a time (S7 compares peak RSS with s3x's walk). */
function* walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) yield* walk(path.join(d, e.name));
    else if (e.isFile()) yield path.join(d, e.name);
  }
}
const files = walk(dir);
let count = 0;
async function worker() {
  for (let f = files.next(); !f.done; f = files.next()) {
    count++;
    await put(`${prefix}/${path.relative(dir, f.value)}`, fs.readFileSync(f.value));
  }
}
await Promise.all(Array.from({ length: 16 }, worker));
agent.destroy();
const cpu = process.cpuUsage();
console.log(`files ${count} cpu_s ${((cpu.user + cpu.system) / 1e6).toFixed(3)} wall_s ${((performance.now() - t0) / 1000).toFixed(3)}`);
