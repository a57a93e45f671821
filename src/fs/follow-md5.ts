/**
 * The MD5 of a file being downloaded, hashed on a worker thread that reads each written stretch
 * back while the next one arrives: written front to back (FollowMd5, a streamed GET) or as ranged
 * parts in any order (PartsMd5, which follows the file's written prefix).
 *
 * Why: hashing on the main thread took ~1.2 ms of its CPU per MiB, the same thread that reads
 * every socket of the run: a verified download of 4 × 64 MiB ran ~60% longer than one without
 * verification (docs/benchmarks.md, S6l). On the worker the second core does it, and what is
 * hashed is what the file holds (read back from the page cache), so a write at a wrong place
 * cannot pass the check.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ShortRead } from './file-range.js';
import type { FsReply } from './fs-thread.js';
import { readHashPool, type ReadHashPool } from './read-hash.js';

/** Written bytes are handed to the hash in stretches of at least this many (one message each). */
const FOLLOW_STEP_BYTES = 2 * 1024 * 1024;
/**
 * While the MD5 thread is not running, a file expected to be smaller than this is hashed on the
 * main thread, and only the fifth such file starts the thread: starting it costs ~25 ms of CPU
 * (a one-file download of 1 MiB: 0.333 s vs 0.309 s, 20 runs each), more than hashing a few MiB.
 */
const WORKER_MIN_BYTES = 8 * 1024 * 1024;
const HASHES_BEFORE_THREAD = 4;

/** Where the stretches are hashed, in file order from byte 0. */
interface Hasher {
  add(start: number, len: number): void;
  /** the MD5 (hex) of every stretch added */
  digest(): Promise<string>;
  drop(): void;
}

let nextHashId = 0;

/** On the MD5 thread (read-hash.ts): a running hash of its own, on one thread, jobs in order. */
class WorkerHasher implements Hasher {
  private readonly hid = nextHashId++;
  private readonly send: (job: object) => Promise<FsReply>;
  private failure: unknown;

  constructor(private readonly path: string, pool: ReadHashPool) {
    this.send = pool.pin();
  }

  add(start: number, len: number): void {
    this.send({ hid: this.hid, path: this.path, start, len }).catch((err: unknown) => { this.failure ??= err; });
  }

  async digest(): Promise<string> {
    const r = await this.send({ hid: this.hid, op: 'digest' });
    if (this.failure !== undefined) throw this.failure;
    if (r.short === true) throw new ShortRead(this.path);
    if (typeof r.md5 !== 'string') throw new Error(`the MD5 of ${this.path} was lost: its worker thread stopped`);
    return r.md5;
  }

  drop(): void {
    this.send({ hid: this.hid, op: 'drop' }).catch(() => {});
  }
}

/** HereHasher's reads (each is done before it returns: one buffer serves all). */
let hereBuffer: Buffer | undefined;

/** On the main thread: each stretch read back (blocking, from the page cache) and hashed at once. */
class HereHasher implements Hasher {
  private readonly hash = crypto.createHash('md5');
  private fd: number | undefined;
  private failure: unknown;

  constructor(private readonly path: string) {}

  add(start: number, len: number): void {
    if (this.failure !== undefined) return;
    try {
      this.fd ??= fs.openSync(this.path, 'r');
      const buf = (hereBuffer ??= Buffer.allocUnsafeSlow(1024 * 1024));
      for (let got = 0; got < len;) {
        const n = fs.readSync(this.fd, buf, 0, Math.min(buf.length, len - got), start + got);
        if (n === 0) throw new ShortRead(this.path);
        this.hash.update(n === buf.length ? buf : buf.subarray(0, n));
        got += n;
      }
    } catch (err) {
      this.failure = err;
    }
  }

  digest(): Promise<string> {
    this.drop();
    return this.failure !== undefined ? Promise.reject(this.failure) : Promise.resolve(this.hash.digest('hex'));
  }

