/**
 * A GET's body into an open file at its offset, in ~1 MiB writev batches. A Node Readable (what endpoints/signed-http.ts answers) is read
 * in flowing mode and paused only while a batch is written: `for await` paused and resumed the
 * socket stream around every 64 KiB chunk (S6l profile, docs/benchmarks.md). Other bodies (a
 * limited or SDK body) are iterated. Either way it settles only once no write is in flight, so a
 * retry of the same range never races a stale write. `readWhole`: a small body into one buffer.
 */
import type fs from 'node:fs';
import { Readable } from 'node:stream';
import { releaseSlice } from '../fs/chunk-pool.js';
import type { ObjectBody } from '../endpoints/object-store.js';

/** Streamed bodies are written in batches of about this many bytes (one writev each). */
export const WRITE_BATCH_BYTES = 1024 * 1024;

export interface DrainTarget {
  fh: fs.promises.FileHandle;
  /** file offset of the body's first byte */
  position: number;
  /** more than this many bytes is an error (`tooLong`) */
  maxBytes: number;
  /** bytes written, after each write */
  onBytes: (n: number) => void;
  /** a chunk of the body arrived, before it waits for its batch's write (engine/request.ts: a read's silence) */
  onChunk?: (() => void) | undefined;
  /** the error for a body longer than maxBytes */
  tooLong: () => Error;
}

/** Writes `body` into the target; returns the number of bytes written. */
export async function drainTo(body: AsyncIterable<Uint8Array | string>, t: DrainTarget): Promise<number> {
  const batch = new Batch(t);
  if (body instanceof Readable) await drainReadable(body, batch);
  else {
    for await (const c of body) {
      batch.add(toBuffer(c));
      if (batch.full) await batch.flush();
    }
  }
  await batch.flush();
  return batch.written;
}

/** Flowing mode: paused while a batch is written; settles after the last write, also on failure. */
function drainReadable(body: Readable, batch: Batch): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let writing: Promise<void> | undefined;
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      if (err !== undefined) body.pause();
      // a write in flight lands before the caller may retry or remove the file
      const after = writing ?? Promise.resolve();
      void after.then(() => (err !== undefined ? reject(err) : resolve()), (e: unknown) => reject(err ?? e));
    };
    const onData = (c: Buffer | string): void => {
      try {
        batch.add(toBuffer(c));
      } catch (err) {
        settle(err);
        return;
      }
      if (!batch.full || writing) return;
      body.pause();
      writing = batch.flush().then(() => {
        writing = undefined;
        if (!settled) body.resume();
      }, (err: unknown) => {
        writing = undefined;
        settle(err);
      });
    };
    const onEnd = (): void => settle();
    const onClose = (): void => settle(closedEarly('ERR_STREAM_PREMATURE_CLOSE'));
    // destroyed (aborted) before the drain began: its 'error' and 'close' are gone already
    if (body.destroyed) settle(body.errored ?? closedEarly('ERR_STREAM_PREMATURE_CLOSE'));
    else body.on('data', onData).once('end', onEnd).once('error', settle).once('close', onClose);
  });
}

/** Chunks waiting to be written, and where the next write goes. */
class Batch {
  private bufs: Buffer[] = [];
  private bytes = 0;
  written = 0;

  constructor(private readonly t: DrainTarget) {}

  get full(): boolean { return this.bytes >= WRITE_BATCH_BYTES; }

  add(b: Buffer): void {
    if (this.written + this.bytes + b.length > this.t.maxBytes) throw this.t.tooLong();
    this.bufs.push(b);
    this.bytes += b.length;
    this.t.onChunk?.();
  }

  /**
   * Writes what is waiting (all of it, whatever writev returns); then each chunk is released
   * (../fs/chunk-pool.ts: its socket buffer may be reused). Not on a failed write: a chunk
   * never released only stays out of the pool.
   */
  async flush(): Promise<void> {
    const added = this.bufs;
    let bufs = added;
    let left = this.bytes;
    this.bufs = [];
    this.bytes = 0;
    while (left > 0) {
      const { bytesWritten } = await this.t.fh.writev(bufs, this.t.position + this.written);
      this.written += bytesWritten;
      left -= bytesWritten;
      this.t.onBytes(bytesWritten);
      if (left > 0) bufs = [Buffer.concat(bufs).subarray(bufs.reduce((s, b) => s + b.length, 0) - left)];
    }
    for (const b of added) releaseSlice(b);
  }
}

/** A body that closed before its end, with the code its caller's retry decision reads. */
function closedEarly(code: string): Error {
  return Object.assign(new Error('the response body closed before its end'), { code });
}

/**
 * A whole body of at most `maxBytes` into one buffer (more: rejects with `tooMuch()`). A node
 * stream (the http answer) is read by its events: `for await` makes an async iterator, an
 * end-of-stream watcher and a promise per chunk for every object. Rejects with the stream's error
 * (an abort destroys it with the signal's reason), or when it closes before its end.
 */
export function readWhole(body: ObjectBody, maxBytes: number, tooMuch: () => Error): Promise<Buffer> {
  if (!(body instanceof Readable)) return readWholeIterating(body, maxBytes, tooMuch);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let settled = false;
    // the 'error' listener stays: an error after the end must not go unheard (an uncaught 'error')
    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n));
    };
    const onData = (c: Buffer | string): void => {
      const b = toBuffer(c);
      n += b.length;
      if (n > maxBytes) return settle(tooMuch());
      chunks.push(b);
    };
    const onEnd = (): void => settle(undefined);
    const onClose = (): void => settle(closedEarly('ECONNRESET'));
    if (body.errored) return reject(body.errored);
    if (body.destroyed) return reject(closedEarly('ECONNRESET'));
    body.on('data', onData).once('end', onEnd).once('error', settle).once('close', onClose);
  });
}


async function readWholeIterating(body: ObjectBody, maxBytes: number, tooMuch: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = toBuffer(c);
    n += b.length;
    if (n > maxBytes) throw tooMuch();
    chunks.push(b);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
}

export function toBuffer(c: Uint8Array | string): Buffer {
  return typeof c === 'string' ? Buffer.from(c) : Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}
