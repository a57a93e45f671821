/**
 * One PutObject (src/ops/put-object.ts putFile) against a fake store that answers the body's MD5
 * as its ETag: a buffered file from 1 MiB is read and hashed once off the main thread
 * (src/fs/read-hash.ts) and that very buffer is the body, its MD5 the Content-MD5; a smaller one
 * is read here; a file shorter than walked is FileChanged and nothing is sent.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import type { PutObjectInput, PutOutput } from '../../src/endpoints/store.js';
import { Limiter } from '../../src/engine/limiter.js';
import { RequestEngine } from '../../src/engine/request.js';
import { readHashPool, type HashedRange } from '../../src/fs/read-hash.js';
import type { FileEntry } from '../../src/fs/walk.js';
import { silentLogger } from '../../src/logger.js';
import { putFile } from '../../src/ops/put-object.js';
import type { SendContext } from '../../src/ops/stored-object.js';
import { FakeStore } from '../support/fake-store.js';

const MIB = 1024 * 1024;
const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();

/** Answers PutObject with the MD5 of the body it got, as a store does. */
class Md5Store extends FakeStore {
  override async putObject(p: unknown, signal: AbortSignal): Promise<PutOutput> {
    await super.putObject(p, signal);
    const { body } = p as PutObjectInput;
    if (!Buffer.isBuffer(body)) throw new Error('expected a buffered body');
    return { etag: `"${md5(body).toString('hex')}"` };
  }
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-put-object-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function file(name: string, bytes: Buffer): FileEntry {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  const st = fs.statSync(p);
  return { path: p, rel: name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

function setup(store: FakeStore): SendContext {
  const ep = new Endpoint({
    name: store.name, url: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: DEFAULT_ESTIMATOR }, silentLogger, store);
  const pool = new EndpointPool([ep], { mode: 'pool', strategy: 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const retry: RetryConfig = { retries: 3, backoffBaseMs: 1, backoffCapMs: 5 };
  return {
    engine: new RequestEngine(pool, retry, new AbortController().signal, silentLogger),
    cleanup: new RequestEngine(pool, { ...retry, retries: 2 }, new AbortController().signal, silentLogger),
    slots: new Limiter(8), bucket: 'b', logger: silentLogger, verify: false,
  };
}

const puts = (store: FakeStore): PutObjectInput[] => store.calls.filter((c) => c.op === 'putObject').map((c) => c.input as PutObjectInput);

describe('putFile', () => {
  it('a buffered file of 1 MiB or more is read and hashed once off the main thread: that buffer is the body, its MD5 the Content-MD5', async () => {
    const read = vi.spyOn(readHashPool, 'readAndHash');
    cleanups.push(() => read.mockRestore());
    const bytes = crypto.randomBytes(2 * MIB + 5);
    const f = file('two-mib.bin', bytes);
    const store = new Md5Store();
    await putFile(setup(store), f, 'k/two-mib.bin', undefined, 16 * MIB);

    expect(read.mock.calls).toEqual([[f.path, 0, f.size]]);
    const returned = await (read.mock.results[0]!.value as Promise<HashedRange>);
    const [sent] = puts(store);
    expect(sent!.body).toBe(returned.body);
    expect((sent!.body as Buffer).equals(bytes)).toBe(true);
    expect(sent!.contentMd5).toBe(md5(bytes).toString('base64'));
  });

  it('a smaller buffered file is read here, with its Content-MD5', async () => {
    const read = vi.spyOn(readHashPool, 'readAndHash');
    cleanups.push(() => read.mockRestore());
    const bytes = crypto.randomBytes(300 * 1024);
    const store = new Md5Store();
    await putFile(setup(store), file('small.bin', bytes), 'k/small.bin', undefined, 16 * MIB);
    expect(read).not.toHaveBeenCalled();
    const [sent] = puts(store);
    expect((sent!.body as Buffer).equals(bytes)).toBe(true);
    expect(sent!.contentMd5).toBe(md5(bytes).toString('base64'));
  });

  it('a file shorter than walked when read off the main thread: FileChanged, nothing sent', async () => {
    const f = file('shrank.bin', crypto.randomBytes(2 * MIB));
    const store = new Md5Store();
    const err = await putFile(setup(store), { ...f, size: f.size + 10 }, 'k/shrank.bin', undefined, 16 * MIB).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FileChanged' });
    expect(puts(store)).toHaveLength(0);
  });
});
