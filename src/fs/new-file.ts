/**
 * A new file written in one go, synchronously: open (O_EXCL), write, mtime, close, all on the
 * calling thread. For a small object (ops/download.ts buffers those ≤ 256 KiB) every step is a
 * syscall of a few µs to a few hundred (creating an inode on ext4 spends CPU scanning recently
 * deleted inodes, __ext4_new_inode -> recently_deleted, the same CPU whichever thread pays it).
 * Through libuv's thread pool each step also costs a hand-off: a futex wake, a worker switch, an
 * eventfd write and an epoll wake-up; on 2 busy cores the main thread was seen blocked in the
 * pool's mutex for ~0.4 ms per fs.open (the `open` frame of a --cpu-prof of a 2,000-file download).
 */
import fs from 'node:fs';

/** Creates `file` (it must not exist) holding `data`, its mtime set to `mtime` when given. */
export function writeNewFileSync(file: string, data: Buffer, mtime?: Date): void {
  const fd = fs.openSync(file, 'wx', 0o666);
  try {
    for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off, off);
    if (mtime) fs.futimesSync(fd, mtime, mtime);
  } finally {
    fs.closeSync(fd);
  }
}
