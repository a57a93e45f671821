/**
 * Buffers for file and socket I/O, reused instead of allocated per read.
 *
 * Why: a fresh buffer is pages the kernel faults in and zeroes on first touch. Uploading 4 × 64
 * MiB from a fresh 16 MiB buffer per part took 1.3 s of system CPU (72,000 minor faults), and a
 * download of the same set ~25,000 faults from a fresh 1 MiB socket buffer per MiB; on a machine
 * whose cores the gateway shares, that CPU is the gateway's (docs/benchmarks.md, fourth session
 * of 2026-12-02).
 *
 * A buffer goes back to its pool only when no one can read or write it any more. For a buffer
 * handed out as slices (a socket's reads: src/endpoints/raw-get.ts), that is once its owner
 * retired it (no more reads land in it) and every slice retained was released. Holds are
 * counted per slice object, so a release without its retain does nothing (not even to a later
 * lending of the same memory); a slice never released keeps its buffer out of the pool (the
 * collector takes it).
 */

/** Free buffers of one size, at most `keepMax` kept. */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(readonly chunkBytes: number, private readonly keepMax: number) {}

  take(): Buffer { return this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes); }

  /** The caller guarantees nothing reads or writes `b` any more. */
  give(b: Buffer): void {
    if (this.free.length < this.keepMax && b.length === this.chunkBytes) this.free.push(b);
  }

  /** Buffers waiting to be reused (tests). */
  get freeCount(): number { return this.free.length; }
}

/**
 * A buffer of `pool` lent out as slices. Each lending is its own object: a second retire, or a
 * release of a slice of it, cannot touch a later lending of the same buffer.
 */
export class LentChunk {
  readonly buf: Buffer;
  refs = 0;
  private retired = false;

  constructor(private readonly pool: ChunkPool) {
    this.buf = pool.take();
    lent.set(this.buf.buffer, this);
  }

  /** The owner writes no more into the buffer: it returns once every slice is released. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.refs === 0) this.recycle();
  }

  /** A slice's holder is done with it. */
  release(): void {
    if (--this.refs === 0 && this.retired) this.recycle();
  }

  private recycle(): void {
    lent.delete(this.buf.buffer);
    this.pool.give(this.buf);
  }
}

const lent = new WeakMap<ArrayBufferLike, LentChunk>();

/** Holds per slice object: which lending it belongs to, and how many times it is retained. */
const holds = new WeakMap<Uint8Array, { of: LentChunk; n: number }>();

/** One more holder of a slice of a lent buffer (no-op for any other buffer); only a slice already held may be retained. */
export function retainSlice(s: Uint8Array): void {
  const h = holds.get(s);
  const of = h?.of ?? lent.get(s.buffer);
  if (!of) return;
  of.refs++;
  if (h) h.n++;
  else holds.set(s, { of, n: 1 });
}

/** A holder is done with the slice: nothing of it is read after this call. */
export function releaseSlice(s: Uint8Array): void {
  const h = holds.get(s);
  if (!h) return;
  if (--h.n === 0) holds.delete(s);
  h.of.release();
}
