/**
 * Worker threads that run blocking fs jobs one at a time, for work the main thread hands over in
 * one message and gets back in one answer (./read-hash.ts hashes ranges, ./new-file.ts writes
 * small files). Each async fs call of the main thread is a round trip through libuv's thread pool
 * of its own; a job here is one round trip, however many syscalls it makes.
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';

/** node:worker_threads on the first job: a command that starts no thread does not load it (start-up, issue 12) */
const workerThreads = (): typeof import('node:worker_threads') => createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');

/** An error as a worker reports it: the fields errorFacts and callers look at (code, errno…). */
export interface WorkerError { message: string; code?: string; errno?: number; syscall?: string; path?: string }

/** A job's answer: what the job returned, or its error. */
export type FsReply = Record<string, unknown> & { id: number; error?: WorkerError };

/**
 * A worker's source (eval'd: no file to locate next to the CLI bundle), CommonJS: `setup` runs
 * once, then every message is `{ id, ...job }`, given to `job`, a function expression returning
 * an object (the reply) or throwing (reported with its code, errno, syscall, path).
 */
export function workerSource(setup: string, job: string): string {
  return `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
${setup}
const job = ${job};
parentPort.on('message', (msg) => {
  let reply;
  try {
    reply = job(msg);
  } catch (err) {
    reply = { error: { message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, path: err.path } };
  }
  parentPort.postMessage({ ...reply, id: msg.id });
});
`;
}

function rebuiltError(e: WorkerError): Error {
  return Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path });
}

interface Pending { resolve: (r: FsReply) => void; reject: (e: Error) => void }

/** One worker thread and its jobs; held (ref'd) only while a job is pending, so a run exits when done. */
class FsThread {
  private readonly pending = new Map<number, Pending>();
  private worker: Worker | undefined;
  private nextId = 0;
  /** the current worker runs (its 'online' came); false while none is started or it boots */
  online = false;

  constructor(private readonly source: string, private readonly what: string) {}

  get load(): number { return this.pending.size; }

  /** Starts the thread now (it boots in ~30 ms): its first job need not wait for that. */
  warm(): void { this.worker ??= this.start(); }

  run(job: object, transfer: ArrayBuffer[] = []): Promise<FsReply> {
    const w = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<FsReply>((resolve, reject) => {
      if (this.pending.size === 0) w.ref();
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...job, id }, transfer);
    });
  }

  private start(): Worker {
    // execArgv: none of the parent's (with --input-type=module this CommonJS source was parsed as a module)
    const w = new (workerThreads().Worker)(this.source, { eval: true, execArgv: [] });
    w.once('online', () => { if (this.worker === w) this.online = true; });
    w.on('message', (m: FsReply) => this.settle(w, m));
    w.on('error', (err) => this.fail(w, err));
    w.on('exit', (code) => this.fail(w, new Error(`the ${this.what} worker thread stopped (exit code ${code})`)));
    w.unref();
    return w;
  }

  private settle(w: Worker, m: FsReply): void {
    const job = this.pending.get(m.id);
    if (!job) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) w.unref();
    if (m.error) job.reject(rebuiltError(m.error));
    else job.resolve(m);
  }

  /** A worker that died fails its pending jobs; the next job starts a fresh one. */
  private fail(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    this.online = false;
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const j of jobs) j.reject(err);
  }

  /** Tests: stop the thread as if it crashed. */
  terminate(): Promise<number> | undefined { return this.worker?.terminate(); }
}

/** Threads running one worker source, started on first use; a job goes to the least loaded. */
export class FsThreadPool {
  private readonly threads: FsThread[];

  constructor(source: string, what: string, threads: number) {
    this.threads = Array.from({ length: Math.max(1, threads) }, () => new FsThread(source, what));
  }

  /** Starts the threads ahead of their first job. */
  warm(): void {
    for (const t of this.threads) t.warm();
  }

  /** Every thread is up and running (booting takes ~20 ms): a job sent now waits for no boot. */
  ready(): boolean {
    return this.threads.every((t) => t.online);
  }

  /** Runs `job` on the least loaded thread: its reply, or its error rebuilt. `transfer`: buffers moved, not copied. */
  run(job: object, transfer?: ArrayBuffer[]): Promise<FsReply> {
    return this.leastLoaded().run(job, transfer);
  }

  /** The least loaded thread now, for jobs that must run on one thread in the order sent. */
  pin(): (job: object) => Promise<FsReply> {
    const t = this.leastLoaded();
    return (job) => t.run(job);
  }

  private leastLoaded(): FsThread {
    return this.threads.reduce((a, b) => (b.load < a.load ? b : a));
  }

  /** Tests: stop every thread (pending jobs fail; the next job starts a fresh thread). */
  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}
