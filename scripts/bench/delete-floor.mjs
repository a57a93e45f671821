#!/usr/bin/env node
/**
 * Node's own floor for the delete scenario (S5): every key under PREFIX listed with bare signed
 * ListObjectsV2 pages and deleted with bare DeleteObjects (Quiet, Content-MD5) of 100 keys, 16 in
 * flight, the deletes of a page going out while the next page is read, as `s3x delete-prefix`
 * splits a page of 1,000 (src/ops/delete.ts MIN_SPLIT_BATCH). No s3x code, no retries, no report:
 * what s3x costs beyond it is its own; what the floor costs is Node's and the gateway's.
 * Usage: node scripts/bench/delete-floor.mjs ENDPOINT BUCKET PREFIX (credentials and region from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION). Exits 1 if a key was not deleted.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { haveCredentials, listQuery, nextToken, sign, xmlText } from './floor-sign.mjs';

const [endpoint, bucket, prefix] = process.argv.slice(2);
if (!endpoint || !bucket || !prefix || !haveCredentials) {
  console.error('usage: node scripts/bench/delete-floor.mjs ENDPOINT BUCKET PREFIX (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
  process.exit(2);
}
const url = new URL(endpoint);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const KEYS_PER_REQUEST = 100;
const IN_FLIGHT = 16;

/** One signed request; resolves with the answer's body (status 200 only). */
function request(method, query, body) {
  const headers = { host: url.host };
  if (body !== undefined) Object.assign(headers, { 'content-md5': crypto.createHash('md5').update(body).digest('base64'), 'content-length': String(Buffer.byteLength(body)) });
  sign(method, `/${bucket}`, query, headers);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: `/${bucket}?${query}`, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ?${query}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const escapeXml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const queue = [];
let listed = false;
let failed = 0;
/** deleters waiting for the next page's batches */
const waiters = [];
const wakeAll = () => { for (const w of waiters.splice(0)) w(); };

async function deleter() {
  for (;;) {
    const keys = queue.shift();
    if (!keys) {
      if (listed) return;
      await new Promise((r) => waiters.push(r));
      continue;
    }
    const xml = `<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`;
    const answer = await request('POST', 'delete=', xml);
    failed += (answer.match(/<Error>/g) ?? []).length;
  }
}

const workers = Array.from({ length: IN_FLIGHT }, deleter);
for (let token; ;) {
  const xml = await request('GET', listQuery(prefix.endsWith('/') ? prefix : `${prefix}/`, token));
  const keys = [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => xmlText(m[1]));
  for (let i = 0; i < keys.length; i += KEYS_PER_REQUEST) queue.push(keys.slice(i, i + KEYS_PER_REQUEST));
  token = nextToken(xml);
  if (!token) listed = true;
  wakeAll();
  if (listed) break;
}
await Promise.all(workers);
agent.destroy();
if (failed > 0) {
  console.error(`${failed} keys not deleted`);
  process.exit(1);
}
