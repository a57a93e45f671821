/**
 * Proxies and certificates end to end (issue 13 item 6): a gateway behind a local TLS terminator
 * whose certificate a throwaway CA signed, reached with AWS_CA_BUNDLE, --ca-bundle or
 * NODE_EXTRA_CA_CERTS (and refused without them), and through a local forward proxy named by
 * HTTPS_PROXY (CONNECT) or HTTP_PROXY (absolute-form), on the signed path and the SDK path;
 * NO_PROXY keeps the proxy out; the proxy password never shows.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { makeTestCa, startTlsTerminator, type TestCa, type TlsTerminator } from '../support/tls-terminator.js';
import { makeBucket, makeTree, runCli, type CliResult, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const PASSWORD = 'pr0xy-s3cret-Zq7';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-proxy-tls-'));

let bucket: string;
let drop: () => Promise<void>;
let ca: TestCa;
let tlsGw: TlsTerminator;
let tree: string;
const files: Record<string, Buffer> = {
  'a.txt': Buffer.from('hello over tls\n'),
  'dir/b.bin': crypto.randomBytes(70_000),
  'big.bin': crypto.randomBytes(6 * MIB + 3), // multipart: 5 MiB parts
};
const ranged = ['--multipart-threshold', '5MiB', '--part-size', '5MiB'];

type Rec = Record<string, unknown> & { type: string };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
let runNo = 0;

/** upload, download into a fresh dir, ls: all through `endpoint` with `extraEnv`; every file byte-exact. */
async function roundTrip(endpoint: string, extraEnv: Record<string, string | undefined>, flags: string[] = []): Promise<CliResult[]> {
  const prefix = `rt${++runNo}`;
  const ep = ['--endpoint-url', endpoint, ...flags];
  const up = await runCli(env, ['upload', tree, bucket, prefix, ...ep, ...ranged, '--json'], { env: extraEnv });
  expect(up.code, up.stderr).toBe(0);
  expect(records(up.stdout).at(-1)).toMatchObject({ type: 'summary', files: 3, failed: [] });
  const dir = path.join(work, prefix);
  const down = await runCli(env, ['download', bucket, prefix, dir, ...ep, ...ranged, '--json'], { env: extraEnv });
  expect(down.code, down.stderr).toBe(0);
  for (const [rel, content] of Object.entries(files)) expect(md5(fs.readFileSync(path.join(dir, rel))), rel).toBe(md5(content));
  const ls = await runCli(env, ['ls', bucket, prefix, ...ep, '--recursive'], { env: extraEnv });
  expect(ls.code, ls.stderr).toBe(0);
  for (const rel of Object.keys(files)) expect(ls.stdout).toContain(rel);
  return [up, down, ls];
}

/** A profile with the test keys and a region in its files, and no AWS_REGION: the CLI then sends through the SDK. */
function sdkPathEnv(caBundle?: string): Record<string, string | undefined> {
  const dir = fs.mkdtempSync(path.join(work, 'aws-'));
  fs.writeFileSync(path.join(dir, 'credentials'), `[sdkp]\naws_access_key_id = ${env.accessKeyId}\naws_secret_access_key = ${env.secretAccessKey}\n`);
  fs.writeFileSync(path.join(dir, 'config'), `[profile sdkp]\nregion = ${env.region}\n${caBundle ? `ca_bundle = ${caBundle}\n` : ''}`);
  return {
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'), AWS_CONFIG_FILE: path.join(dir, 'config'),
    AWS_REGION: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined,
  };
}

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'proxytls'));
  ca = makeTestCa();
  tlsGw = await startTlsTerminator(ca, env.endpoints[0]!);
  tree = makeTree(files);
});

afterAll(async () => {
  await tlsGw?.close();
  ca?.remove();
  fs.rmSync(work, { recursive: true, force: true });
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
  await drop?.();
});

