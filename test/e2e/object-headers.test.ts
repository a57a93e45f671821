/**
 * Object headers on upload and sync (issue 13 item 2) against the real gateways: every flag and
 * the config file's per-pattern rules read back with HEAD, on single PUTs and multipart uploads,
 * over the signed path (the CLI's default for a custom endpoint) and the SDK path (a --profile
 * without a region; and S3Store over each client); SSE-C uploaded and downloaded byte-exact with
 * its key never in any output; SSE-KMS (RGW's testing backend: the gateway needs the settings
 * scripts/ceph-rgw.sh writes, or S3X_TEST_KMS_ENDPOINT naming one that has them); bad values
 * refused with exit 2 before any request.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetObjectAclCommand, HeadObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SseCustomerKey } from '../../src/config/object-headers.js';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { S3Store, type ObjectStore } from '../../src/endpoints/store.js';
import { silentLogger } from '../../src/logger.js';
import { client, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const KMS_ENDPOINT = process.env.S3X_TEST_KMS_ENDPOINT ?? env.endpoints[0]!;
const KMS_KEY_ID = 's3x-test-key';
const SSEC_RAW = 'k3y-for-SSE-C-tests-32-bytes-ok!';
const SSEC_B64 = Buffer.from(SSEC_RAW).toString('base64');
const ssecSdk = {
  SSECustomerAlgorithm: 'AES256', SSECustomerKey: SSEC_B64, SSECustomerKeyMD5: crypto.createHash('md5').update(SSEC_RAW).digest('base64'),
};
const multipart = ['--multipart-threshold', '5MiB', '--part-size', '5MiB'];

let bucket: string;
let drop: () => Promise<void>;
let work: string;
const files: Record<string, Buffer> = {
  'index.html': Buffer.from('<h1>home</h1>'),
  'docs/guide.html': Buffer.from('<p>guide</p>'),
  'docs/deep/page.html': Buffer.from('<p>deep</p>'),
  'assets/app.css': Buffer.from('body{}'),
  'assets/video.bin': crypto.randomBytes(11 * MIB + 7), // 3 parts
  'data.json': Buffer.from('{}'),
};
let tree: string;

beforeAll(async () => {
  expect(SSEC_RAW.length).toBe(32);
  ({ bucket, drop } = await makeBucket(env, 'hdr'));
  tree = makeTree(files);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-hdr-'));
});

afterAll(async () => {
  await drop?.();
  for (const d of [tree, work]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

async function head(key: string, extra: Record<string, string> = {}, endpoint?: string): Promise<HeadObjectCommandOutput> {
  const s3 = client(env, endpoint);
  try {
    return await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  } finally {
    s3.destroy();
  }
}

/** A config file with these rules and the first gateway. */
function config(name: string, headers: unknown, url = env.endpoints[0]!): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, JSON.stringify({ endpoints: [{ url }], headers }));
  return file;
}

