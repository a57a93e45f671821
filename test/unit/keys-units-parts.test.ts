import { describe, expect, it } from 'vitest';
import { keyFor, normalizePrefix } from '../../src/fs/keys.js';
import { formatBytes, parseIntInRange, parseSizeBytes } from '../../src/config/units.js';
import { MAX_PARTS, MIB, planParts } from '../../src/config/multipart.js';
import { Limiter } from '../../src/engine/limiter.js';
import { contentTypeFor } from '../../src/ops/content-type.js';
import { normalizeEndpointUrl } from '../../src/config/endpoint-url.js';

describe('key mapping', () => {
  it.each([
    ['', 'a/b.txt', 'a/b.txt'],
    ['p', 'a/b.txt', 'p/a/b.txt'],
    ['p/', 'a/b.txt', 'p/a/b.txt'],
    ['/p//', 'a/b.txt', 'p/a/b.txt'],
    ['x/y', 'f', 'x/y/f'],
    ['p', 'sub\\win.txt', 'p/sub/win.txt'],
    ['p', './a//b', 'p/a/b'],
  ])('prefix %j + %j → %j', (prefix, rel, key) => {
    expect(keyFor(prefix, rel)).toBe(key);
  });
  it('normalizes the prefix', () => {
    expect(normalizePrefix(undefined)).toBe('');
    expect(normalizePrefix('//')).toBe('');
  });
});

describe('sizes', () => {
  it.each([
    ['1048576', 1048576], ['8MiB', 8 * MIB], ['8M', 8 * MIB], ['8mb', 8e6], ['1.5GiB', 1.5 * 1024 * MIB], ['5 MiB', 5 * MIB],
  ])('%s', (text, bytes) => expect(parseSizeBytes(text, '--x')).toBe(bytes));
  it('rejects junk with the flag name', () => {
    expect(() => parseSizeBytes('lots', '--part-size')).toThrow(/--part-size: 'lots' is not a size/);
    expect(() => parseIntInRange('0', '--concurrency', 1, 10)).toThrow(/--concurrency/);
    expect(() => parseIntInRange('3.5', '--concurrency', 1, 10)).toThrow(/whole number/);
  });
  it('formats', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * MIB)).toBe('200 MiB');
  });
});

describe('part planning', () => {
  it('keeps the part size when it fits in 10,000 parts', () => {
    expect(planParts(100 * MIB, 16 * MIB)).toEqual({ partSizeBytes: 16 * MIB, count: 7 });
    expect(planParts(0, 16 * MIB).count).toBe(1);
  });
  it('grows the part size in whole MiB so a huge file needs ≤ 10,000 parts', () => {
    const size = 1024 * 1024 * MIB; // 1 TiB
    const plan = planParts(size, 5 * MIB);
    expect(plan.count).toBeLessThanOrEqual(MAX_PARTS);
    expect(plan.partSizeBytes % MIB).toBe(0);
    expect(plan.partSizeBytes * plan.count).toBeGreaterThanOrEqual(size);
  });
});

describe('Limiter', () => {
  it('never runs more than its slots and serves the high lane first', async () => {
    const lim = new Limiter(2);
    let active = 0;
    let peak = 0;
    const order: string[] = [];
    const job = (name: string) => async () => {
      active++; peak = Math.max(peak, active); order.push(name);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    await Promise.all([
      lim.run(job('n1')), lim.run(job('n2')), lim.run(job('n3')), lim.run(job('n4')),
      lim.run(job('h1'), 'high'),
    ]);
    expect(peak).toBe(2);
    expect(order.slice(0, 3)).toEqual(['n1', 'n2', 'h1']);
    expect(lim.inUse).toBe(0);
  });
});

describe('misc', () => {
  it('content types', () => {
    expect(contentTypeFor('a/b/index.HTML')).toBe('text/html');
    expect(contentTypeFor('.bashrc')).toBe('application/octet-stream');
    expect(contentTypeFor('dir.d/noext')).toBe('application/octet-stream');
  });
  it('endpoint URLs', () => {
    expect(normalizeEndpointUrl('http://127.0.0.1:7480/')).toBe('http://127.0.0.1:7480');
    expect(() => normalizeEndpointUrl('ftp://127.0.0.1:7480')).toThrow(/only http/);
    expect(() => normalizeEndpointUrl('not a url')).toThrow(/is not a URL/);
    expect(() => normalizeEndpointUrl('127.0.0.1:7480')).toThrow(/is not a URL/);
    expect(() => normalizeEndpointUrl('http://k:s@host')).toThrow(/must not carry credentials/);
    // a URL that carries credentials never has them echoed, parseable or not
    for (const bad of ['http://k:SECRET1@ho st', 'ftp://k:SECRET1@host', 'http://k:SECRET1@host?x=1', 'SECRET1@host:1']) {
      expect(() => normalizeEndpointUrl(bad)).toThrow();
      try { normalizeEndpointUrl(bad); } catch (err) { expect((err as Error).message).not.toContain('SECRET1'); }
    }
  });
});
