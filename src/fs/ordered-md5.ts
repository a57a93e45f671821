/**
 * The MD5 of a file written as parallel ranged parts, computed while the parts arrive: MD5 is
 * sequential, so bytes are hashed in file order. The part that holds the hashed frontier is hashed
 * as its chunks come in; chunks of parts further on are held (the Buffers the socket gave, no copy)
 * until the frontier reaches them. Held bytes are bounded by a budget shared by the run: a part
 * that would exceed it stops being held, and only its bytes past that point are read back from
 * the file at the end (`digest`). With the budget large enough, nothing is read twice.
 */
import crypto from 'node:crypto';
import { releaseSlice, retainSlice } from './chunk-pool.js';

/** Bytes that may be held across every OrderedMd5 of a run. */
export interface HoldBudget {
  bytes: number;
}

/** Reads `length` bytes of the file at `position` into a new Buffer (fewer only at end of file). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

interface Part {
  /** first byte, and one past the last */
  start: number;
  end: number;
  /** next byte the current attempt writes */
  pos: number;
  /** chunks waiting for the frontier, contiguous from `start` (or from the frontier) */
  held: Buffer[];
  heldBytes: number;
  /** this attempt stopped holding: the part's bytes past the held ones are read back by `digest` */
  dropped: boolean;
  complete: boolean;
}

export class OrderedMd5 {
  private hash = crypto.createHash('md5');
  /** bytes [0, frontier) are hashed */
  private frontier = 0;
  /** index of the part that holds the frontier */
  private fi = 0;
  private readonly parts: Part[];
  /** bytes read back from the file by `digest` (0 unless the budget ran out or a hashed part was retried) */
  readBackBytes = 0;
  /**
   * A part was retried after some of its bytes were hashed: the retry writes those bytes again,
   * and only the file holds what was finally written, so `digest` hashes the whole file.
   */
  private rehash = false;

  /** `ranges`: the parts in file order, inclusive byte ranges covering the file without gaps. */
  constructor(ranges: ReadonlyArray<{ start: number; end: number }>, private readonly budget: HoldBudget) {
    this.parts = ranges.map((r) => ({ start: r.start, end: r.end + 1, pos: r.start, held: [], heldBytes: 0, dropped: false, complete: false }));
  }

  /** A new attempt of part `i` starts: it writes again from the part's first byte. */
  attempt(i: number): void {
    const p = this.parts[i]!;
    if (this.frontier > p.start) this.rehash = true;
    this.release(p);
    p.pos = p.start;
    p.dropped = false;
    p.complete = false;
  }

  /** The next bytes of part `i`'s current attempt (chunks in order; bytes past the part are ignored). */
  write(i: number, chunk: Buffer): void {
    const p = this.parts[i]!;
    const at = p.pos;
    const b = at + chunk.length > p.end ? chunk.subarray(0, Math.max(0, p.end - at)) : chunk;
    p.pos += b.length;
    if (b.length === 0) return;
    if (at <= this.frontier) {
      // the frontier is in this chunk (or past it: bytes an earlier attempt already hashed)
      if (at + b.length > this.frontier) {
        this.hash.update(this.frontier === at ? b : b.subarray(this.frontier - at));
        this.frontier = at + b.length;
        if (this.frontier === p.end) this.pump();
      }
      return;
    }
    if (p.dropped) return;
    if (this.budget.bytes < b.length) {
      p.dropped = true;
      return;
    }
    this.budget.bytes -= b.length;
    retainSlice(b); // a socket buffer (./chunk-pool.ts) is not reused while held here
    p.held.push(b);
    p.heldBytes += b.length;
  }

  /** Part `i`'s attempt delivered its last byte. */
  complete(i: number): void {
    this.parts[i]!.complete = true;
  }

  /** The MD5 (hex) once every part is complete; bytes not held are read back with `readAt`. */
  async digest(readAt: ReadAt): Promise<string> {
    const size = this.parts.at(-1)?.end ?? 0;
    if (this.rehash) {
      if (!this.parts.every((p) => p.complete)) throw new Error('OrderedMd5: digest before every part is complete');
      this.abandon();
      this.hash = crypto.createHash('md5');
      this.frontier = 0;
      this.fi = 0;
      for (const p of this.parts) p.dropped = true;
    }
    for (this.pump(); this.frontier < size; this.pump()) {
      const p = this.frontierPart()!;
      if (!p.complete) throw new Error('OrderedMd5: digest before every part is complete');
      this.release(p);
      const step = 4 * 1024 * 1024;
      for (let at = this.frontier; at < p.end; at += step) {
        const b = await readAt(at, Math.min(step, p.end - at));
        if (b.length !== Math.min(step, p.end - at)) throw new Error(`OrderedMd5: short read at ${at}`);
        this.hash.update(b);
        this.readBackBytes += b.length;
      }
      this.frontier = p.end;
    }
    return this.hash.digest('hex');
  }

  /** Gives every held byte back to the budget (the download failed). */
  abandon(): void {
    for (const p of this.parts) this.release(p);
  }

  /** Hashes held chunks at the frontier, part after part, while they are contiguous. */
  private pump(): void {
    for (;;) {
      const p = this.frontierPart();
      if (!p || p.held.length === 0) return;
      // held chunks start at the part's first byte: held only while the frontier was before it
      let at = p.start;
      for (const b of p.held) {
        if (at + b.length > this.frontier) this.hash.update(at >= this.frontier ? b : b.subarray(this.frontier - at));
        at += b.length;
        this.frontier = Math.max(this.frontier, at);
      }
      this.release(p);
      if (this.frontier < p.end) return; // the rest of this part comes inline, or is read back
    }
  }

  /** The part that holds the frontier (undefined at the end); the frontier only moves forward. */
  private frontierPart(): Part | undefined {
    while (this.fi < this.parts.length && this.parts[this.fi]!.end <= this.frontier) this.fi++;
    return this.parts[this.fi];
  }

  private release(p: Part): void {
    this.budget.bytes += p.heldBytes;
    for (const b of p.held) releaseSlice(b);
    p.held = [];
    p.heldBytes = 0;
  }
}
