/**
 * Config errors never echo a secret: every error from the pool config file is one line naming the
 * file, the field and what is wrong, with no credential value and no raw source text (V8's
 * JSON.parse messages quote the text around the error).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvePoolSpec } from '../../src/config/pool-config.js';
import { UsageError } from '../../src/errors.js';

const SECRET = 'SUPERSECRET123';
const KEY_ID = 'AKIDSECRETID987';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-config-secrets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
function errorOf(text: string): string {
  const file = path.join(dir, `c${n++}.json`);
  fs.writeFileSync(file, text);
  try {
    resolvePoolSpec({ configFile: file }, {});
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${text}`);
}

function expectClean(message: string): void {
  expect(message).not.toContain(SECRET);
  expect(message).not.toContain('SUPERSECRE'); // V8 cuts quoted source at the edges
  expect(message).not.toContain(KEY_ID);
  expect(message).not.toMatch(/[\n\r]/);
  expect(message).toMatch(/^--config .*[cp]\d+\.json: /);
}

const valid = { endpoints: [{ url: 'http://127.0.0.1:7480', accessKeyId: KEY_ID, secretAccessKey: SECRET }] };

describe('config errors never print a secret', () => {
  it.each([
    ['a top-level array', JSON.stringify([valid]), /\(top level\): must be an object, got an array/],
    ['a top-level string', JSON.stringify(SECRET), /\(top level\): must be an object, got a string/],
    ['a bare word next to the secret', `{"endpoints":[{"accessKeyId":"${KEY_ID}","secretAccessKey": ${SECRET}}]}`, /not valid JSON at line 1, column \d+/],
    ['a trailing comma after the secret', `{"endpoints":[{"secretAccessKey": "${SECRET}",}]}`, /not valid JSON at line 1, column \d+/],
    ['a missing comma after the secret', `{\n  "endpoints": [{\n    "secretAccessKey": "${SECRET}"\n    "accessKeyId": "${KEY_ID}"}]}`, /not valid JSON at line 4, column 5/],
    ['a control character inside the secret', `{"endpoints":[{"secretAccessKey": "SUPER\u0001SECRET123"}]}`, /not valid JSON at line 1, column \d+/],
    ['the file cut short after the secret', `{"endpoints":[{"secretAccessKey": "${SECRET}"`, /not valid JSON at line 1, column \d+/],
    ['the secret as a number-like word', `{"endpoints":[{"secretAccessKey": -${SECRET}}]}`, /not valid JSON/],
    ['a wrong type for the secret field', JSON.stringify({ endpoints: [{ accessKeyId: KEY_ID, secretAccessKey: [SECRET] }] }), /endpoints\[0\]\.secretAccessKey: must be a non-empty string, got \(hidden\)/],
    ['a wrong type for the key id field', JSON.stringify({ endpoints: [{ accessKeyId: { k: KEY_ID }, secretAccessKey: SECRET }] }), /endpoints\[0\]\.accessKeyId: must be a non-empty string, got \(hidden\)/],
    ['an endpoint that is an array', JSON.stringify({ endpoints: [[KEY_ID, SECRET]] }), /endpoints\[0\]: must be an object, got an array/],
    ['endpoints that is an object', JSON.stringify({ endpoints: { secretAccessKey: SECRET } }), /endpoints: must be a list/],
    ['breaker holding the secret', JSON.stringify({ endpoints: [{ breaker: [SECRET] }] }), /endpoints\[0\]\.breaker: must be an object, got an array/],
    ['a number field holding an object', JSON.stringify({ endpoints: [{ retries: { secretAccessKey: SECRET } }] }), /endpoints\[0\]\.retries: must be a whole number from 0 to 100, got an object/],
    ['mode holding an object', JSON.stringify({ mode: { secretAccessKey: SECRET } }), /mode: must be one of pool, replicate, fallback, got an object/],
    ['bucketMap target holding an object', JSON.stringify({ endpoints: [{ name: 'a' }], bucketMap: { 'x*': { s: SECRET } } }), /bucketMap\["x\*"\]: must name an endpoint \(a\), got an object/],
    ['sharedStorage holding the secret', JSON.stringify({ sharedStorage: SECRET }), /sharedStorage: must be true or false, got a string/],
  ])('%s', (_name, text, want) => {
    const message = errorOf(text);
    expectClean(message);
    expect(message).toMatch(want);
  });

  it('property: any mutation of a valid config holding a secret gives a clean one-line error (or a valid spec)', () => {
    const base = JSON.stringify(valid, null, 2);
    // text mutations: cut, insert a character, delete a character, wrap the secret in a container
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: base.length }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: base.length }), ch: fc.constantFrom(...'{}[],:"\\ \u0001\nx0-') }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: base.length - 1 }) }),
      fc.record({ kind: fc.constant('wrap' as const), field: fc.constantFrom('secretAccessKey', 'accessKeyId', 'sessionToken', 'region', 'retries', 'breaker', 'name', 'url', 'pathStyle', 'weight', 'profile'), how: fc.constantFrom('array', 'object', 'number', 'bare') }),
    );
    const apply = (m: { kind: string; at?: number; ch?: string; field?: string; how?: string }): string => {
      if (m.kind === 'cut') return base.slice(0, m.at);
      if (m.kind === 'insert') return base.slice(0, m.at) + m.ch + base.slice(m.at);
      if (m.kind === 'delete') return base.slice(0, m.at) + base.slice(m.at! + 1);
      const ep: Record<string, unknown> = { ...valid.endpoints[0] };
      const wrapped = { array: [SECRET], object: { v: SECRET }, number: SECRET, bare: SECRET }[m.how as 'array'];
      if (m.how === 'bare') return JSON.stringify({ endpoints: [ep] }).replace(`"${m.field}"`, `"${m.field}":${SECRET},"x"`);
      ep[m.field!] = m.how === 'number' ? Number.NaN : wrapped;
      return JSON.stringify({ endpoints: [ep] }).replace('null', `-${SECRET}`);
    };
    fc.assert(fc.property(mutation, (m) => {
      const text = apply(m);
      const file = path.join(dir, `p${n++}.json`);
      fs.writeFileSync(file, text);
      let message: string | undefined;
      try {
        resolvePoolSpec({ configFile: file }, {});
      } catch (err) {
        message = (err as Error).message;
      }
      if (message === undefined) return; // the mutation left a valid config
      expectClean(message);
    }), { seed: 20261201, numRuns: 400, interruptAfterTimeLimit: 20_000, verbose: true });
  });
});
