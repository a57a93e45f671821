#!/usr/bin/env node
/**
 * Node's own floor for the small-download scenario (S6s): list a prefix (ListObjectsV2 pages),
 * then GET every object with bare signed `http.get` (keep-alive, 16 in flight) and write it with
 * `fs.promises.writeFile` under DIR, each directory made once; no s3x code at all. It does less
 * than `s3x download` (no temporary file and rename, no MD5 check, no mtime, no path checks), so
 * s3x ÷ this is what s3x's safety and bookkeeping cost over Node's http and fs.
 * Usage: node scripts/bench/small-get-floor.mjs ENDPOINT BUCKET PREFIX DIR (credentials and
 * region from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { encodePath, haveCredentials, listQuery, nextToken, sign, xmlText } from './floor-sign.mjs';

const [endpoint, bucket, prefix, dir] = process.argv.slice(2);
if (!endpoint || !bucket || !prefix || !dir || !haveCredentials) {
  console.error('usage: node scripts/bench/small-get-floor.mjs ENDPOINT BUCKET PREFIX DIR (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
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
const made = new Map();
const mkdir = (d) => { let p = made.get(d); if (!p) made.set(d, (p = fs.promises.mkdir(d, { recursive: true }))); return p; };
let next = 0;
async function worker() {
  while (next < keys.length) {
    const key = keys[next++];
    const file = path.join(dir, key.slice(prefix.length + 1));
    const [data] = await Promise.all([get(`/${bucket}/${encodePath(key)}`, ''), mkdir(path.dirname(file))]);
    await fs.promises.writeFile(file, data);
  }
}
await Promise.all(Array.from({ length: 16 }, worker));
agent.destroy();
console.log(`objects ${keys.length}`);
