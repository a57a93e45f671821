/**
 * endpoints/http-wire.ts: parseHead reads a response head as node:http would give it (status,
 * lowercase headers, repeats joined); requestHead refuses what node:http refuses in a request head.
 */
import { describe, expect, it } from 'vitest';
import { parseHead, requestHead } from '../../src/endpoints/http-wire.js';

describe('parseHead', () => {
  it('reads the status and lowercases header names; repeated headers are joined with ", "', () => {
    expect(parseHead('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nETag: "abc"\r\nX-Amz-Meta-A: 1\r\nx-amz-meta-a: 2')).toEqual({
      status: 206, headers: { 'content-length': '10', etag: '"abc"', 'x-amz-meta-a': '1, 2' },
    });
    expect(parseHead('HTTP/1.0 404')).toEqual({ status: 404, headers: {} });
    expect(parseHead('HTTP/1.1 200 OK\r\nEmpty:')).toEqual({ status: 200, headers: { empty: '' } });
  });

  it('refuses what is not an HTTP/1.x head', () => {
    expect(parseHead('HTTP/2 200')).toBeUndefined();
    expect(parseHead('SSH-2.0-OpenSSH')).toBeUndefined();
    expect(parseHead('HTTP/1.1 200 OK\r\nno colon here')).toBeUndefined();
    expect(parseHead('HTTP/1.1 20 OK')).toBeUndefined();
  });
});

describe('requestHead', () => {
  it('writes the request line and the headers in order, then the blank line', () => {
    expect(requestHead('GET', '/b/k?x=1', { host: 'h:1', connection: 'close' })).toBe('GET /b/k?x=1 HTTP/1.1\r\nhost: h:1\r\nconnection: close\r\n\r\n');
  });

  it('refuses CR/LF or other control characters in a value, a name that is no token, and a path with spaces or controls', () => {
    expect(() => requestHead('GET', '/k', { 'x-amz-meta-a': 'v\r\nx-injected: 1' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CHAR' }));
    expect(() => requestHead('GET', '/k', { 'x-amz-meta-a': 'v\u0000' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CHAR' }));
    expect(() => requestHead('GET', '/k', { 'bad name': 'v' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HTTP_TOKEN' }));
    expect(() => requestHead('GET', '/a b', {})).toThrow(expect.objectContaining({ code: 'ERR_UNESCAPED_CHARACTERS' }));
    expect(() => requestHead('GET', '/a\r\nb', {})).toThrow(expect.objectContaining({ code: 'ERR_UNESCAPED_CHARACTERS' }));
  });
});
