/** config/network.ts: NO_PROXY as curl reads it, proxy URLs (credentials never shown), CA bundles. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { bypassesProxy, parseProxyUrl, profileCaBundle, proxyFor, resolveNetwork } from '../../src/config/network.js';
import { UsageError } from '../../src/errors.js';
import { decide, errorFacts } from '../../src/engine/retry-policy.js';
import { RequestFailed, type RequestReport } from '../../src/engine/request.js';
import type { Endpoint } from '../../src/endpoints/endpoint.js';
import { describeFatal } from '../../src/run/context.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-network-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const PEM = (n: number): string => `-----BEGIN CERTIFICATE-----\nMIIB${n}\n-----END CERTIFICATE-----\n`;

describe('bypassesProxy (NO_PROXY)', () => {
  it.each([
    ['*', 'anything.example', 443, true],
    ['example.com', 'example.com', 443, true],
    ['example.com', 'a.b.example.com', 443, true],
    ['example.com', 'badexample.com', 443, false],
    ['.example.com', 'a.example.com', 443, true],
    ['.example.com', 'example.com', 443, true],
    ['*.example.com', 'a.example.com', 443, true],
    ['EXAMPLE.com', 'a.Example.COM', 443, true],
    ['127.0.0.1', '127.0.0.1', 7480, true],
    ['127.0.0.1', '127.0.0.10', 7480, false],
    ['10.0.0.1', '127.0.0.1', 7480, false],
    ['localhost:7480', 'localhost', 7480, true],
    ['localhost:7480', 'localhost', 7481, false],
    ['foo, bar ,127.0.0.1', '127.0.0.1', 1, true],
    ['foo bar', 'bar', 1, true],
    ['::1', '[::1]', 443, true],
    ['[::1]:8443', '[::1]', 8443, true],
    ['[::1]:8443', '[::1]', 443, false],
    ['', '127.0.0.1', 80, false],
    ['example.com', 'localhost', 80, false], // localhost is not exempt unless listed
    ['example.com.', 'example.com', 443, true],
  ])('NO_PROXY=%j, host %s port %d → %s', (noProxy, host, port, expected) => {
    expect(bypassesProxy(host, port, noProxy)).toBe(expected);
  });
});

describe('parseProxyUrl', () => {
  it('takes user:password as Basic Proxy-Authorization, and shows only host:port', () => {
    const p = parseProxyUrl('http://me:p%40ss%3Aword@proxy.example:3128', 'HTTPS_PROXY');
    expect(p).toEqual({ host: 'proxy.example', port: 3128, label: 'proxy.example:3128', authorization: `Basic ${Buffer.from('me:p@ss:word').toString('base64')}` });
  });

  it('reads host:port without a scheme as http, port 80 by default', () => {
    expect(parseProxyUrl('proxy.example:8080', 'HTTP_PROXY')).toEqual({ host: 'proxy.example', port: 8080, label: 'proxy.example:8080' });
    expect(parseProxyUrl('http://proxy.example', 'HTTP_PROXY').port).toBe(80);
  });

  it('refuses other schemes and bad URLs in one line that never shows the password', () => {
    for (const text of ['https://u:sekrit@proxy:443', 'socks5://u:sekrit@proxy:1080', 'http://u:sekrit@[bad']) {
      let err: unknown;
      try { parseProxyUrl(text, 'HTTPS_PROXY'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/^HTTPS_PROXY/);
      expect((err as Error).message).not.toContain('sekrit');
    }
  });
});

describe('resolveNetwork', () => {
  it('reads the lowercase variable first, as curl does', () => {
    const n = resolveNetwork({}, { https_proxy: 'http://low:1', HTTPS_PROXY: 'http://up:2', HTTP_PROXY: 'http://up:3', no_proxy: 'a', NO_PROXY: 'b' });
    expect(n.httpsProxy?.host).toBe('low');
    expect(n.httpProxy?.host).toBe('up');
    expect(n.noProxy).toBe('a');
  });

  it('nothing set: no proxy, Node default roots, verification on', () => {
    const noConfig = { AWS_CONFIG_FILE: path.join(dir, 'no-config') };
    expect(resolveNetwork({}, noConfig)).toEqual({ noProxy: '', verifyTls: true });
    expect(resolveNetwork({ verifySsl: false }, noConfig).verifyTls).toBe(false);
  });

  it('proxyFor picks by the endpoint scheme and honours NO_PROXY with default ports', () => {
    const n = resolveNetwork({}, { HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://q:2', NO_PROXY: 'skip.example:443' });
    expect(proxyFor('https://s3.example', n)?.host).toBe('p');
    expect(proxyFor('http://s3.example:7480', n)?.host).toBe('q');
    expect(proxyFor('https://skip.example', n)).toBeUndefined();
    expect(proxyFor('http://skip.example', n)?.host).toBe('q');
  });

  it('a bundle adds its certificates to Node roots (and NODE_EXTRA_CA_CERTS, which Node drops once ca is given)', () => {
    const bundle = path.join(dir, 'bundle.pem');
    const extra = path.join(dir, 'extra.pem');
    fs.writeFileSync(bundle, `junk\n${PEM(1)}between\n${PEM(2)}`);
    fs.writeFileSync(extra, PEM(3));
    const n = resolveNetwork({}, { AWS_CA_BUNDLE: bundle, NODE_EXTRA_CA_CERTS: extra });
    expect(n.ca).toHaveLength(tls.rootCertificates.length + 3);
    expect(n.ca!.slice(0, tls.rootCertificates.length)).toEqual(tls.rootCertificates);
    expect(n.ca!.slice(-3).map((c) => c.match(/MIIB(\d)/)![1])).toEqual(['3', '1', '2']);
  });

  it('--ca-bundle wins over AWS_CA_BUNDLE; a missing or empty bundle is one UsageError line', () => {
    const good = path.join(dir, 'good.pem');
    fs.writeFileSync(good, PEM(7));
    expect(resolveNetwork({ caBundle: good }, { AWS_CA_BUNDLE: '/nonexistent.pem' }).ca?.at(-1)).toContain('MIIB7');
    expect(() => resolveNetwork({ caBundle: path.join(dir, 'none.pem') }, {})).toThrow(/^--ca-bundle '.*none\.pem' cannot be read \(ENOENT\)$/);
    const empty = path.join(dir, 'empty.pem');
    fs.writeFileSync(empty, 'nothing here');
    expect(() => resolveNetwork({}, { AWS_CA_BUNDLE: empty })).toThrow(UsageError);
    expect(() => resolveNetwork({}, { AWS_CA_BUNDLE: empty })).toThrow(/^AWS_CA_BUNDLE '.*empty\.pem' holds no PEM certificate/);
    expect(() => resolveNetwork({}, { AWS_CA_BUNDLE: dir })).toThrow(/cannot be read \(EISDIR\)/);
  });
});

describe('ca_bundle of a profile in the shared config file (as aws-cli reads it)', () => {
  const config = path.join(dir, 'aws-config');
  const pem = path.join(dir, 'profile-ca.pem');
  fs.writeFileSync(pem, PEM(5));
  fs.writeFileSync(config, `[default]\nregion = us-east-1\nca_bundle = ${pem}\n\n[profile corp]\nregion=eu-west-1\nca_bundle=~/corp.pem\n[profile  bare ]\nregion = x\n`);
  const env = { AWS_CONFIG_FILE: config };

  it('reads [default] and [profile NAME]; ~/ is the home directory; none without the key or the file', () => {
    expect(profileCaBundle('default', env)?.file).toBe(pem);
    expect(profileCaBundle('corp', env)?.file).toBe(path.join(os.homedir(), 'corp.pem'));
    expect(profileCaBundle('bare', env)).toBeUndefined();
    expect(profileCaBundle('missing', env)).toBeUndefined();
    expect(profileCaBundle('default', { AWS_CONFIG_FILE: path.join(dir, 'none') })).toBeUndefined();
  });

  it('comes after --ca-bundle and AWS_CA_BUNDLE; --profile, else AWS_PROFILE, else default picks it', () => {
    const other = path.join(dir, 'other.pem');
    fs.writeFileSync(other, PEM(6));
    expect(resolveNetwork({}, env).ca?.at(-1)).toContain('MIIB5');
    expect(resolveNetwork({}, { ...env, AWS_CA_BUNDLE: other }).ca?.at(-1)).toContain('MIIB6');
    expect(resolveNetwork({ caBundle: other }, env).ca?.at(-1)).toContain('MIIB6');
    expect(() => resolveNetwork({ profile: 'corp' }, env)).toThrow(/^ca_bundle of profile 'corp' in .*aws-config: '.*corp\.pem' cannot be read \(ENOENT\)$/);
    expect(() => resolveNetwork({}, { ...env, AWS_PROFILE: 'corp' })).toThrow(/profile 'corp'/);
    expect(resolveNetwork({ profile: 'bare' }, env).ca).toBeUndefined();
  });
});

describe('describeFatal: certificate and proxy failures in one line', () => {
  const node = (code: string, message: string): Error => Object.assign(new Error(message), { code });
  it.each([
    [node('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), /^TLS certificate of https:\/\/h:1 not trusted: self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\); pass --ca-bundle PATH or set AWS_CA_BUNDLE$/],
    [node('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), /^TLS certificate of https:\/\/h:1 not trusted: .*--ca-bundle/],
    [node('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), /^TLS certificate of https:\/\/h:1 does not name its host: /],
    [node('ProxyRefused', 'proxy p:3128: refused CONNECT h:1: HTTP/1.1 407 Proxy Authentication Required'), /^cannot reach https:\/\/h:1: proxy p:3128: refused CONNECT h:1: HTTP\/1\.1 407/],
    [Object.assign(new Error('HTTP407'), { code: 'HTTP407', $metadata: { httpStatusCode: 407 } }), /^the proxy refused the request to https:\/\/h:1: HTTP 407 Proxy Authentication Required/],
  ])('%s', (err, expected) => {
    expect(describeFatal(err, 'b', 'https://h:1')).toMatch(expected);
    expect(decide(errorFacts(err))).toBe('fatal');
  });

  it('says the same of the error as the engine hands it over (RequestFailed keeps the HTTP status)', () => {
    const failed = (err: Error): RequestFailed => new RequestFailed(errorFacts(err), 'fatal', { op: 'ListObjectsV2', key: 'b' } as RequestReport, {} as Endpoint);
    const s3 = (code: string, status: number): Error => Object.assign(new Error(code), { name: code, $metadata: { httpStatusCode: status } });
    expect(describeFatal(failed(s3('AccessDenied', 403)), 'b', 'https://h:1')).toBe('https://h:1 refused the request: AccessDenied (HTTP 403)');
    expect(describeFatal(failed(s3('HTTP407', 407)), 'b', 'https://h:1')).toMatch(/^the proxy refused the request to https:\/\/h:1: HTTP 407/);
    expect(describeFatal(failed(s3('NoSuchBucket', 404)), 'b', 'https://h:1')).toBe("bucket 'b' does not exist at https://h:1");
    expect(describeFatal(failed(node('ECONNREFUSED', 'connect ECONNREFUSED')), 'b', 'https://h:1')).toBe('cannot reach https://h:1: ECONNREFUSED (connect ECONNREFUSED)');
  });
});