  drop(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface FollowOptions {
  /** the MD5 thread(s); tests give their own */
  pool?: ReadHashPool;
  /** tests hand over in smaller stretches */
  stepBytes?: number;
  /** the size the file will have, if known: a small one may be hashed here (WORKER_MIN_BYTES) */
  expectedBytes?: number | undefined;
}

export class FollowMd5 {
  private readonly hasher: Hasher;
  private readonly stepBytes: number;
  /** bytes [0, sent) are handed to the hasher; [sent, written) are in the file and not yet */
  private sent = 0;
  private written = 0;
  private started = false;
  private ended = false;

  constructor(path: string, opts: FollowOptions = {}) {
    const pool = opts.pool ?? readHashPool;
    this.stepBytes = opts.stepBytes ?? FOLLOW_STEP_BYTES;
    if (!pool.ready() && (opts.expectedBytes ?? Infinity) < WORKER_MIN_BYTES) {
      if (++pool.hashedHere > HASHES_BEFORE_THREAD) pool.warm();
      this.hasher = new HereHasher(path);
    } else {
      this.hasher = new WorkerHasher(path, pool);
    }
  }

  /** `n` more bytes are in the file, right after the ones before (a write has completed). */
  wrote(n: number): void {
    this.written += n;
    if (this.written - this.sent >= this.stepBytes) this.handOver();
  }

  /** The MD5 (hex) of the bytes written; rejects if they could not all be read back. */
  digest(): Promise<string> {
    this.handOver();
    this.ended = true;
    return this.hasher.digest();
  }

  /** The download failed: the hash is forgotten and its file closed. */
  abandon(): void {
    if (this.ended) return;
    this.ended = true;
    this.hasher.drop();
  }

  private handOver(): void {
    const len = this.written - this.sent;
    // an empty file is still opened once: a missing one fails as it would with bytes
    if (len === 0 && this.started) return;
    this.started = true;
    this.hasher.add(this.sent, len);
    this.sent = this.written;
  }
}

/**
 * The MD5 of a file written as ranged parts in any order (a ranged download): the written prefix
 * of the file is followed by a FollowMd5; parts ahead of it wait in the file, not in memory. A
 * part tried again after some of its bytes were hashed may write other bytes (the first try's
 * were corrupted): then the whole file is hashed once every part is in.
 */
export class PartsMd5 {
  private readonly follow: FollowMd5;
  /** per part: its first byte, its length, and the bytes its current attempt has written */
  private readonly starts: number[];
  private readonly lengths: number[];
  private readonly written: number[];
  /** the part holding the end of the written prefix, and that end */
  private fi = 0;
  private prefix = 0;
  private rehash = false;

  /** `ranges`: the parts in file order, inclusive byte ranges covering the file without gaps. */
  constructor(private readonly path: string, ranges: ReadonlyArray<{ start: number; end: number }>, private readonly pool: ReadHashPool = readHashPool, stepBytes?: number) {
    this.follow = new FollowMd5(path, { pool, ...(stepBytes !== undefined && { stepBytes }) });
    this.starts = ranges.map((r) => r.start);
    this.lengths = ranges.map((r) => r.end - r.start + 1);
    this.written = ranges.map(() => 0);
  }

  /** A new attempt of part `i` starts: it writes again from the part's first byte. */
  attempt(i: number): void {
    if (this.prefix > this.starts[i]! && !this.rehash) {
      this.rehash = true;
      this.follow.abandon();
    }
    this.written[i] = 0;
  }

  /** `n` more bytes of part `i`'s current attempt are in the file, right after its earlier ones. */
  wrote(i: number, n: number): void {
    this.written[i] = Math.min(this.lengths[i]!, this.written[i]! + n);
    if (this.rehash) return;
    for (; this.fi < this.starts.length; this.fi++) {
      const end = this.starts[this.fi]! + this.written[this.fi]!;
      if (end > this.prefix) {
        this.follow.wrote(end - this.prefix);
        this.prefix = end;
      }
      if (this.written[this.fi]! < this.lengths[this.fi]!) return;
    }
  }

  /** The MD5 (hex) once every part is in the file. */
  async digest(): Promise<string> {
    if (this.written.some((w, i) => w < this.lengths[i]!)) throw new Error('PartsMd5: digest before every part is complete');
    if (!this.rehash) return this.follow.digest();
    const size = this.starts.length === 0 ? 0 : this.starts.at(-1)! + this.lengths.at(-1)!;
    return (await this.pool.hashRange(this.path, 0, size)).toString('hex');
  }

  /** The download failed: the worker forgets the hash. */
  abandon(): void {
    this.follow.abandon();
  }
}
