/**
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (the AWS SDKs' endpoint variables) in
 * src/config/pool-config.ts: used when neither --endpoint-url nor a pool names an endpoint; the
 * S3-specific one wins over the general one; the flag and the pool win over both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envEndpointUrl, resolvePoolSpec } from '../../src/config/pool-config.js';

const urls = (flags: Parameters<typeof resolvePoolSpec>[0], env: NodeJS.ProcessEnv): Array<string | undefined> =>
  resolvePoolSpec(flags, env).endpoints.map((e) => e.url);

describe('AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL', () => {
  it('names the endpoint when nothing else does; the S3 one wins over the general one', () => {
    expect(urls({}, {})).toEqual([undefined]);
    expect(urls({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:7481/' })).toEqual(['http://127.0.0.1:7481']);
    expect(urls({}, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480' })).toEqual(['http://127.0.0.1:7480']);
    expect(urls({}, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480', AWS_ENDPOINT_URL: 'http://127.0.0.1:7481' })).toEqual(['http://127.0.0.1:7480']);
    expect(resolvePoolSpec({}, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480' }).endpoints[0]).toMatchObject({ name: '127.0.0.1:7480', pathStyle: true });
  });

  it('--endpoint-url wins, and a bad variable is then not even read', () => {
    const env = { AWS_ENDPOINT_URL_S3: 'not a url', AWS_ENDPOINT_URL: 'ftp://x' };
    expect(urls({ endpointUrls: ['http://127.0.0.1:7482'] }, env)).toEqual(['http://127.0.0.1:7482']);
  });

  it('a pool (config file or S3X_ENDPOINT_<i>_URL) wins', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-envep-'));
    const file = path.join(dir, 'pool.json');
    fs.writeFileSync(file, JSON.stringify({ endpoints: [{ url: 'http://127.0.0.1:1' }] }));
    try {
      expect(urls({ configFile: file }, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480' })).toEqual(['http://127.0.0.1:1']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(urls({}, { S3X_ENDPOINT_1_URL: 'http://127.0.0.1:2', AWS_ENDPOINT_URL: 'http://127.0.0.1:7480' })).toEqual(['http://127.0.0.1:2']);
  });

  it('a bad URL names the variable, never its credentials', () => {
    expect(() => resolvePoolSpec({}, { AWS_ENDPOINT_URL_S3: 'nope' })).toThrow(/^AWS_ENDPOINT_URL_S3 'nope' is not a URL/);
    expect(() => resolvePoolSpec({}, { AWS_ENDPOINT_URL: 'ftp://h' })).toThrow(/^AWS_ENDPOINT_URL 'ftp:\/\/h': only http:\/\/ and https:\/\//);
    try {
      resolvePoolSpec({}, { AWS_ENDPOINT_URL: 'http://user:TOPSECRET@h' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('TOPSECRET');
    }
  });

  it('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns them off, as in the SDKs', () => {
    expect(envEndpointUrl({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBeUndefined();
    expect(envEndpointUrl({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'false' })?.url).toBe('http://127.0.0.1:7480');
    expect(envEndpointUrl({ AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: 'http://127.0.0.1:7481' })).toEqual({ variable: 'AWS_ENDPOINT_URL', url: 'http://127.0.0.1:7481' });
  });
});
