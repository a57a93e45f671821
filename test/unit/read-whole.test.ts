/** readWhole (ops/download.ts): a small GET's body into one buffer, by the stream's events or by iteration. */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readWhole } from '../../src/ops/drain-to.js';

const tooMuch = (): Error => Object.assign(new Error('too much'), { code: 'ObjectChanged' });

describe('readWhole', () => {
  it('joins the chunks of a node stream (strings too) into one buffer', async () => {
    const body = Readable.from([Buffer.from('ab'), 'cd', Buffer.from('e')], { objectMode: false });
    await expect(readWhole(body, 10, tooMuch)).resolves.toEqual(Buffer.from('abcde'));
  });

  it('an empty body is an empty buffer; one chunk is returned as it came', async () => {
    await expect(readWhole(Readable.from([]), 10, tooMuch)).resolves.toEqual(Buffer.alloc(0));
    const one = Buffer.from('only');
    expect(await readWhole(Readable.from([one]), 10, tooMuch)).toBe(one);
  });

  it('rejects with tooMuch() as soon as more than maxBytes arrive', async () => {
    const body = new PassThrough();
    const got = readWhole(body, 4, tooMuch);
    body.write(Buffer.from('abc'));
    body.write(Buffer.from('de'));
    await expect(got).rejects.toMatchObject({ code: 'ObjectChanged' });
    body.destroy();
  });

  it('rejects with the stream\'s error (an abort destroys the body with its reason)', async () => {
    const body = new PassThrough();
    const got = readWhole(body, 100, tooMuch);
    body.write('ab');
    const reason = Object.assign(new Error('deadline'), { code: 'DeadlineExceeded' });
    body.destroy(reason);
    await expect(got).rejects.toBe(reason);
  });

  it('rejects when the body closes before its end, or was destroyed / failed before reading', async () => {
    const cut = new PassThrough();
    const got = readWhole(cut, 100, tooMuch);
    cut.write('ab');
    cut.destroy();
    await expect(got).rejects.toMatchObject({ code: 'ECONNRESET' });
    const gone = new PassThrough();
    gone.destroy();
    await expect(readWhole(gone, 100, tooMuch)).rejects.toMatchObject({ code: 'ECONNRESET' });
    const failed = new PassThrough();
    failed.on('error', () => {});
    const boom = new Error('boom');
    failed.destroy(boom);
    await expect(readWhole(failed, 100, tooMuch)).rejects.toBe(boom);
  });

  it('a body that is only async-iterable (e.g. a --bwlimit body) is read by iteration, with the same bound', async () => {
    const iterable = (parts: string[]) => ({ async *[Symbol.asyncIterator]() { for (const p of parts) yield Buffer.from(p); }, destroy: () => {} });
    await expect(readWhole(iterable(['ab', 'c']), 10, tooMuch)).resolves.toEqual(Buffer.from('abc'));
    await expect(readWhole(iterable(['abc', 'de']), 4, tooMuch)).rejects.toMatchObject({ code: 'ObjectChanged' });
  });

  it('an error after the body was read is still listened to (no uncaught error event)', async () => {
    const body = new PassThrough();
    const got = readWhole(body, 100, tooMuch);
    body.end('abc');
    await expect(got).resolves.toEqual(Buffer.from('abc'));
    expect(body.listenerCount('error')).toBeGreaterThan(0);
    expect(() => body.emit('error', new Error('late'))).not.toThrow();
  });
});