/** The SDK path from the CLI: a profile without a region (src/endpoints/endpoint.ts makes no signed client then). */
function sdkProfileEnv(): Record<string, string | undefined> {
  const creds = path.join(work, 'credentials');
  const conf = path.join(work, 'config');
  fs.writeFileSync(creds, `[hdr]\naws_access_key_id = ${env.accessKeyId}\naws_secret_access_key = ${env.secretAccessKey}\n`);
  fs.writeFileSync(conf, `[profile hdr]\nregion = ${env.region}\n`);
  return { AWS_SHARED_CREDENTIALS_FILE: creds, AWS_CONFIG_FILE: conf, AWS_REGION: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
}

const transports = [
  { name: 'signed path', args: [] as string[], env: (): Record<string, string | undefined> => ({}) },
  { name: 'SDK path', args: ['--profile', 'hdr'], env: sdkProfileEnv },
];

describe.each(transports)('upload and sync set object headers over the $name', (t) => {
  const prefix = t.name.startsWith('SDK') ? 'sdk' : 'signed';

  it('flags on every object, config rules per file (first match wins), single PUTs and multipart', async () => {
    const rules = config(`rules-${prefix}.json`, [
      { match: 'docs/*.html', cacheControl: 'max-age=60', contentType: 'text/html; charset=utf-8' },
      { match: '*.html', cacheControl: 'no-cache', metadata: { kind: 'page' } },
      { match: 'assets/**', cacheControl: 'max-age=31536000, immutable', metadata: { kind: 'asset' } },
    ]);
    const r = await runCli(env, [
      'upload', tree, bucket, `${prefix}/up`, '--config', rules, ...t.args, ...multipart, '--no-progress',
      '--cache-control', 'max-age=300', '--content-disposition', 'inline', '--content-encoding', 'identity', '--expires', '2027-01-01',
      '--metadata', 'build=42,Team=web', '--metadata', '{"note":"a, b"}', '--storage-class', 'STANDARD', '--acl', 'public-read',
    ], { env: t.env() });
    expect(r.code, r.stderr).toBe(0);
    const key = (rel: string): string => `${prefix}/up/${rel}`;
    const common = { ContentDisposition: 'inline', ContentEncoding: 'identity', ExpiresString: 'Fri, 01 Jan 2027 00:00:00 GMT' };
    const cases: Array<[string, string, string, Record<string, string>]> = [
      ['index.html', 'text/html', 'no-cache', { kind: 'page' }],
      ['docs/guide.html', 'text/html; charset=utf-8', 'max-age=60', {}],
      ['docs/deep/page.html', 'text/html', 'no-cache', { kind: 'page' }], // docs/*.html is one level only
      ['assets/app.css', 'text/css', 'max-age=31536000, immutable', { kind: 'asset' }],
      ['assets/video.bin', 'application/octet-stream', 'max-age=31536000, immutable', { kind: 'asset' }],
      ['data.json', 'application/json', 'max-age=300', {}],
    ];
    for (const [rel, contentType, cacheControl, meta] of cases) {
      const h = await head(key(rel));
      expect(h, rel).toMatchObject({ ...common, ContentType: contentType, CacheControl: cacheControl });
      expect(h.Metadata, rel).toEqual({ build: '42', team: 'web', note: 'a, b', ...meta, 's3x-mtime': expect.stringMatching(/^\d+$/) });
      expect(h.ETag!.endsWith('-3"'), rel).toBe(rel === 'assets/video.bin');
    }
    const s3 = client(env);
    try {
      for (const rel of ['data.json', 'assets/video.bin']) {
        const acl = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: key(rel) }));
        expect(acl.Grants, rel).toContainEqual({ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' });
      }
    } finally {
      s3.destroy();
    }
  });

  it('--content-type replaces the extension guess; sync sends its headers too', async () => {
    const r = await runCli(env, [
      'sync', tree, `s3://${bucket}/${prefix}/sync`, '--endpoint-url', env.endpoints[0]!, ...t.args, ...multipart, '--no-progress',
      '--content-type', 'application/x-s3x', '--metadata', 'via=sync',
    ], { env: t.env() });
    expect(r.code, r.stderr).toBe(0);
    for (const rel of ['index.html', 'assets/video.bin']) {
      const h = await head(`${prefix}/sync/${rel}`);
      expect(h.ContentType, rel).toBe('application/x-s3x');
      expect(h.Metadata, rel).toMatchObject({ via: 'sync', 's3x-mtime': String(Math.round(fs.statSync(path.join(tree, rel)).mtimeMs)) });
    }
  });

  it('SSE-C: uploaded (with --verify) and downloaded byte-exact with the key, refused without it', async () => {
    const keyFile = path.join(work, 'ssec.key');
    fs.writeFileSync(keyFile, SSEC_RAW);
    const up = await runCli(env, [
      'upload', tree, bucket, `${prefix}/ssec`, '--endpoint-url', env.endpoints[0]!, ...t.args, ...multipart, '--no-progress', '--verify',
      '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`,
    ], { env: t.env() });
    expect(up.code, up.stderr).toBe(0);
    const h = await head(`${prefix}/ssec/assets/video.bin`, ssecSdk);
    expect(h.SSECustomerAlgorithm).toBe('AES256');
    await expect(head(`${prefix}/ssec/index.html`)).rejects.toThrow();

    const out = path.join(work, `out-${prefix}`);
    const down = await runCli(env, [
      'download', bucket, `${prefix}/ssec`, out, '--endpoint-url', env.endpoints[0]!, ...t.args, ...multipart, '--no-progress',
      '--sse-c', '--sse-c-key', SSEC_B64,
    ], { env: t.env() });
    expect(down.code, down.stderr).toBe(0);
    for (const [rel, content] of Object.entries(files)) expect(fs.readFileSync(path.join(out, rel)).equals(content), rel).toBe(true);

    const without = await runCli(env, ['download', bucket, `${prefix}/ssec`, `${out}-nokey`, '--endpoint-url', env.endpoints[0]!, ...t.args, '--no-progress'], { env: t.env() });
    expect(without.code).toBe(1);
    expect(fs.existsSync(path.join(`${out}-nokey`, 'index.html'))).toBe(false);
  });
});

