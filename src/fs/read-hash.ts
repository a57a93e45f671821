/**
 * The MD5 of a byte range of a file, read and hashed on a worker thread through one reused
 * buffer. Hashing a 16 MiB part takes ~30 ms of CPU: done on the main thread for 16 parts in a
 * row, no socket was written for ~0.45 s of a 1.2 s upload of 4 × 64 MiB (issue 12, bench S2).
 * Off the main thread, the sends keep flowing meanwhile. The bytes are sent by a second read
 * (./file-range.ts), not kept: see there why.
 */
import os from 'node:os';
import { ShortRead } from './file-range.js';
import { FsThreadPool, workerSource, type FsReply } from './fs-thread.js';

/** Bytes the worker reads per call, into the one buffer it keeps. */
const WORKER_READ_BYTES = 1024 * 1024;

/**
 * The worker's jobs: blocking reads (only this thread waits) into one buffer made at start. A job
 * with no `hid` hashes one range; with `hid` it adds a range to that running hash (./follow-md5.ts),
 * `digest` ends it, `drop` forgets it. A running hash keeps its file open between jobs.
 */
const HASH_SOURCE = workerSource(`
const crypto = require('node:crypto');
const buf = Buffer.allocUnsafeSlow(${WORKER_READ_BYTES});
const running = new Map();
function hashInto(hash, fd, start, len) {
  for (let got = 0; got < len;) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, len - got), start + got);
    if (n === 0) return false;
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    got += n;
  }
  return true;
}
function end(hid) {
  const r = running.get(hid);
  running.delete(hid);
  if (r) fs.closeSync(r.fd);
  return r;
}
`, `({ hid, op, path, start, len }) => {
  if (hid === undefined) {
    const fd = fs.openSync(path, 'r');
    try {
      const hash = crypto.createHash('md5');
      return hashInto(hash, fd, start, len) ? { md5: hash.digest('hex') } : { short: true };
    } finally {
      fs.closeSync(fd);
    }
  }
  if (op === 'drop') return end(hid), {};
  let r = running.get(hid);
  if (op === 'digest') {
    // no such hash: this thread was started after the one that had it stopped
    if (!r) return { lost: true };
    return end(hid), r.failed ? { short: true } : { md5: r.hash.digest('hex') };
  }
  if (!r) running.set(hid, r = { fd: fs.openSync(path, 'r'), hash: crypto.createHash('md5'), at: start, failed: start !== 0 });
  // ranges come in file order from 0; anything else means the caller lost track
  if (r.failed || start !== r.at || !hashInto(r.hash, r.fd, start, len)) r.failed = true;
  r.at = start + len;
  return {};
}`);

/**
 * Worker threads that hash ranges, started on first use; a job goes to the least
 * loaded. One core is left to the main thread (sockets) and, on a shared machine, the server.
 */
export class ReadHashPool {
  private readonly threads: FsThreadPool;
  /** files hashed on the main thread while no thread ran (./follow-md5.ts) */
  hashedHere = 0;

  constructor(threads = Math.min(4, Math.max(1, os.availableParallelism() - 1))) {
    this.threads = new FsThreadPool(HASH_SOURCE, 'MD5', threads);
  }

  /** Starts the threads ahead of their first job (e.g. while CreateMultipartUpload is out). */
  warm(): void {
    this.threads.warm();
  }

  /** The MD5 of `len` bytes of `path` from `start`; ShortRead if the file ends first. */
  async hashRange(path: string, start: number, len: number): Promise<Buffer> {
    const r = await this.threads.run({ path, start, len });
    if (r.short === true || typeof r.md5 !== 'string') throw new ShortRead(path);
    return Buffer.from(r.md5, 'hex');
  }

  /** Every thread is running (a job sent now waits for no boot). */
  ready(): boolean {
    return this.threads.ready();
  }

  /** A thread for jobs that must run on the same one (a running hash), the least loaded now. */
  pin(): (job: object) => Promise<FsReply> {
    return this.threads.pin();
  }

  /** Tests: stop every thread (pending jobs fail; the next job starts a fresh thread). */
  terminate(): Promise<void> {
    return this.threads.terminate();
  }
}

/** The process's pool (multipart parts). */
export const readHashPool = new ReadHashPool();
