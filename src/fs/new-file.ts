/**
 * A new file written in one go on a worker thread: open (O_EXCL), write, mtime, close, and the
 * rename into place, as one job (./fs-thread.ts). For a small object (ops/download.ts buffers
 * those ≤ 256 KiB) every step is a syscall of a few µs to a few hundred (creating an inode on
 * ext4 spends CPU scanning recently deleted inodes). Made from the main thread they were either
 * blocking calls (measured slower: ~0.4–0.77 ms held per open on two machines) or four round trips
 * through libuv's thread pool, each waking a pool thread and then the main thread on 2 cores
 * shared with the gateway; one job is one round trip (bench S6s by hand, 5 interleaved pairs:
 * 1.63 s vs 1.72 s wall, client CPU −4%; docs/benchmarks.md, fifth session of 2026-12-02).
 */
import os from 'node:os';
import { FsThreadPool, workerSource } from './fs-thread.js';

/** The job: the file made (O_EXCL), written, its mtime set, closed, then renamed when asked. */
const WRITE_SOURCE = workerSource('', `({ file, data, mtimeMs, renameTo }) => {
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
 * Creates `file` (it must not exist) holding `data`, its mtime set to `mtime` when given, then
 * renames it to `renameTo` when given. On an error `file` may be left behind (the caller removes
 * its temporary file); `renameTo` is only ever replaced whole.
 */
export async function writeNewFile(file: string, data: Buffer, mtime?: Date, renameTo?: string): Promise<void> {
  // a copy of exactly these bytes, moved to the worker (a Buffer may view a larger shared pool)
  const bytes = new Uint8Array(data);
  await writers.run({ file, data: bytes, mtimeMs: mtime?.getTime(), renameTo }, [bytes.buffer]);
}