describe('S3Store sends the headers over each client', () => {
  let ep: Endpoint;
  const stores: Record<string, ObjectStore> = {};
  const signal = new AbortController().signal;
  const sseC = new SseCustomerKey(Buffer.from(SSEC_RAW));

  beforeAll(() => {
    ep = new Endpoint({
      name: 'rgw', url: env.endpoints[0]!, region: env.region, accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey,
      pathStyle: true, weight: 1, breaker: { threshold: 5, cooldownMs: 1000 },
    }, { maxConcurrent: 4, estimator: DEFAULT_ESTIMATOR }, silentLogger);
    expect(ep.http).toBeDefined();
    stores.signed = ep.store;
    stores.sdk = new S3Store({ sdkClient: () => ep.sdkClient(), http: undefined });
  });
  afterAll(() => ep?.destroy());

  it.each(['signed', 'sdk'])('%s: PutObject and an SSE-C multipart upload, read back with the key', async (name) => {
    const store = stores[name]!;
    const body = Buffer.from('headers');
    await store.putObject({
      bucket, key: `store-${name}/put`, body, contentLength: body.length, contentType: 'text/plain',
      metadata: { a: '1' }, headers: { cacheControl: 'no-store', contentDisposition: 'attachment', expires: 'Fri, 01 Jan 2027 00:00:00 GMT', storageClass: 'STANDARD', acl: 'private' },
    }, signal);
    expect(await head(`store-${name}/put`)).toMatchObject({ ContentType: 'text/plain', CacheControl: 'no-store', ContentDisposition: 'attachment', Metadata: { a: '1' } });

    const key = `store-${name}/mpu`;
    const parts = [crypto.randomBytes(5 * MIB), crypto.randomBytes(1000)];
    const { uploadId } = await store.createMultipartUpload({ bucket, key, contentType: 'application/x-mpu', metadata: { b: '2' }, headers: { cacheControl: 'max-age=1', sseC } }, signal);
    const sent = [];
    for (const [i, p] of parts.entries()) {
      const r = await store.uploadPart({ bucket, key, uploadId: uploadId!, partNumber: i + 1, body: p, contentLength: p.length, sseC }, signal);
      sent.push({ partNumber: i + 1, etag: r.etag! });
    }
    await store.completeMultipartUpload({ bucket, key, uploadId: uploadId!, parts: sent, sseC }, signal);
    expect(await store.headObject({ bucket, key, sseC }, signal)).toMatchObject({ contentLength: 5 * MIB + 1000, metadata: { b: '2' }, sseCustomerAlgorithm: 'AES256' });
    expect(await head(key, ssecSdk)).toMatchObject({ ContentType: 'application/x-mpu', CacheControl: 'max-age=1' });
    const got = await store.getObject({ bucket, key, range: { start: 5 * MIB - 10, end: 5 * MIB + 9 }, sseC }, signal);
    const chunks: Buffer[] = [];
    for await (const c of got.body) chunks.push(Buffer.from(c));
    expect(Buffer.concat(chunks).equals(Buffer.concat(parts).subarray(5 * MIB - 10, 5 * MIB + 10))).toBe(true);
    await expect(store.headObject({ bucket, key }, signal)).rejects.toThrow();
  });
});

