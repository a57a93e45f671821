/**
 * Parsing and formatting of the human units s3x accepts and prints.
 * Sizes accept bytes or a binary/decimal suffix: `8388608`, `8MiB`, `8M` (= MiB, as aws-cli),
 * `500KB` (decimal), `1.5GiB`.
 */
import { UsageError } from '../errors.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, ki: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
  t: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

/** Parses "16MiB" / "8M" / "1048576" into bytes; throws UsageError naming `what` otherwise. */
export function parseSizeBytes(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what}: '${text}' is not a size (examples: 8MiB, 16M, 1048576)`);
  }
  return Math.round(Number(m[1]) * unit);
}

/** Parses a whole number within [min, max]; throws UsageError naming `what` otherwise. */
export function parseIntInRange(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${what}: '${text}' must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Parses a positive decimal number within [min, max]. */
export function parseNumberInRange(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${what}: '${text}' must be a number from ${min} to ${max}`);
  }
  return n;
}

/** 1536 → "1.5 KiB"; exact bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Bytes over milliseconds as MB/s (10^6 bytes, as s3-algo and aws-cli report). */
export function mbps(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : 0;
}

/** Node fires a timer above 2^31−1 ms (or NaN, or Infinity) after 1 ms: every computed wait goes through clampTimerMs. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A wait for setTimeout: within Node's range, and in whole ms, rounded up. Node keeps one list of
 * timers per distinct duration: fractional durations (every request's deadline and hedge time)
 * made a list per timer, put into and taken out of a heap each time.
 */
export function clampTimerMs(ms: number): number {
  return ms > 0 ? Math.min(Math.ceil(ms), MAX_TIMER_MS) : 0;
}

/**
 * `--bwlimit`: bytes per second sent and received together (one value: one bucket for both
 * ways, as rclone), or each way (`UP:DOWN`); an absent field is no limit.
 */
export interface BwLimit {
  bytesPerSecond?: number;
  upBytesPerSecond?: number;
  downBytesPerSecond?: number;
}

/** Slowest limit accepted: a body is taken in chunks of at least 1 KiB (endpoints/limited-store.ts). */
export const MIN_BWLIMIT_BYTES_PER_SECOND = 1024;

const RATE_PREFIX: Record<string, number> = { '': 1, k: 1, m: 2, g: 3, t: 4 };

/**
 * One rate as rclone reads `--bwlimit`: a bare number is KiB/s, `B` bytes, `K`/`M`/`G`/`T`
 * (or `KiB`, `MiB`…) powers of 1024, `KB`/`MB`… powers of 1000; `/s` optional; `off` or 0: none.
 * Returns bytes per second, 0 for none; undefined when `text` is not a rate.
 */
function rateBytesPerSecond(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === '') return t === 'off' ? 0 : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(?:(b)|([kmgt]?)(i?b?))?(?:\/s)?$/.exec(t);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] === 'b') return Math.round(n);
  const prefix = m[3] ?? '';
  const suffix = m[4] ?? '';
  if (prefix === '') return suffix === '' ? Math.round(n * 1024) : undefined; // bare: KiB/s, as rclone
  const decimal = suffix === 'b';
  return Math.round(n * (decimal ? 1000 : 1024) ** RATE_PREFIX[prefix]!);
}

/** Parses `--bwlimit` (`10M`, `512k`, `50MiB/s`, `50MB/s`, `off`, or `UP:DOWN` such as `10M:off`); throws UsageError naming `what`. */
export function parseBwLimit(text: string, what: string): BwLimit {
  const parts = text.split(':');
  const rates = parts.length <= 2 ? parts.map(rateBytesPerSecond) : [undefined];
  if (rates.some((r) => r === undefined)) {
    throw new UsageError(`${what}: '${text}' is not a bandwidth (examples: 10M = 10 MiB/s, 512k, 50MiB/s, 50MB/s, off; UP:DOWN as 10M:off)`);
  }
  for (const r of rates as number[]) {
    if (r > 0 && r < MIN_BWLIMIT_BYTES_PER_SECOND) throw new UsageError(`${what}: '${text}' is below the smallest limit, 1KiB/s (use off or 0 for none)`);
    if (!Number.isSafeInteger(r)) throw new UsageError(`${what}: '${text}' is too large`);
  }
  const [up, down] = rates as number[];
  if (down === undefined) return up! > 0 ? { bytesPerSecond: up! } : {};
  return { ...(up! > 0 && { upBytesPerSecond: up }), ...(down > 0 && { downBytesPerSecond: down }) };
}
