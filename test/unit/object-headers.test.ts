/**
 * Object headers (src/config/object-headers.ts, src/config/header-rules.ts): every flag value
 * checked as aws-cli users type it, the SSE-C key never shown, the config rules first match
 * wins with a rule's field over the flag's, and s3x's own s3x-mtime never replaced.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkObjectHeaders, parseExpires, parseMetadataFlags, SseCustomerKey, sseCustomerKeyFrom,
} from '../../src/config/object-headers.js';
import { headersPlan, parseHeaderRules, headerRulesOf } from '../../src/config/header-rules.js';
import { resolvePoolSpec } from '../../src/config/pool-config.js';
import { addStoredHeaders, sdkStoredHeaders } from '../../src/endpoints/object-header-wire.js';
import { objectFields } from '../../src/ops/stored-object.js';
import { UsageError } from '../../src/errors.js';
import type { FileEntry } from '../../src/fs/walk.js';

const fileAt = (rel: string, mtimeMs = 1_700_000_000_123): FileEntry => ({ rel, path: `/x/${rel}`, size: 1, mtimeMs, ctimeMs: mtimeMs, ino: 1, dev: 1 }) as FileEntry;

describe('--expires', () => {
  it('takes an HTTP date, an ISO date or an ISO time, and sends an HTTP date', () => {
    expect(parseExpires('Wed, 21 Oct 2026 07:28:00 GMT')).toBe('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(parseExpires('2026-10-21')).toBe('Wed, 21 Oct 2026 00:00:00 GMT');
    expect(parseExpires('2026-10-21T07:28:00Z')).toBe('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(parseExpires('2026-10-21T09:28:00+02:00')).toBe('Wed, 21 Oct 2026 07:28:00 GMT');
  });
  it.each(['tomorrow', '2026-02-30', '2026-13-01', '21/10/2026', '2026-02-30T10:00:00Z', '2026-10-21T25:00:00Z', '', 'Thu, 21 Oct 2026 07:28:00 GMT', '1e12'])('refuses %j', (text) => {
    expect(() => parseExpires(text)).toThrow(UsageError);
  });
});

describe('--metadata', () => {
  it('takes k=v, k=v,k2=v2 and JSON, repeated; keys lower-cased', () => {
    expect(parseMetadataFlags(['Build=42', 'team=web,env=ci', '{"note":"a, b"}'])).toEqual({ build: '42', team: 'web', env: 'ci', note: 'a, b' });
    expect(parseMetadataFlags(['empty='])).toEqual({ empty: '' });
  });
  it.each([
    ['s3x-mtime=1', /s3x's own/], ['S3X-Mtime=1', /s3x's own/], ['a b=1', /not a valid header name/], ['=1', /expected key=value/],
    ['novalue', /expected key=value/], ['k=caf\u00e9', /printable ASCII/], ['k=a\nb', /printable ASCII/], ['k=1,K=2', /given twice/],
    ['{"k":1}', /must be a string/], ['{bad', /not valid JSON/], [`k=${'x'.repeat(2100)}`, /at most 2048/],
  ])('refuses %j', (text, why) => {
    expect(() => parseMetadataFlags([text])).toThrow(why);
  });
  it('a key that passes is a header name Node accepts (property)', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 20 }), (k) => {
      let ok = true;
      try { parseMetadataFlags([`${k.replace(/[=,]/g, '')}=v`]); } catch { ok = false; }
      if (ok) expect(() => http.validateHeaderName(`x-amz-meta-${k.replace(/[=,]/g, '')}`)).not.toThrow();
    }), { seed: 13, numRuns: 500 });
  });
});

describe('SSE-C key', () => {
  const raw = 'abcdefghijklmnopqrstuvwxyz012345';
  const md5 = crypto.createHash('md5').update(raw).digest('base64');

  it('is taken as given (32 bytes), as base64, or from fileb://', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-ssec-'));
    fs.writeFileSync(path.join(dir, 'k.bin'), raw);
    for (const text of [raw, Buffer.from(raw).toString('base64'), `fileb://${path.join(dir, 'k.bin')}`]) {
      const k = sseCustomerKeyFrom(text);
      expect(k.revealBase64()).toBe(Buffer.from(raw).toString('base64'));
      expect(k.keyMd5Base64).toBe(md5);
    }
    fs.rmSync(dir, { recursive: true });
  });

  it('is never shown: JSON, inspect, String, errors', () => {
    const k = sseCustomerKeyFrom(raw);
    const shown = [JSON.stringify({ k }), inspect(k), inspect({ k }, { showHidden: true, depth: 5 }), String(k), `${k}`];
    for (const s of shown) {
      expect(s).not.toContain(raw);
      expect(s).not.toContain(Buffer.from(raw).toString('base64'));
    }
    for (const bad of [raw.slice(1), `${raw}x`, Buffer.from(raw.slice(1)).toString('base64'), 'fileb:///nonexistent/key']) {
      let message = '';
      try { sseCustomerKeyFrom(bad); } catch (err) { message = (err as Error).message; }
      expect(message).toMatch(/--sse-c-key/);
      expect(message).not.toContain(bad.replace('fileb://', 'x'));
      if (!bad.startsWith('fileb://')) expect(message).not.toContain(bad);
    }
  });
});

describe('checkObjectHeaders', () => {
  it.each([
    [{ storageClass: 'COLD' }, /--storage-class must be one of STANDARD,/],
    [{ acl: 'public' }, /--acl must be one of private,/],
    [{ sse: 'aes256' }, /--sse must be one of AES256, aws:kms/],
    [{ sseKmsKeyId: 'k' }, /--sse-kms-key-id needs --sse aws:kms/],
    [{ sse: 'AES256', sseC: new SseCustomerKey(Buffer.alloc(32)) }, /--sse and --sse-c cannot be used together/],
    [{ cacheControl: 'a\r\nx-amz-acl: public-read' }, /--cache-control must be non-empty printable ASCII/],
    [{ contentType: '' }, /--content-type must be non-empty/],
  ])('refuses %o', (h, why) => {
    expect(() => checkObjectHeaders(h)).toThrow(why);
  });

  it('sends each as its S3 header (signed path) and SDK field', () => {
    const h = checkObjectHeaders({
      cacheControl: 'no-cache', contentEncoding: 'gzip', contentDisposition: 'attachment', expires: '2027-01-01', storageClass: 'STANDARD_IA',
      acl: 'public-read', sse: 'aws:kms', sseKmsKeyId: 'key-1',
    });
    const wire: Record<string, string> = {};
    addStoredHeaders(wire, h);
    expect(wire).toEqual({
      'cache-control': 'no-cache', 'content-encoding': 'gzip', 'content-disposition': 'attachment', expires: 'Fri, 01 Jan 2027 00:00:00 GMT',
      'x-amz-storage-class': 'STANDARD_IA', 'x-amz-acl': 'public-read', 'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': 'key-1',
    });
    expect(sdkStoredHeaders(h)).toEqual({
      CacheControl: 'no-cache', ContentEncoding: 'gzip', ContentDisposition: 'attachment', Expires: new Date('2027-01-01T00:00:00Z'),
      StorageClass: 'STANDARD_IA', ACL: 'public-read', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'key-1',
    });
    const withKey: Record<string, string> = {};
    addStoredHeaders(withKey, { sseC: new SseCustomerKey(Buffer.alloc(32, 7)) });
    expect(withKey).toEqual({
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': Buffer.alloc(32, 7).toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': crypto.createHash('md5').update(Buffer.alloc(32, 7)).digest('base64'),
    });
  });
});

describe('config "headers" rules', () => {
  const rules = parseHeaderRules([
    { match: 'docs/*.html', cacheControl: 'max-age=60', contentType: 'text/html; charset=utf-8' },
    { match: '*.html', cacheControl: 'no-cache', metadata: { kind: 'page' } },
    { match: 'assets/**', cacheControl: 'max-age=31536000, immutable' },
    { match: 'node_modules/', acl: 'private' },
  ], '--config site.json');

  it('first match wins; a rule field replaces the flag, metadata merged key by key', () => {
    const plan = headersPlan({ cacheControl: 'max-age=300', metadata: { build: '42', kind: 'file' } }, rules);
    expect(plan('docs/a.html')).toMatchObject({ cacheControl: 'max-age=60', contentType: 'text/html; charset=utf-8', metadata: { build: '42', kind: 'file' } });
    expect(plan('index.html')).toMatchObject({ cacheControl: 'no-cache', metadata: { build: '42', kind: 'page' } });
    expect(plan('deep/down/b.html').cacheControl).toBe('no-cache');
    expect(plan('assets/x/app.css').cacheControl).toBe('max-age=31536000, immutable');
    expect(plan('assets.css').cacheControl).toBe('max-age=300');
    expect(plan('a/node_modules/m.js').acl).toBe('private');
    expect(plan('other.bin')).toEqual({ cacheControl: 'max-age=300', metadata: { build: '42', kind: 'file' } });
  });

  it('objectFields: Content-Type falls back to the extension; s3x-mtime is always the file\'s', () => {
    const plan = headersPlan({ metadata: { build: '42' } }, rules);
    expect(objectFields({ headersFor: plan }, fileAt('docs/a.html'))).toMatchObject({ contentType: 'text/html; charset=utf-8', metadata: { build: '42', 's3x-mtime': '1700000000123' } });
    expect(objectFields({ headersFor: plan }, fileAt('x.css')).contentType).toBe('text/css');
    expect(objectFields({ headersFor: headersPlan({ contentType: 'text/plain' }, rules) }, fileAt('x.css')).contentType).toBe('text/plain');
    // even a headersFor that was never checked cannot replace s3x's mtime
    expect(objectFields({ headersFor: () => ({ metadata: { 's3x-mtime': '1', a: 'b' } }) }, fileAt('x')).metadata).toEqual({ a: 'b', 's3x-mtime': '1700000000123' });
    expect(objectFields({}, fileAt('x.css'))).toEqual({ contentType: 'text/css', metadata: { 's3x-mtime': '1700000000123' }, headers: undefined, sseC: undefined });
  });

  it('a rule may not set s3x-mtime either (property: whatever metadata, the mtime stored is the file\'s)', () => {
    expect(() => parseHeaderRules([{ match: '*', metadata: { 'S3X-MTIME': '1' } }], 'c')).toThrow(/s3x's own/);
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z0-9-]{1,12}$/), fc.stringMatching(/^[ -~]{0,10}$/)), fc.integer({ min: 0, max: 2 ** 41 }), (meta, mtimeMs) => {
      let plan;
      try { plan = headersPlan({ metadata: meta }, []); } catch (err) { expect(Object.keys(meta).map((k) => k.toLowerCase())).toContain('s3x-mtime'); expect(err).toBeInstanceOf(UsageError); return; }
      expect(objectFields({ headersFor: plan }, fileAt('f', mtimeMs)).metadata['s3x-mtime']).toBe(String(mtimeMs));
    }), { seed: 13, numRuns: 300 });
  });

  it.each([
    [{ headers: { match: '*' } }, /headers: must be a list/],
    [{ headers: [{ cacheControl: 'x' }] }, /headers\[0\]\.match: must be a non-empty glob/],
    [{ headers: [{ match: '*.html' }] }, /headers\[0\]: sets no header/],
    [{ headers: [{ match: '*.html', cachecontrol: 'x' }] }, /headers\[0\]\."cachecontrol": unknown field/],
    [{ headers: [{ match: '*', storageClass: 'COLD' }] }, /headers\[0\]\.storageClass must be one of/],
    [{ headers: [{ match: '*', expires: 'soon' }] }, /headers\[0\]\.expires must be an HTTP date/],
    [{ headers: [{ match: '*', metadata: { a: 1 } }] }, /headers\[0\]\.metadata: must be an object of strings/],
    [{ headers: [{ match: '*', sse: 'AES256' }] }, /unknown field/],
  ])('refused at load with one line naming the file and the field: %j', (config, why) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-rules-'));
    const file = path.join(dir, 'site.json');
    fs.writeFileSync(file, JSON.stringify({ endpoints: [{ url: 'http://127.0.0.1:1' }], ...config }));
    expect(() => resolvePoolSpec({ configFile: file }, {})).not.toThrow();
    let message = '';
    try { headerRulesOf(file, {}); } catch (err) { expect(err).toBeInstanceOf(UsageError); message = (err as Error).message; }
    expect(message).toMatch(why);
    expect(message.startsWith(`--config ${file}: headers`)).toBe(true);
    expect(message).not.toContain('\n');
    fs.rmSync(dir, { recursive: true });
  });
});
