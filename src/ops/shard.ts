/**
 * --shard k/n: n machines each take the files whose key hashes to their shard, so together they
 * send the whole tree once. Checked here for every caller (the CLI's text and library objects).
 */
import crypto from 'node:crypto';
import { UsageError } from '../errors.js';

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

/** The largest n of --shard k/n. */
export const MAX_SHARD_COUNT = 100_000;

/** Shard membership by a hash of the key: stable across runs, machines and walk orders. */
export function shardOf(key: string, count: number): number {
  return crypto.createHash('md5').update(key).digest().readUInt32BE(0) % count;
}

function isValidShard(s: Shard): boolean {
  return Number.isInteger(s.count) && s.count >= 1 && s.count <= MAX_SHARD_COUNT && Number.isInteger(s.index) && s.index >= 1 && s.index <= s.count;
}

/** "2/5" → { index: 2, count: 5 }; UsageError unless 1 ≤ k ≤ n ≤ 100000. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const shard = { index: m ? Number(m[1]) : NaN, count: m ? Number(m[2]) : NaN };
  if (!m || !isValidShard(shard)) throw new UsageError(`--shard '${text}': expected k/n with 1 ≤ k ≤ n ≤ ${MAX_SHARD_COUNT} (e.g. 2/4)`);
  return shard;
}

/** Is this key in the shard? Every key when there is no shard; UsageError for an invalid one. */
export function shardFilter(shard: Shard | undefined): (key: string) => boolean {
  if (!shard) return () => true;
  if (!isValidShard(shard)) {
    throw new UsageError(`--shard must be k/n with 1 ≤ k ≤ n ≤ ${MAX_SHARD_COUNT}, got ${shard.index}/${shard.count}`);
  }
  return (key) => shardOf(key, shard.count) === shard.index - 1;
}
