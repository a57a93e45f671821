/**
 * A byte range of a file sent as a request body, read afresh for each request through a few
 * recycled chunks, never held whole.
 *
 * Why not read a part once into a buffer and send that: a fresh 16 MiB buffer per part is 4,096
 * pages the kernel faults in and zeroes. Uploading 4 × 64 MiB that way took 1.3 s of system CPU
 * (72,000 minor faults) against s5cmd's 0.26 s (2,400), which streams from the file; the second
 * read of a range just hashed comes from the page cache (docs/benchmarks.md, fourth session of
 * 2026-12-02). What is sent is still what was hashed: the request carries the hash's
 * Content-MD5, so a server refuses bytes that changed in between (BadDigest) and the caller
 * checks the file unchanged.
 */
import fs from 'node:fs';
import { ChunkPool } from './chunk-pool.js';

/** Read size, and what one write hands the socket: large enough for few syscalls, small enough to recycle. */
export const RANGE_CHUNK_BYTES = 512 * 1024;
/** Chunks read ahead of the socket per request: one is written while the next is read. */
const CHUNKS_AHEAD = 2;
/**
 * Free chunks kept for the next requests (8 MiB; more are left to the collector). A chunk goes
 * back only once its write called back: no socket reads it any more.
 */
const chunks = new ChunkPool(RANGE_CHUNK_BYTES, 16);

/** `len` bytes of the file at `path` from `start`. */
export class FileRange {
  constructor(readonly path: string, readonly start: number, readonly len: number) {}

  /** The range as a stream (for senders that take one: node:http, the SDK), fresh buffers per chunk. */
  stream(): fs.ReadStream {
    return fs.createReadStream(this.path, { start: this.start, end: this.start + this.len - 1, highWaterMark: RANGE_CHUNK_BYTES });
  }
}

/** The file ended before the range did: it shrank since it was walked. */
export class ShortRead extends Error {
  readonly code = 'BodyLengthMismatch'; // not retried: the next attempt would read as few bytes
  constructor(readonly path: string) { super(`${path}: shorter than the range asked for`); }
}

/** A sink that calls back once it no longer needs the chunk (net.Socket#write does, with or without an error). */
export type ChunkWrite = (chunk: Buffer, done: (err?: Error | null) => void) => void;

/**
 * Writes a FileRange into a sink, CHUNKS_AHEAD chunks at most in flight. `finished` once the
 * last chunk's write called back without error; `stop()` ends it early (the sink failed or the
 * answer came): no chunk is written after it, and the file is closed.
 */
export class RangePump {
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private stopped = false;
  finished = false;

  constructor(private readonly range: FileRange, private readonly write: ChunkWrite) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Resolves when every byte was written (then `finished`) or it stopped; rejects on a read error or ShortRead. */
  async run(): Promise<void> {
    const { path, start, len } = this.range;
    const fh = await fs.promises.open(path, 'r');
    try {
      for (let pos = 0; pos < len && !this.stopped;) {
        await this.writesBelow(CHUNKS_AHEAD);
        if (this.stopped) return;
        const n = Math.min(RANGE_CHUNK_BYTES, len - pos);
        const chunk = chunks.take();
        if (!(await this.fill(fh, chunk, n, start + pos))) { chunks.give(chunk); return; }
        this.send(chunk, n);
        pos += n;
      }
      await this.writesBelow(1);
      this.finished = !this.stopped;
    } finally {
      await fh.close();
    }
  }

  /** Until fewer than `n` writes await their callback, or it stopped. */
  private async writesBelow(n: number): Promise<void> {
    while (this.inFlight >= n && !this.stopped) await new Promise<void>((res) => { this.wake = res; });
  }

  /** Reads n bytes at `at` into the chunk; false if stopped meanwhile; ShortRead if the file ends first. */
  private async fill(fh: fs.promises.FileHandle, chunk: Buffer, n: number, at: number): Promise<boolean> {
    for (let got = 0; got < n;) {
      const { bytesRead } = await fh.read(chunk, got, n - got, at + got);
      if (bytesRead === 0) { chunks.give(chunk); throw new ShortRead(this.range.path); }
      got += bytesRead;
    }
    return !this.stopped;
  }

  private send(chunk: Buffer, n: number): void {
    this.inFlight++;
    this.write(n === chunk.length ? chunk : chunk.subarray(0, n), (err) => {
      this.inFlight--;
      chunks.give(chunk);
      if (err) this.stopped = true;
      this.wake?.();
    });
  }
}
