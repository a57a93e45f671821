/**
 * HTTP/1.1 on the wire, for the two clients that write their own requests over node:net
 * (./raw-get.ts, ./lean-http.ts): the request head with node:http's checks, the response head
 * parsed as node:http gives it, and what both say on a short body. Pure, no I/O.
 */
import type http from 'node:http';

/** Error bodies are read up to this many bytes. */
export const MAX_ERROR_BODY = 64 * 1024;

/** The connection closed before the end of a body: retried as a dropped connection. */
export const prematureClose = (): Error => Object.assign(new Error('aborted: the connection closed before the end of the body'), { code: 'ECONNRESET' });

/** node:http's checks of what goes into a request head (no CR/LF smuggled into it). */
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BAD_PATH = /[^\u0021-\u00ff]/;

/** The request head as written on the socket; throws as node:http does on a character it refuses. */
export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  if (BAD_PATH.test(path)) throw Object.assign(new TypeError('Request path contains unescaped characters'), { code: 'ERR_UNESCAPED_CHARACTERS' });
  let out = `${method} ${path} HTTP/1.1\r\n`;
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    if (!TOKEN.test(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    if (BAD_VALUE.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
    out += `${name}: ${value}\r\n`;
  }
  return `${out}\r\n`;
}

/** A parsed response head: status and lowercase headers (repeated ones joined with ", " as node:http does). */
export interface ResponseHead {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** Parses a response head's text (without the blank line after it); undefined when it is not HTTP/1.x. Pure. */
export function parseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(m[1]), headers };
}
