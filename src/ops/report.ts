/**
 * `report merge`: one summary from the `--json` outputs of the shards of one run (`--shard k/n`
 * on n machines). Counts add up, failures are concatenated, wall time is the longest shard's
 * (the shards ran side by side), rates are recomputed from those.
 */
import fs from 'node:fs';
import { UsageError } from '../errors.js';

type Json = Record<string, unknown>;

export interface MergedReport {
  shards: number;
  files: number; bytes: number; requests: number; retries: number; notAttempted: number;
  /** hedges sent, those that answered first, their payload bytes (sent twice): summed over the shards */
  hedged: number; hedgeWon: number; hedgeBytes: number;
  wallMs: number; mbps: number; objectsPerSec: number;
  failed: unknown[]; skipped: unknown[];
  interrupted: boolean;
  fatal: string[];
  plan?: { new: number; changed: number; unchanged: number; remoteOnly: number };
  deleted?: number;
}

/** The last `"type":"summary"` record of an NDJSON file. */
export function readSummary(file: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const rec = JSON.parse(line) as Json;
      if (rec.type === 'summary') return rec;
    } catch { /* not JSON: keep looking */ }
  }
  throw new UsageError(`${file} has no {"type":"summary"} record (write it with --json)`);
}

export function mergeSummaries(summaries: readonly Json[]): MergedReport {
  const num = (s: Json, k: string): number => (typeof s[k] === 'number' ? (s[k] as number) : 0);
  const arr = (s: Json, k: string): unknown[] => (Array.isArray(s[k]) ? (s[k] as unknown[]) : []);
  const merged: MergedReport = {
    shards: summaries.length, files: 0, bytes: 0, requests: 0, retries: 0, notAttempted: 0, hedged: 0, hedgeWon: 0, hedgeBytes: 0, wallMs: 0, mbps: 0, objectsPerSec: 0,
    failed: [], skipped: [], interrupted: false, fatal: [],
  };
  for (const s of summaries) {
    merged.files += num(s, 'files');
    merged.bytes += num(s, 'bytes');
    merged.requests += num(s, 'requests');
    merged.retries += num(s, 'retries');
    merged.notAttempted += num(s, 'notAttempted');
    merged.hedged += num(s, 'hedged');
    merged.hedgeWon += num(s, 'hedgeWon');
    merged.hedgeBytes += num(s, 'hedgeBytes');
    merged.wallMs = Math.max(merged.wallMs, num(s, 'wallMs'));
    merged.failed.push(...arr(s, 'failed'));
    merged.skipped.push(...arr(s, 'skipped'));
    merged.interrupted ||= s.interrupted === true;
    if (typeof s.fatal === 'string') merged.fatal.push(s.fatal);
    const p = s.plan as Record<string, number> | undefined;
    if (p) {
      merged.plan ??= { new: 0, changed: 0, unchanged: 0, remoteOnly: 0 };
      for (const k of ['new', 'changed', 'unchanged', 'remoteOnly'] as const) merged.plan[k] += p[k] ?? 0;
    }
    if (typeof s.deleted === 'number') merged.deleted = (merged.deleted ?? 0) + s.deleted;
  }
  merged.mbps = merged.wallMs > 0 ? merged.bytes / 1e6 / (merged.wallMs / 1000) : 0;
  merged.objectsPerSec = merged.wallMs > 0 ? merged.files / (merged.wallMs / 1000) : 0;
  return merged;
}
