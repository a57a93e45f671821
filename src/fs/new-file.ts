/**
 * A new file written in one go on a worker thread (the first few on the main thread: see
 * WRITES_BEFORE_THREADS): its directory checked again, open (O_EXCL), write, mtime, close, and
 * the rename into place, as one job (./fs-thread.ts). For a small
 * object (ops/download.ts buffers those ≤ 256 KiB) every step is a syscall of a few µs to a few
 * hundred (creating an inode on ext4 spends CPU scanning recently deleted inodes). Made from the
 * main thread they were either blocking calls (measured slower: ~0.4–0.77 ms held per open on two
 * machines) or four round trips through libuv's thread pool, each waking a pool thread and then
 * the main thread on 2 cores shared with the gateway; one job is one round trip (bench S6s: 0.91×
 * the four round trips, client CPU −10%; docs/benchmarks.md, run 28).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsThreadPool, workerSource } from './fs-thread.js';

/**
 * The job: the directory checked (still at the real path it had when made safe), then the file
 * made (O_EXCL), written, its mtime set, closed, and renamed when asked.
 */
const WRITE_SOURCE = workerSource(`const path = require('node:path');`, `({ file, data, mtimeMs, renameTo, dirReal }) => {
  if (dirReal !== undefined) {
    let now;
    try { now = fs.realpathSync.native(path.dirname(file)); } catch {}
    if (now !== dirReal) return { swapped: true, now };
  }
  const fd = fs.openSync(file, 'wx', 0o666);
  try {
    for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off, off);
    if (mtimeMs !== undefined) fs.futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
  } finally {
    fs.closeSync(fd);
  }
  if (renameTo !== undefined) fs.renameSync(file, renameTo);
  return {};
}`);

const writers = new FsThreadPool(WRITE_SOURCE, 'file writer', Math.min(4, Math.max(1, os.availableParallelism() - 1)));

/**
 * Files written on the main thread before the writer threads are started: starting one costs the
 * main thread and the exit ~10 ms, more than a few files save (a one-file download: 0.117 s with
 * the thread started at its first file vs 0.106 s without, 8 pairs by hand).
 */
const WRITES_BEFORE_THREADS = 4;
let writtenHere = 0;

/** Tests: resolves once the writer threads run (writeNewFile then hands its job over); rejects when they do not within 5 s. */
export async function writersOnline(): Promise<void> {
  for (let i = 0; i < 500 && !writers.ready(); i++) {
    writers.warm();
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!writers.ready()) throw new Error('the file writer threads did not start');
}

export interface NewFileOptions {
  /** the file's mtime */
  mtime?: Date | undefined;
  /** renamed to this once written */
  renameTo?: string | undefined;
  /**
   * The directory of `file` must still be at `real` (./safe-dirs.ts checkedReal), checked right
   * before the open, on the thread that writes; else nothing is made and `refuse(now)` is thrown.
   */
  dir?: { real: string; refuse: (now: string | undefined) => Error } | undefined;
}

/**
 * Creates `file` (it must not exist) holding `data`, then sets its mtime and renames it as asked.
 * On an error `file` may be left behind (the caller removes its temporary file); `renameTo` is
 * only ever replaced whole.
 */
export async function writeNewFile(file: string, data: Buffer, opts: NewFileOptions = {}): Promise<void> {
  // the first few, and any while the thread boots (~20 ms), here: the same steps, no wait
  if (!writers.ready()) {
    if (++writtenHere >= WRITES_BEFORE_THREADS) writers.warm();
    return writeNewFileHere(file, data, opts);
  }
  // a copy of exactly these bytes, moved to the worker (a Buffer may view a larger shared pool)
  const bytes = new Uint8Array(data);
  const r = await writers.run({ file, data: bytes, mtimeMs: opts.mtime?.getTime(), renameTo: opts.renameTo, dirReal: opts.dir?.real }, [bytes.buffer]);
  if (r.swapped === true) throw opts.dir!.refuse(typeof r.now === 'string' ? r.now : undefined);
}

/** writeNewFile's job done from the main thread (the fs calls through libuv's pool, rename blocking). */
export async function writeNewFileHere(file: string, data: Buffer, opts: NewFileOptions = {}): Promise<void> {
  if (opts.dir) {
    let now: string | undefined;
    try { now = fs.realpathSync.native(path.dirname(file)); } catch { now = undefined; }
    if (now !== opts.dir.real) throw opts.dir.refuse(now);
  }
  const fh = await fs.promises.open(file, 'wx', 0o666);
  try {
    for (let off = 0; off < data.length;) off += (await fh.write(data, off, data.length - off, off)).bytesWritten;
    if (opts.mtime) await fh.utimes(opts.mtime, opts.mtime);
  } finally {
    await fh.close();
  }
  if (opts.renameTo !== undefined) fs.renameSync(file, opts.renameTo);
}
