/**
 * `perf-data`: s3-algo's benchmark runs. Upload one directory `runs` times through the same
 * engine as `upload`, and report per request (s3-algo's columns), per run, and across runs
 * (median, min, max), plus what a performance engineer needs: client CPU per request, peak RSS,
 * retries. `--generate` makes a deterministic tree so runs are comparable between machines.
 */
import os from 'node:os';
import path from 'node:path';
import type { Credentials } from '../config/options.js';
import { UsageError } from '../errors.js';
import type { GenerateSpec } from '../fs/generate.js';

export { ensureGenerated } from '../fs/generate.js';
import { parseSizeBytes } from '../config/units.js';
import { upload, type UploadOptions, type UploadSummary } from './upload.js';

export interface PerfRun {
  run: number;
  summary: UploadSummary;
  /** user + system CPU of this process during the run, ms */
  cpuMs: number;
  cpuMsPerRequest: number;
}

export interface Stat { median: number; min: number; max: number }

export interface PerfSummary {
  runs: PerfRun[];
  wallMs: Stat;
  mbps: Stat;
  objectsPerSec: Stat;
  cpuMsPerRequest: Stat;
  /** peak resident set size of this process over all runs, bytes */
  peakRssBytes: number;
  retries: number;
  failed: number;
}

export function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: mid, min: s[0] ?? 0, max: s.at(-1) ?? 0 };
}

/** "files=2000,size=4KiB,dirs=20" → GenerateSpec */
export function parseGenerate(text: string): GenerateSpec {
  const spec: Partial<GenerateSpec> = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=').map((x) => x.trim());
    if (!k || v === undefined) throw new UsageError(`--generate '${text}': expected files=N,size=S[,dirs=D]`);
    if (k === 'files' || k === 'dirs') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 10_000_000) throw new UsageError(`--generate ${k}: '${v}' must be a whole number`);
      spec[k === 'files' ? 'files' : 'dirs'] = n;
    } else if (k === 'size') spec.sizeBytes = parseSizeBytes(v, '--generate size');
    else if (k === 'seed') spec.seed = Number(v);
    else throw new UsageError(`--generate: unknown key '${k}' (files, size, dirs, seed)`);
  }
  if (spec.files === undefined || spec.sizeBytes === undefined) throw new UsageError(`--generate '${text}': files= and size= are required`);
  return spec as GenerateSpec;
}

/**
 * Creates the bucket on a local endpoint if it is missing (perf-data --local only). Credentials
 * default to the AWS chain; the CLI passes the local gateways' own.
 */
export async function ensureBucket(endpoint: string, bucket: string, auth: { region?: string; credentials?: Credentials } = {}): Promise<void> {
  // loaded here only: importing the SDK costs every other command ~0.2 s of CPU at start-up
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({
    endpoint, forcePathStyle: true, region: auth.region ?? 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(auth.credentials && { credentials: auth.credentials }),
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  } finally {
    s3.destroy();
  }
}

export async function perfData(opts: UploadOptions & { runs: number; onRun?: (r: PerfRun) => void }): Promise<PerfSummary> {
  if (!Number.isInteger(opts.runs) || opts.runs < 1 || opts.runs > 1000) throw new UsageError(`-n must be from 1 to 1000, got ${opts.runs}`);
  const runs: PerfRun[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    if (opts.signal?.aborted) break;
    const cpu0 = process.cpuUsage();
    const summary = await upload(opts);
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const r: PerfRun = { run, summary, cpuMs, cpuMsPerRequest: summary.requests > 0 ? cpuMs / summary.requests : 0 };
    runs.push(r);
    opts.onRun?.(r);
    if (summary.interrupted || summary.fatal) break;
  }
  return {
    runs,
    wallMs: stat(runs.map((r) => r.summary.wallMs)),
    mbps: stat(runs.map((r) => r.summary.mbps)),
    objectsPerSec: stat(runs.map((r) => r.summary.objectsPerSec)),
    cpuMsPerRequest: stat(runs.map((r) => r.cpuMsPerRequest)),
    // ru_maxrss is in KiB on Linux
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    retries: runs.reduce((n, r) => n + r.summary.retries, 0),
    failed: runs.reduce((n, r) => n + r.summary.failed.length, 0),
  };
}

/** A scratch directory for a generated tree, stable per spec so repeated calls reuse it. */
export function generatedDir(spec: GenerateSpec): string {
  return path.join(os.tmpdir(), `s3x-perf-${spec.files}x${spec.sizeBytes}-d${spec.dirs ?? 0}-s${spec.seed ?? 1}`);
}
