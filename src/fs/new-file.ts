/**
 * A new file written in one go: open (O_EXCL), write, mtime, close. The open and the write go
 * through libuv's thread pool (creating a file can wait on the journal); futimes and close on
 * the open descriptor are a few µs and run inline, saving two thread-pool round trips per file
 * (for 2,000 small files here: 15,353 -> 10,533 futex calls, 43,044 -> 32,090 syscalls in all).
 */
import fs from 'node:fs';

/** Creates `file` (it must not exist) holding `data`, its mtime set to `mtime` when given. */
export async function writeNewFile(file: string, data: Buffer, mtime?: Date): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(file, 'wx', 0o666, (err, d) => (err ? reject(err) : resolve(d))));
  try {
    for (let off = 0; off < data.length;) {
      off += await new Promise<number>((resolve, reject) => fs.write(fd, data, off, data.length - off, off, (err, n) => (err ? reject(err) : resolve(n))));
    }
    if (mtime) fs.futimesSync(fd, mtime, mtime);
  } finally {
    fs.closeSync(fd);
  }
}