describe('SSE-KMS and SSE-S3', () => {
  it('--sse aws:kms --sse-kms-key-id: stored encrypted under that key (single PUT and multipart), checked by --verify, downloaded byte-exact', async () => {
    const args = ['--endpoint-url', KMS_ENDPOINT, ...multipart, '--no-progress'];
    const up = await runCli(env, ['upload', tree, bucket, 'kms', ...args, '--verify', '--sse', 'aws:kms', '--sse-kms-key-id', KMS_KEY_ID]);
    const why = 'SSE-KMS needs a gateway started with the settings scripts/ceph-rgw.sh writes (rgw crypt s3 kms backend = testing, its key s3x-test-key): restart the gateways, or name one in S3X_TEST_KMS_ENDPOINT';
    expect(up.code, `${up.stderr}\n${why}`).toBe(0);
    for (const rel of ['data.json', 'assets/video.bin']) {
      expect(await head(`kms/${rel}`, {}, KMS_ENDPOINT), rel).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: KMS_KEY_ID });
    }
    const out = path.join(work, 'out-kms');
    const down = await runCli(env, ['download', bucket, 'kms', out, ...args]);
    expect(down.code, down.stderr).toBe(0);
    for (const [rel, content] of Object.entries(files)) expect(fs.readFileSync(path.join(out, rel)).equals(content), rel).toBe(true);
  });

  it('--sse (AES256) is sent; Ceph 16 accepts it (and stores the object unencrypted)', async () => {
    const up = await runCli(env, ['upload', tree, bucket, 'sse-s3', '--endpoint-url', env.endpoints[0]!, '--no-progress', '--sse', '--include', '*.json']);
    expect(up.code, up.stderr).toBe(0);
    expect((await head('sse-s3/data.json')).ContentLength).toBe(2);
  });
});

describe('the SSE-C key is never printed or logged', () => {
  it('not in stdout, stderr or the log file: dry-run, --json, trace logs, a failed download, a bad key', async () => {
    const forms = [SSEC_RAW, SSEC_B64, Buffer.from(SSEC_RAW).toString('hex'), SSEC_B64.replace(/=+$/, '')];
    const logFile = path.join(work, 'secret.log');
    const runs = [
      ['upload', tree, bucket, 'leak', '--dry-run', '--json', '--log-level', 'trace', '--sse-c', '--sse-c-key', SSEC_RAW],
      ['upload', tree, bucket, 'leak', '--dry-run', '--log-level', 'trace', '--sse-c', '--sse-c-key', SSEC_B64],
      ['upload', tree, bucket, 'leak', '--json', '--table', '--stats', '--log-level', 'trace', ...multipart, '--verify', '--sse-c', '--sse-c-key', SSEC_RAW],
      ['upload', tree, bucket, 'leak', '--log-level', 'trace', '--log-file', logFile, '--sse-c', '--sse-c-key', SSEC_B64, '--include', '*.json'],
      ['sync', tree, `s3://${bucket}/leak`, '--json', '--log-level', 'trace', '--sse-c', '--sse-c-key', SSEC_RAW, '--checksum'],
      ['download', bucket, 'leak', path.join(work, 'leak-out'), '--json', '--table', '--log-level', 'trace', '--sse-c', '--sse-c-key', SSEC_RAW],
      // the wrong key for these objects: the server refuses every GET
      ['download', bucket, 'signed/ssec', path.join(work, 'leak-wrong'), '--json', '--log-level', 'trace', '--sse-c', '--sse-c-key', SSEC_RAW.split('').reverse().join('')],
      // SSE-C with --sse: refused before anything is sent
      ['upload', tree, bucket, 'leak', '--sse', '--sse-c', '--sse-c-key', SSEC_RAW],
      ['upload', tree, bucket, 'leak', '--sse-c', 'AES128', '--sse-c-key', SSEC_RAW],
      ['upload', tree, bucket, 'leak', '--sse-c', '--sse-c-key', `${SSEC_RAW}x`],
      ['upload', tree, bucket, 'leak', '--sse-c', '--sse-c-key', SSEC_RAW.slice(1)],
      // the SDK path (a profile without a region): an upload, and a download with the wrong key
      ['upload', tree, bucket, 'leak-sdk', '--profile', 'hdr', '--json', '--log-level', 'trace', ...multipart, '--sse-c', '--sse-c-key', SSEC_RAW],
      ['download', bucket, 'leak-sdk', path.join(work, 'leak-sdk'), '--profile', 'hdr', '--json', '--log-level', 'trace', '--sse-c', '--sse-c-key', SSEC_RAW.toUpperCase()],
    ];
    const codes: Array<number | null> = [];
    let all = '';
    for (const args of runs) {
      const r = await runCli(env, [...args, '--endpoint-url', env.endpoints[0]!, '--no-progress'], { env: args.includes('--profile') ? sdkProfileEnv() : {} });
      codes.push(r.code);
      all += r.stdout + r.stderr;
    }
    all += fs.readFileSync(logFile, 'utf8');
    expect(codes).toEqual([0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 0, 1]);
    expect(all).toContain('"type":"request"'); // the outputs were there to be searched
    expect(all).toContain('"level":20'); // debug lines (one per uploaded file) were written
    const upper = Buffer.from(SSEC_RAW.toUpperCase());
    forms.push(SSEC_RAW.toUpperCase(), upper.toString('base64'), upper.toString('hex'));
    for (const form of forms) expect(all.includes(form), `the key (${form.length} characters) appeared in an output`).toBe(false);
  });
});

