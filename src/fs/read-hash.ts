/**
 * The MD5 of a byte range of a file, read and hashed on a worker thread through one reused
 * buffer. Hashing a 16 MiB part takes ~30 ms of CPU: done on the main thread for 16 parts in a
 * row, no socket was written for ~0.45 s of a 1.2 s upload of 4 × 64 MiB (issue 12, bench S2).
 * Off the main thread, the sends keep flowing meanwhile. The bytes are sent by a second read
 * (./file-range.ts), not kept: see there why.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ShortRead } from './file-range.js';

/** Bytes the worker reads per call, into the one buffer it keeps. */
const WORKER_READ_BYTES = 1024 * 1024;

/**
 * The worker, as source (eval'd: no file to locate next to the CLI bundle). One job at a time,
 * blocking reads (only this thread waits) into one buffer made at start.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const buf = Buffer.allocUnsafeSlow(${WORKER_READ_BYTES});
parentPort.on('message', ({ id, path, start, len }) => {
  let fd;
  try {
    fd = fs.openSync(path, 'r');
    const hash = crypto.createHash('md5');
    for (let got = 0; got < len;) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, len - got), start + got);
      if (n === 0) { parentPort.postMessage({ id, short: true }); return; }
      hash.update(n === buf.length ? buf : buf.subarray(0, n));
      got += n;
    }
    parentPort.postMessage({ id, md5: hash.digest('hex') });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, path: err.path } });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
});
`;

interface Reply {
  id: number;
  short?: true;
  md5?: string;
  error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
}
interface Job { path: string; resolve: (md5: Buffer) => void; reject: (e: Error) => void }

/** The error a worker reported, with the fields errorFacts and callers look at (code, errno…). */
function rebuiltError(e: NonNullable<Reply['error']>): Error {
  return Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path });
}

/** One worker thread and its jobs; held (ref'd) only while a job is pending, so a run exits when done. */
class HashThread {
  private readonly pending = new Map<number, Job>();
  private worker: Worker | undefined;
  private nextId = 0;

  get load(): number { return this.pending.size; }

  /** Starts the thread now (it boots in ~30 ms): its first job need not wait for that. */
  warm(): void { this.worker ??= this.start(); }

  run(path: string, start: number, len: number): Promise<Buffer> {
    const w = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      if (this.pending.size === 0) w.ref();
      this.pending.set(id, { path, resolve, reject });
      w.postMessage({ id, path, start, len });
    });
  }

  private start(): Worker {
    // execArgv: none of the parent's (with --input-type=module this CommonJS source was parsed as a module)
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    w.on('message', (m: Reply) => this.settle(w, m));
    w.on('error', (err) => this.fail(w, err));
    w.on('exit', (code) => this.fail(w, new Error(`the MD5 worker thread stopped (exit code ${code})`)));
    w.unref();
    return w;
  }

  private settle(w: Worker, m: Reply): void {
    const job = this.pending.get(m.id);
    if (!job) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) w.unref();
    if (m.error) job.reject(rebuiltError(m.error));
    else if (m.short || m.md5 === undefined) job.reject(new ShortRead(job.path));
    else job.resolve(Buffer.from(m.md5, 'hex'));
  }

  /** A worker that died fails its pending jobs; the next job starts a fresh one. */
  private fail(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const j of jobs) j.reject(err);
  }

  /** Tests: stop the thread as if it crashed. */
  terminate(): Promise<number> | undefined { return this.worker?.terminate(); }
}

/**
 * Worker threads that hash ranges, started on first use; a job goes to the least
 * loaded. One core is left to the main thread (sockets) and, on a shared machine, the server.
 */
export class ReadHashPool {
  private readonly threads: HashThread[];

  constructor(threads = Math.min(4, Math.max(1, os.availableParallelism() - 1))) {
    this.threads = Array.from({ length: threads }, () => new HashThread());
  }

  /** Starts the threads ahead of their first job (e.g. while CreateMultipartUpload is out). */
  warm(): void {
    for (const t of this.threads) t.warm();
  }

  /** The MD5 of `len` bytes of `path` from `start`; ShortRead if the file ends first. */
  hashRange(path: string, start: number, len: number): Promise<Buffer> {
    const t = this.threads.reduce((a, b) => (b.load < a.load ? b : a));
    return t.run(path, start, len);
  }

  /** Tests: stop every thread (pending jobs fail; the next job starts a fresh thread). */
  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

/** The process's pool (multipart parts). */
export const readHashPool = new ReadHashPool();
