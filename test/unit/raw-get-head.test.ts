/** endpoints/raw-get.ts parseHead: a response head as node:http would give it (status, lowercase headers, repeats joined). */
import { describe, expect, it } from 'vitest';
import { parseHead } from '../../src/endpoints/raw-get.js';

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
