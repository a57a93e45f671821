/** printable(): the one escape of keys and paths in human-readable lines (src/cli/printable.ts). */
import { describe, expect, it } from 'vitest';
import { jsonSafe, printable } from '../../src/cli/printable.js';

describe('printable', () => {
  it.each([
    ['plain/key ünï 文件.txt', 'plain/key ünï 文件.txt'],
    ['\u001b[2J', '\\x1b[2J'],
    ['a\rb\nc\td', 'a\\rb\\nc\\td'],
    ['nul\u0000', 'nul\\x00'],
    ['del\u007f', 'del\\x7f'],
    ['c1\u0080\u009b\u009f', 'c1\\x80\\x9b\\x9f'],
    ['bidi\u202etxt.exe', 'bidi\\u202etxt.exe'],
    ['\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069', '\\u200e\\u200f\\u061c\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069'],
    ['line\u2028para\u2029', 'line\\u2028para\\u2029'],
    ['back\\slash', 'back\\slash'],
  ])('%j → %s', (raw, shown) => {
    expect(printable(raw)).toBe(shown);
  });

  it('leaves no control character of any code point', () => {
    for (let c = 0; c <= 0x2100; c++) {
      const out = printable(`x${String.fromCharCode(c)}y`);
      expect(out).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    }
  });
});

describe('jsonSafe', () => {
  it('escapes what JSON.stringify leaves raw, and the line still parses to the exact value', () => {
    const key = 'a\u202eb\u009bc\u007fd\u2028e\u200ff ünï';
    const line = JSON.stringify({ key });
    const safe = jsonSafe(`${line}\n`);
    expect(safe).toBe(`${JSON.stringify({ key }).replace('\u202e', '\\u202e').replace('\u009b', '\\u009b').replace('\u007f', '\\u007f').replace('\u2028', '\\u2028').replace('\u200f', '\\u200f')}\n`);
    expect((JSON.parse(safe) as { key: string }).key).toBe(key);
  });
});
