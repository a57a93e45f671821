/**
 * The temporary files of one hedged streamed download (ops/download.ts): each copy of the GET
 * (engine/request.ts may run two at once) streams into a file of its own, so nothing a losing
 * copy writes can reach the winner's. The caller keeps the winner's file; every other one is
 * removed, also one a losing copy creates or finishes after the race was decided.
 */
import fs from 'node:fs';

export class CopyFiles {
  /** files created by copies and not yet kept or removed */
  private readonly live = new Set<string>();
  /** opens under way: `keep` / `close` wait for them, so no file appears after they return */
  private readonly opening = new Set<Promise<unknown>>();
  private over = false;
  /** per finished copy's file: what to take back (its progress) if that file is removed after all */
  private readonly undo = new Map<string, () => void>();

  /**
   * `nextPath`: a fresh unique path beside the target; `registry`: the run's temporary files,
   * removed as a last resort when the run ends (a file is in it from before it exists).
   */
  constructor(private readonly nextPath: () => string, private readonly registry: Set<string>) {}

  /** A new file for one copy, created exclusively ('wx'); refused once the request is over. */
  async open(): Promise<{ path: string; fh: fs.promises.FileHandle }> {
    if (this.over) throw new Error('the download already has its file');
    const p = this.nextPath();
    this.registry.add(p);
    this.live.add(p);
    const opened = fs.promises.open(p, 'wx');
    this.opening.add(opened);
    let fh: fs.promises.FileHandle;
    try {
      fh = await opened;
    } catch (err) {
      this.forget(p);
      throw err;
    } finally {
      this.opening.delete(opened);
    }
    if (this.over) {
      // a losing copy started just before the winner was kept
      await fh.close();
      await this.remove(p);
      throw new Error('the download already has its file');
    }
    return { path: p, fh };
  }

  /**
   * A copy finished its file: `undo` runs if the file is removed after all (another copy won),
   * at once if it was removed already.
   */
  finished(p: string, undo: () => void): void {
    if (this.live.has(p)) this.undo.set(p, undo);
    else if (!this.kept(p)) undo();
  }

  /** A copy failed or was cut: its file goes. */
  async remove(p: string): Promise<void> {
    if (!this.live.has(p)) return;
    this.live.delete(p);
    this.undo.get(p)?.();
    this.undo.delete(p);
    await fs.promises.unlink(p).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
    this.registry.delete(p);
  }

  /** The winner's file stays (the caller renames it); every other copy's is removed, now or when it appears. */
  async keep(p: string): Promise<void> {
    this.over = true;
    this.keptPath = p;
    this.live.delete(p);
    this.undo.delete(p);
    await this.removeAll();
  }

  /** No copy won (the request failed or was interrupted): every file is removed. */
  async close(): Promise<void> {
    this.over = true;
    await this.removeAll();
  }

  /** Paths created and neither kept nor removed (tests). */
  get pending(): string[] { return [...this.live]; }

  private async removeAll(): Promise<void> {
    await Promise.allSettled([...this.opening]);
    await Promise.all([...this.live].map((p) => this.remove(p)));
  }

  private keptPath: string | undefined;

  private kept(p: string): boolean { return this.keptPath === p; }

  private forget(p: string): void {
    this.live.delete(p);
    this.registry.delete(p);
  }
}
