/** ops/drain-to.ts: a body into a file at its offset in ~1 MiB batches; flowing, paused only while a batch is written. */
import type fs from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { drainTo, WRITE_BATCH_BYTES } from '../../src/ops/drain-to.js';

const KIB = 1024;

/** A FileHandle stand-in: records writes into `file`; `hold` makes each writev wait for `release()`. */
function fakeFile(hold = false) {
  const file = Buffer.alloc(8 * WRITE_BATCH_BYTES);
  const writes: { pos: number; bytes: number }[] = [];
  let pending: (() => void)[] = [];
  let inFlight = 0;
  const fh = {
    writev(bufs: Buffer[], pos: number): Promise<{ bytesWritten: number }> {
      inFlight++;
      const run = (): { bytesWritten: number } => {
        inFlight--;
        let at = pos;
        for (const b of bufs) { b.copy(file, at); at += b.length; }
        writes.push({ pos, bytes: at - pos });
        return { bytesWritten: at - pos };
      };
      if (!hold) return Promise.resolve().then(run);
      return new Promise((resolve) => pending.push(() => resolve(run())));
    },
  };
  return {
    fh: fh as unknown as fs.promises.FileHandle, file, writes,
    get inFlight() { return inFlight; },
    release() { const p = pending; pending = []; for (const f of p) f(); },
  };
}

const chunks = (n: number, size: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.alloc(size, i % 251));
const target = (fh: fs.promises.FileHandle, position = 0, maxBytes = Number.MAX_SAFE_INTEGER) =>
  ({ fh, position, maxBytes, onBytes: () => {}, tooLong: () => new Error('too long') });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('drainTo', () => {
  it('writes a Readable at its offset in ~1 MiB batches, in order', async () => {
    const f = fakeFile();
    const body = chunks(40, 64 * KIB);
    const n = await drainTo(Readable.from(body), target(f.fh, 100));
    expect(n).toBe(40 * 64 * KIB);
    expect(f.file.subarray(100, 100 + n).equals(Buffer.concat(body))).toBe(true);
    expect(f.writes.map((w) => w.bytes)).toEqual([WRITE_BATCH_BYTES, WRITE_BATCH_BYTES, 8 * 64 * KIB]);
  });

  it('pauses the body while a batch is written and resumes it after', async () => {
    const f = fakeFile(true);
    const body = new Readable({ read() {} });
    for (const c of chunks(20, 64 * KIB)) body.push(c);
    const done = drainTo(body, target(f.fh));
    await tick();
    // 16 chunks make a batch: its write is held, the body paused with the rest still buffered
    expect(f.inFlight).toBe(1);
    expect(body.isPaused()).toBe(true);
    expect(body.readableLength).toBe(4 * 64 * KIB);
    f.release();
    await tick();
    expect(body.isPaused()).toBe(false);
    expect(body.readableLength).toBe(0);
    body.push(null);
    await tick();
    f.release();
    expect(await done).toBe(20 * 64 * KIB);
  });

  it('an error while a batch is written rejects only once that write is done (a retry never races it)', async () => {
    const f = fakeFile(true);
    const body = new Readable({ read() {} });
    for (const c of chunks(16, 64 * KIB)) body.push(c);
    let outcome = 'pending';
    const done = drainTo(body, target(f.fh)).then(() => { outcome = 'resolved'; }, (e: Error) => { outcome = e.message; });
    await tick();
    expect(f.inFlight).toBe(1);
    body.destroy(new Error('deadline'));
    await tick();
    expect(outcome).toBe('pending');
    f.release();
    await done;
    expect(outcome).toBe('deadline');
    expect(f.inFlight).toBe(0);
  });

  it('a body closed before its end, or destroyed before the drain began, rejects instead of hanging', async () => {
    const f = fakeFile();
    const cut = new Readable({ read() {} });
    cut.push(Buffer.alloc(10));
    const p = drainTo(cut, target(f.fh));
    await tick();
    cut.destroy();
    await expect(p).rejects.toThrow(/closed before its end/);

    const gone = new Readable({ read() {} });
    gone.on('error', () => {});
    gone.destroy(new Error('aborted early'));
    await tick();
    await expect(drainTo(gone, target(f.fh))).rejects.toThrow('aborted early');
  });

  it('more than maxBytes rejects with the caller\'s error; a non-Readable body is iterated', async () => {
    const f = fakeFile();
    await expect(drainTo(Readable.from(chunks(3, 10)), target(f.fh, 0, 25))).rejects.toThrow('too long');
    async function* gen(): AsyncGenerator<Buffer> { yield Buffer.from('ab'); yield Buffer.from('cd'); }
    expect(await drainTo(gen(), target(f.fh, 5))).toBe(4);
    expect(f.file.subarray(5, 9).toString()).toBe('abcd');
  });
});