describe('bad values are refused with exit 2 before anything is sent', () => {
  let server: net.Server;
  let connections = 0;
  let url: string;

  beforeAll(async () => {
    server = net.createServer((s) => { connections++; s.destroy(); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    [['--storage-class', 'COLD'], /^s3x: error: --storage-class must be one of STANDARD, REDUCED_REDUNDANCY,.* got "COLD"$/],
    [['--acl', 'world'], /--acl must be one of private, public-read,/],
    [['--sse', 'aws:kms:dsse'], /--sse must be one of AES256, aws:kms/],
    [['--sse-kms-key-id', 'k'], /--sse-kms-key-id needs --sse aws:kms/],
    [['--expires', 'next week'], /--expires must be an HTTP date/],
    [['--metadata', 's3x-mtime=0'], /'s3x-mtime' is s3x's own/],
    [['--metadata', 'bad key=1'], /not a valid header name/],
    [['--metadata', 'k=v\u00e9'], /printable ASCII/],
    [['--cache-control', 'a\nb'], /--cache-control must be non-empty printable ASCII/],
    [['--sse-c', '--sse-c-key', 'short'], /--sse-c-key must be 32 bytes/],
    [['--sse-c-key', SSEC_RAW], /--sse-c-key needs --sse-c AES256/],
    [['--sse-c'], /--sse-c needs --sse-c-key/],
  ])('%j', async (flags, why) => {
    for (const cmd of ['upload', 'sync'] as const) {
      for (const dry of [[], ['--dry-run']]) {
        const r = await runCli(env, [cmd, tree, bucket, 'never', '--endpoint-url', url, '--no-progress', ...flags, ...dry]);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr.trim()).toMatch(why);
        expect(r.stdout).toBe('');
      }
    }
    expect(connections).toBe(0);
  });

  it('a bad "headers" rule in the config file: one line naming the file and the rule, exit 2', async () => {
    const file = config('bad-rules.json', [{ match: '*.html', cacheControl: 'no-cache' }, { match: 'assets/**', storageClass: 'COLD' }], url);
    for (const dry of [[], ['--dry-run']]) {
      const r = await runCli(env, ['upload', tree, bucket, 'never', '--config', file, '--no-progress', ...dry]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`s3x: error: --config ${file}: headers[1].storageClass must be one of STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, GLACIER_IR, got "COLD"`);
    }
    const download = await runCli(env, ['download', bucket, 'never', path.join(work, 'never'), '--endpoint-url', url, '--sse-c', '--sse-c-key', 'short', '--no-progress']);
    expect(download.code).toBe(2);
    expect(download.stderr).toMatch(/--sse-c-key must be 32 bytes/);
    expect(connections).toBe(0);
  });
});
