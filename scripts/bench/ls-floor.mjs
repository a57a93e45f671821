#!/usr/bin/env node
/**
 * Node's own floor for the start-up scenario (S0): an ES module that lists a prefix with bare
 * signed ListObjectsV2 pages (`http.get`, ./floor-sign.mjs) and prints one line per key, with no
 * s3x code, no option parsing and no checks. What `s3x ls` costs beyond it is s3x's own start-up.
 * Usage: node scripts/bench/ls-floor.mjs ENDPOINT BUCKET PREFIX (credentials and region from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION).
 */
import http from 'node:http';
import { haveCredentials, sign } from './floor-sign.mjs';

const [endpoint, bucket, prefix] = process.argv.slice(2);
if (!endpoint || !bucket || prefix === undefined || !haveCredentials) {
  console.error('usage: node scripts/bench/ls-floor.mjs ENDPOINT BUCKET PREFIX (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set)');
  process.exit(2);
}
const url = new URL(endpoint);
const q = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

for (let token; ;) {
  const query = [...(token ? [`continuation-token=${q(token)}`] : []), 'list-type=2', `prefix=${q(prefix)}`].join('&');
  const headers = sign('GET', `/${bucket}`, query, { host: url.host });
  const xml = await new Promise((resolve, reject) => {
    http.get({ host: url.hostname, port: url.port, path: `/${bucket}?${query}`, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`list: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
  for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>[\s\S]*?<Size>(\d+)<\/Size>/g)) console.log(`${m[2].padStart(12)} ${m[1]}`);
  token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]*)</.exec(xml)?.[1] : undefined;
  if (!token) break;
}