describe('a custom CA bundle', () => {
  it('AWS_CA_BUNDLE: upload, download and ls over https are byte-exact', async () => {
    await roundTrip(tlsGw.url, { AWS_CA_BUNDLE: ca.caFile });
  });

  it('--ca-bundle PATH does the same (and wins over a wrong AWS_CA_BUNDLE)', async () => {
    await roundTrip(tlsGw.url, { AWS_CA_BUNDLE: '/nonexistent/ca.pem' }, ['--ca-bundle', ca.caFile]);
  });

  it('NODE_EXTRA_CA_CERTS (read by Node at start-up) is trusted by our agents', async () => {
    await roundTrip(tlsGw.url, { NODE_EXTRA_CA_CERTS: ca.caFile });
  });

  it('the SDK path trusts the bundle too', async () => {
    await roundTrip(tlsGw.url, { ...sdkPathEnv(), AWS_CA_BUNDLE: ca.caFile }, ['--profile', 'sdkp']);
  });

  it('ca_bundle in the profile (as aws-cli reads ~/.aws/config)', async () => {
    await roundTrip(tlsGw.url, sdkPathEnv(ca.caFile), ['--profile', 'sdkp']);
  });

  it.each(['signed', 'sdk'] as const)('without the CA: one line naming the certificate problem, exit 2 (%s path)', async (via) => {
    const r = via === 'sdk'
      ? await runCli(env, ['upload', tree, bucket, 'noca', '--endpoint-url', tlsGw.url, '--profile', 'sdkp'], { env: sdkPathEnv() })
      : await runCli(env, ['upload', tree, bucket, 'noca', '--endpoint-url', tlsGw.url]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/certificate/i);
    expect(lines[0]).toMatch(/--ca-bundle|AWS_CA_BUNDLE/);
  });

  it('a missing or certificate-less bundle: one clear line, exit 2', async () => {
    const missing = await runCli(env, ['ls', bucket, '--endpoint-url', tlsGw.url, '--ca-bundle', path.join(work, 'nope.pem')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^[^\n]*--ca-bundle '.*nope\.pem' cannot be read \(ENOENT\)$/);
    const junk = path.join(work, 'junk.pem');
    fs.writeFileSync(junk, 'not a certificate\n');
    const empty = await runCli(env, ['ls', bucket, '--endpoint-url', tlsGw.url], { env: { AWS_CA_BUNDLE: junk } });
    expect(empty.code).toBe(2);
    expect(empty.stderr.trim()).toMatch(/^[^\n]*AWS_CA_BUNDLE '.*junk\.pem' holds no PEM certificate/);
  });

  it('--no-verify-ssl connects without the CA and prints one warning line', async () => {
    const r = await runCli(env, ['ls', bucket, '--endpoint-url', tlsGw.url, '--no-verify-ssl']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: --no-verify-ssl: TLS certificates are not verified/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('a forward proxy', () => {
  let proxy: ForwardProxy;
  beforeAll(async () => { proxy = await startForwardProxy({ auth: `s3x:${PASSWORD}` }); });
  afterAll(async () => { await proxy?.close(); });
  const authed = (): string => proxy.url.replace('http://', `http://s3x:${PASSWORD}@`);

  /** every TLS connection the terminator accepted since `from` came from one of the proxy's tunnels */
  function expectAllTunnelled(fromConn: number, fromTunnel: number): void {
    const peers = tlsGw.peerPorts.slice(fromConn);
    expect(peers.length).toBeGreaterThan(0);
    expect(proxy.connects - fromTunnel).toBe(peers.length);
    for (const p of peers) expect(proxy.upstreamPorts.slice(fromTunnel)).toContain(p);
  }

  it.each(['signed', 'sdk'] as const)('HTTPS_PROXY: every connection of the %s path goes through CONNECT tunnels', async (via) => {
    const [c0, t0] = [tlsGw.peerPorts.length, proxy.connects];
    const extra = via === 'sdk' ? sdkPathEnv() : {};
    const flags = via === 'sdk' ? ['--profile', 'sdkp'] : [];
    const results = await roundTrip(tlsGw.url, { ...extra, HTTPS_PROXY: authed(), AWS_CA_BUNDLE: ca.caFile }, flags);
    expectAllTunnelled(c0, t0);
    expect(proxy.targets.slice(-1)[0]).toBe(`127.0.0.1:${tlsGw.port}`);
    for (const r of results) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('lowercase https_proxy is read too', async () => {
    const [c0, t0] = [tlsGw.peerPorts.length, proxy.connects];
    const r = await runCli(env, ['ls', bucket, '--endpoint-url', tlsGw.url], { env: { https_proxy: authed(), AWS_CA_BUNDLE: ca.caFile } });
    expect(r.code, r.stderr).toBe(0);
    expectAllTunnelled(c0, t0);
  });

  it('NO_PROXY=127.0.0.1: the proxy sees nothing', async () => {
    const before = proxy.targets.length;
    await roundTrip(tlsGw.url, { HTTPS_PROXY: authed(), NO_PROXY: 'localhost,127.0.0.1', AWS_CA_BUNDLE: ca.caFile });
    expect(proxy.targets.length).toBe(before);
  });

  it.each(['signed', 'sdk'] as const)('HTTP_PROXY with an http endpoint: absolute-form requests through the proxy (%s path)', async (via) => {
    const before = proxy.forwarded;
    const beforeTargets = proxy.targets.length;
    const extra = via === 'sdk' ? sdkPathEnv() : {};
    const flags = via === 'sdk' ? ['--profile', 'sdkp'] : [];
    const [up] = await roundTrip(env.endpoints[0]!, { ...extra, HTTP_PROXY: authed() }, flags);
    const sent = records(up!.stdout).filter((r) => r.type === 'request').length;
    expect(sent).toBeGreaterThan(0);
    // the upload's requests, the preflights, the download and the ls: all forwarded
    expect(proxy.forwarded - before).toBeGreaterThan(sent);
    const host = new URL(env.endpoints[0]!).host;
    const mine = proxy.targets.slice(beforeTargets);
    expect(mine.at(-1)).toMatch(new RegExp(`^http://${host.replace(/\./g, '\\.')}/${bucket}`));
    // the SDK marks its requests with x-id=<Operation>; the signed path does not
    expect(mine.some((t) => t.includes('x-id=PutObject'))).toBe(via === 'sdk');
  });

  it('a wrong proxy password: one line naming the proxy, exit 2, and the password never shows', async () => {
    const wrong = proxy.url.replace('http://', 's3x:wrong-Pw-123@');
    const logFile = path.join(work, 'proxy.log');
    for (const [variable, url] of [['HTTPS_PROXY', tlsGw.url], ['HTTP_PROXY', env.endpoints[0]!]] as const) {
      const r = await runCli(env, ['upload', tree, bucket, 'wrongpw', '--endpoint-url', url, '--json', '--log-level', 'debug', '--log-file', logFile],
        { env: { [variable]: `http://${wrong}`, AWS_CA_BUNDLE: ca.caFile } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/proxy/i);
      for (const text of [r.stdout, r.stderr, fs.readFileSync(logFile, 'utf8')]) {
        expect(text).not.toContain('wrong-Pw-123');
        expect(text).not.toContain(Buffer.from('s3x:wrong-Pw-123').toString('base64'));
      }
    }
  });

  it('the proxy password never appears in output, --json or --log-file', async () => {
    const logFile = path.join(work, 'ok.log');
    const r = await runCli(env, ['upload', tree, bucket, 'pwcheck', '--endpoint-url', tlsGw.url, '--json', '--log-level', 'trace', '--log-file', logFile, '--stats'],
      { env: { HTTPS_PROXY: authed(), AWS_CA_BUNDLE: ca.caFile } });
    expect(r.code, r.stderr).toBe(0);
    for (const text of [r.stdout, r.stderr, fs.readFileSync(logFile, 'utf8')]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(Buffer.from(`s3x:${PASSWORD}`).toString('base64'));
    }
  });

  it('a proxy that does not answer: one line naming the proxy (not its password), exit 2', async () => {
    for (const [variable, url] of [['HTTPS_PROXY', tlsGw.url], ['HTTP_PROXY', env.endpoints[0]!]] as const) {
      const r = await runCli(env, ['ls', bucket, '--endpoint-url', url], { env: { [variable]: `http://s3x:${PASSWORD}@127.0.0.1:1`, AWS_CA_BUNDLE: ca.caFile } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/ECONNREFUSED.*proxy 127\.0\.0\.1:1\b/);
      expect(r.stderr).not.toContain(PASSWORD);
    }
  });

  it('a bad proxy URL: one line, exit 2, credentials hidden', async () => {
    const r = await runCli(env, ['ls', bucket, '--endpoint-url', tlsGw.url], { env: { HTTPS_PROXY: `socks5://s3x:${PASSWORD}@127.0.0.1:1080` } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/HTTPS_PROXY: only http:\/\/ proxies are supported/);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});
