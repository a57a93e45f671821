/**
 * The one escape for text a terminal shows: every key, path and message a human-readable line
 * prints goes through `printable`, so a key cannot clear the screen (ESC sequences), rewrite or
 * hide a line (CR, LF), or reverse the text around it (bidi overrides). --json keeps exact keys.
 */

/** C0 controls, DEL, C1 controls, the bidi marks/embeddings/overrides/isolates, line/paragraph separators. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `a\x1b[2Jb` → `a\\x1b[2Jb`: controls as `\n` `\r` `\t` `\xHH` `\uHHHH`, everything else as is. */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/** Every unsafe character but the line end: in JSON text these only occur inside strings. */
const UNSAFE_IN_JSON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * An NDJSON line (--json, pino logs) with DEL, C1 and bidi characters as `\uHHHH` JSON escapes
 * (JSON.stringify leaves them raw): parsers read back the exact key, terminals see no control.
 */
export function jsonSafe(line: string): string {
  return line.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
