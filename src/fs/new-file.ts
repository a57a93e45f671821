/**
 * A new file written in one go: open (O_EXCL), write, mtime, close. For a small object
 * (ops/download.ts buffers those ≤ 256 KiB) every step is a syscall of a few µs to a few hundred
 * (creating an inode on ext4 spends CPU scanning recently deleted inodes, __ext4_new_inode ->
 * recently_deleted), done through libuv's thread pool so that the main thread goes on reading
 * sockets meanwhile. Measured both ways (bench S6s, 2,000 × 4 KiB, 2 cores shared with the
 * gateway): on one machine the synchronous calls were faster (the main thread was seen blocked
 * ~0.4 ms per fs.open in the pool's mutex); on a later one each synchronous open held the main
 * thread ~0.77 ms (a --cpu-prof: 1.53 s of `open` in a 4.6 s run), and this version's wall was
 * 0.91× the synchronous one's in the same run, for 7% more client CPU (docs/benchmarks.md, third
 * session of 2026-12-02). A user's gateway is seldom on the same 2 cores.
 */
import fs from 'node:fs';

/** Creates `file` (it must not exist) holding `data`, its mtime set to `mtime` when given. */
export async function writeNewFile(file: string, data: Buffer, mtime?: Date): Promise<void> {
  const fh = await fs.promises.open(file, 'wx', 0o666);
  try {
    for (let off = 0; off < data.length;) off += (await fh.write(data, off, data.length - off, off)).bytesWritten;
    if (mtime) await fh.utimes(mtime, mtime);
  } finally {
    await fh.close();
  }
}
