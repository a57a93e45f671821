/**
 * Directories under a download root, made safe once and re-checked cheaply for every file.
 *
 * `ensure` creates a directory one level at a time, refusing anything on the way that is not a
 * real directory (a symbolic link could lead outside the root); each directory is checked once
 * per run and remembered with its real path. The tree can change while the run goes on (another
 * process may replace a checked directory by a link), so `recheck`, called right before a file is
 * created in a directory, compares the directory's real path now with the one remembered: one
 * realpath call per file instead of an lstat of every level. A swap in the microseconds between
 * that check and the open cannot be excluded without openat(2), which Node does not offer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isWithin } from './safe-path.js';

/** An error the retry table and the summary read by its code. */
function coded(code: string, message: string): Error {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.name = code;
  e.code = code;
  return e;
}

export function refusedError(reason: string): Error {
  return coded('Refused', `refused: the key ${reason}; s3x never writes outside the directory`);
}

export class SafeDirs {
  /** directory → its real path once checked (a failed check stays failed for the run) */
  private readonly done = new Map<string, Promise<string>>();
  /** the same, for the directories whose check has passed */
  private readonly checked = new Map<string, string>();

  /** `root`: the real path of the download directory. */
  constructor(private readonly root: string) {
    this.done.set(root, Promise.resolve(root));
    this.checked.set(root, root);
  }

  /** Makes `dir` (inside root) exist as a real directory, every level checked; once per run. */
  ensure(dir: string): Promise<void> {
    return this.real(dir).then(() => undefined);
  }

  /**
   * Right before a file is created in `dir` (after `ensure`): it still is the directory checked.
   * Synchronous on purpose: one realpath(3) is ~10 µs here, less than a round trip through
   * libuv's thread pool, which on a loaded machine costs a context switch per call.
   */
  recheck(dir: string): void {
    const was = this.checkedReal(dir);
    let now: string | undefined;
    try {
      now = fs.realpathSync.native(dir);
    } catch {
      now = undefined;
    }
    if (now !== was) throw this.swapped(dir, now);
  }

  /** The real path `dir` had when `ensure` checked it: to compare with where a file is made (./new-file.ts). */
  checkedReal(dir: string): string {
    const was = this.checked.get(dir);
    if (was === undefined) throw new Error(`SafeDirs: ${dir} was never ensured`);
    return was;
  }

  /** The refusal for `dir` found away from its checked real path (`now`: its real path now; undefined: gone). */
  swapped(dir: string, now: string | undefined): Error {
    return this.linked(dir, now === undefined ? 'is gone' : 'was replaced by a symbolic link');
  }

  private real(dir: string): Promise<string> {
    let p = this.done.get(dir);
    if (!p) {
      p = this.make(dir);
      this.done.set(dir, p);
    }
    return p;
  }

  private async make(dir: string): Promise<string> {
    if (!isWithin(this.root, dir)) throw refusedError('would resolve outside the directory');
    await this.real(path.dirname(dir));
    let st = await fs.promises.lstat(dir).catch(() => undefined);
    if (!st) {
      try {
        await fs.promises.mkdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      st = await fs.promises.lstat(dir);
    }
    if (st.isSymbolicLink()) throw coded('Refused', `refused: ${path.relative(this.root, dir)} is a symbolic link; s3x never writes through one`);
    if (!st.isDirectory()) throw coded('ENOTDIR', `${path.relative(this.root, dir)} exists and is not a directory`);
    const real = await fs.promises.realpath(dir);
    // every level was lstat-ed above; a link swapped in meanwhile shows here
    if (!isWithin(this.root, real)) throw this.linked(dir, 'was replaced by a symbolic link');
    this.checked.set(dir, real);
    return real;
  }

  private linked(dir: string, how: string): Error {
    const rel = path.relative(this.root, dir) || '.';
    return coded('Refused', `refused: the directory ${rel} ${how} during the run; s3x never writes through a link`);
  }
}
