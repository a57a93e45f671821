#!/usr/bin/env node
/**
 * Node's own floor for the start-up scenario (S0): an ES module that lists a prefix with bare
 * signed ListObjectsV2 pages (`http.get`, ./floor-sign.mjs) and prints one line per key, with no
 * s3x code, no option parsing and no checks. What `s3x ls` costs beyond it is s3x's own start-up.
 * Usage: node scripts/bench/ls-floor.mjs ENDPOINT BUCKET PREFIX (credentials and region from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION).
 */
import http from 'node:http';
import { haveCredentials, listQuery, nextToken, sign, xmlText } from './floor-sign.mjs';

const [endpoint, bucket, prefix] = process.argv.slice(2);
if (!endpoint || !bucket || prefix === undefined || !haveCredentials) {
  console.error('usage: node scripts/bench/ls-floor.mjs ENDPOINT BUCKET PREFIX (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
  process.exit(2);
}
const url = new URL(endpoint);

for (let token; ;) {
  const query = listQuery(prefix, token);
  const headers = sign('GET', `/${bucket}`, query, { host: url.host });
  const xml = await new Promise((resolve, reject) => {
    http.get({ host: url.hostname, port: url.port, path: `/${bucket}?${query}`, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`list: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
  for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>[\s\S]*?<Size>(\d+)<\/Size>/g)) console.log(`${m[2].padStart(12)} ${xmlText(m[1])}`);
  token = nextToken(xml);
  if (!token) break;
}
