/** printable(): the one escape of keys and paths in human-readable lines (src/cli/printable.ts). */
import { describe, expect, it } from 'vitest';
import { printable } from '../../src/cli/printable.js';

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
