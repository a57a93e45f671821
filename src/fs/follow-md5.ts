/**
 * The MD5 of a file written front to back (a streamed download), hashed on a worker thread that
 * reads each written stretch back while the next one arrives.
 *
 * Why: hashing on the main thread took ~1.2 ms of its CPU per MiB, the same thread that reads
 * every socket of the run: a verified download of 4 × 64 MiB ran ~60% longer than one without
 * verification (docs/benchmarks.md, S6l). On the worker the second core does it, and what is
 * hashed is what the file holds (read back from the page cache), so a write at a wrong place
 * cannot pass the check.
 */
import { ShortRead } from './file-range.js';
import type { FsReply } from './fs-thread.js';
import { readHashPool, type ReadHashPool } from './read-hash.js';

/** Written bytes are handed to the worker in stretches of at least this many (one message each). */
const FOLLOW_STEP_BYTES = 2 * 1024 * 1024;

let nextHashId = 0;

export class FollowMd5 {
  private readonly hid = nextHashId++;
  private readonly send: (job: object) => Promise<FsReply>;
  /** bytes [0, sent) are handed to the worker; [sent, written) are in the file and not yet */
  private sent = 0;
  private written = 0;
  private failure: unknown;
  private ended = false;

  /** `stepBytes`: tests hand over in smaller stretches. */
  constructor(private readonly path: string, pool: ReadHashPool = readHashPool, private readonly stepBytes = FOLLOW_STEP_BYTES) {
    this.send = pool.pin();
  }

  /** `n` more bytes are in the file, right after the ones before (a write has completed). */
  wrote(n: number): void {
    this.written += n;
    if (this.written - this.sent >= this.stepBytes) this.handOver();
  }

  /** The MD5 (hex) of the bytes written; rejects if the worker could not read them all. */
  async digest(): Promise<string> {
    this.handOver();
    this.ended = true;
    const r = await this.send({ hid: this.hid, op: 'digest' });
    if (this.failure !== undefined) throw this.failure;
    if (r.short === true) throw new ShortRead(this.path);
    if (typeof r.md5 !== 'string') throw new Error(`the MD5 of ${this.path} was lost: its worker thread stopped`);
    return r.md5;
  }

  /** The download failed: the worker forgets this hash and closes the file. */
  abandon(): void {
    if (this.ended) return;
    this.ended = true;
    this.send({ hid: this.hid, op: 'drop' }).catch(() => {});
  }

  private handOver(): void {
    const len = this.written - this.sent;
    if (len === 0 && this.sent > 0) return;
    const job = { hid: this.hid, path: this.path, start: this.sent, len };
    this.sent = this.written;
    this.send(job).catch((err: unknown) => { this.failure ??= err; });
  }
}
