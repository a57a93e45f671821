/**
 * Deterministic synthetic trees for demos and benchmarks: the same (files, size, dirs, seed)
 * always gives the same paths and bytes, so runs are comparable across tools and machines.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface GenerateSpec {
  /** number of files */
  files: number;
  /** size of each file, bytes */
  sizeBytes: number;
  /** files are spread over this many nested directories (0 = all at the top) */
  dirs?: number;
  /** PRNG seed; default 1 */
  seed?: number;
}

/** Writes the tree under `root` (created if missing); returns the total bytes written. */
export async function generateTree(root: string, spec: GenerateSpec): Promise<number> {
  const dirs = spec.dirs ?? 0;
  let total = 0;
  // a seeded keystream (AES-CTR over zeros) is fast and reproducible
  const key = crypto.createHash('sha256').update(`s3x-generate-${spec.seed ?? 1}`).digest();
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const chunk = Buffer.alloc(Math.min(spec.sizeBytes, 4 * 1024 * 1024));
  for (let i = 0; i < spec.files; i++) {
    const sub = dirs > 0 ? path.join(`d${i % dirs}`, `e${Math.floor(i / dirs) % 4}`) : '';
    const p = path.join(root, sub, `f${String(i).padStart(6, '0')}.bin`);
    await fs.promises.mkdir(path.dirname(p), { recursive: true });
    const fh = await fs.promises.open(p, 'w');
    try {
      for (let left = spec.sizeBytes; left > 0; left -= chunk.length) {
        const n = Math.min(left, chunk.length);
        await fh.write(cipher.update(chunk.subarray(0, n)));
      }
    } finally {
      await fh.close();
    }
    total += spec.sizeBytes;
  }
  return total;
}
