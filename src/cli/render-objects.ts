/**
 * What `ls`, `delete-prefix` and `download` draw: listing lines, summaries, and a generic live
 * spinner (ora, only when stderr is a terminal). The request table is render.ts's.
 */
import {
  type DeleteSummary, type DownloadSummary, type EndpointSummary, formatBytes, type ListEntry, type ListSummary,
} from '../index.js';
import { printable } from './printable.js';

/** "1 file", "2 files" (or the given plural). */
export const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;
/** 1234 → "1.23 s" */
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * ora spinner whose text `format` makes from each update; a no-op (ora never loaded) when stderr is
 * not a terminal, or is one of 0 columns (a pty nobody sized: ora 9 then loops clearing lines forever).
 */
export async function createSpinner<P>(enabled: boolean, format: (p: P) => string, firstText = 'listing…'): Promise<{ update(p: P): void; stop(): void }> {
  if (!enabled || !process.stderr.isTTY || !(process.stderr.columns > 0)) return { update() {}, stop() {} };
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: process.stderr, text: firstText, discardStdin: false }).start();
  return { update(p) { spinner.text = format(p); }, stop() { spinner.stop(); } };
}

function requestsLine(requests: number, retries: number, endpoints: readonly EndpointSummary[]): string {
  return `Requests: ${requests}, retries: ${retries}, over ${plural(endpoints.length, 'endpoint')}` +
    (endpoints.length > 1 ? ` (${endpoints.map((e) => `${e.name} ${e.url}: ${e.requests}`).join(', ')})` : '');
}

/** "Hedged: 12 (won 9), 48.0 KiB sent twice" when a run sent hedges; '' otherwise. */
export function hedgeLine(s: { hedged?: number; hedgeWon?: number; hedgeBytes?: number }): string {
  if (!s.hedged) return '';
  return `Hedged: ${s.hedged} (won ${s.hedgeWon ?? 0}), ${formatBytes(s.hedgeBytes ?? 0)} sent twice`;
}

/** Names up to `max` failures, then counts the rest. */
function nameFailures(lines: string[], items: readonly { key: string; error: string }[], total: number, max: number): void {
  const shown = items.slice(0, max);
  for (const f of shown) lines.push(`  ${printable(f.key)}: ${printable(f.error)}`);
  if (total > shown.length) lines.push(`  … and ${total - shown.length} more (see --json, or the log at --log-level warn)`);
}

export function renderDeleteSummary(s: DeleteSummary): string {
  const target = printable(`s3://${s.bucket}/${s.prefix}`);
  if (s.dryRun) return `Dry run: would delete ${plural(s.deleted, 'object')}, ${formatBytes(s.bytes)} under ${target} (nothing deleted)`;
  const verb = s.interrupted ? 'Interrupted after deleting' : s.fatal ? 'Stopped after deleting' : 'Deleted';
  const lines = [
    `${verb} ${plural(s.deleted, 'object')}, ${formatBytes(s.bytes)} under ${target} in ${secs(s.wallMs)}: ${s.objectsPerSec.toFixed(1)} objects/s`,
    requestsLine(s.requests, s.retries, s.endpoints),
  ];
  // replicate mode: what each store deleted (a key counts above only when every store deleted it)
  if (s.endpoints.some((e) => e.filesOk !== undefined)) {
    lines.push(`Stores: ${s.endpoints.map((e) => `${e.name} ${e.filesOk ?? 0} deleted${e.filesFailed ? `, ${e.filesFailed} FAILED` : ''}`).join('; ')}`);
  }
  if (s.notAttempted > 0) lines.push(`Not attempted: ${plural(s.notAttempted, 'object')} (run again to delete them)`);
  if (s.failedCount > 0) {
    lines.push(`Failed: ${plural(s.failedCount, 'object')}`);
    nameFailures(lines, s.failed, s.failedCount, 100);
  } else {
    lines.push('Failed: 0');
  }
  return lines.join('\n');
}

export function renderDownloadSummary(s: DownloadSummary): string {
  const verb = s.interrupted ? 'Interrupted after downloading' : s.fatal ? 'Stopped after downloading' : 'Downloaded';
  const lines = [
    `${verb} ${plural(s.files, 'file')}, ${formatBytes(s.bytes)} from ${printable(`s3://${s.bucket}/${s.prefix}`)} to ${printable(s.dir)} in ${secs(s.wallMs)}: ` +
      `${s.mbps.toFixed(1)} MB/s, ${s.objectsPerSec.toFixed(1)} objects/s`,
    requestsLine(s.requests, s.retries, s.endpoints),
  ];
  if (s.hedged) lines.push(hedgeLine(s));
  if (s.skipped > 0) lines.push(`Skipped: ${plural(s.skipped, 'file')} already there with the same size`);
  if (s.directories > 0) lines.push(`Directories made from "folder/" markers: ${s.directories}`);
  if (s.notAttempted > 0) lines.push(`Not attempted: ${plural(s.notAttempted, 'object')} (run again with --skip-existing to fetch the rest)`);
  if (s.failed.length > 0) {
    lines.push(`Failed: ${plural(s.failed.length, 'object')}`);
    nameFailures(lines, s.failed, s.failed.length, Number.POSITIVE_INFINITY);
  } else {
    lines.push('Failed: 0');
  }
  return lines.join('\n');
}

/** One `ls` line: `2026-01-31 12:00:00  <size> key` (UTC), or `PRE <prefix>` for a folder. */
export function renderListEntry(e: ListEntry, human: boolean): string {
  if (e.type === 'prefix') return `${' '.repeat(19)}  ${'PRE'.padStart(12)} ${printable(e.prefix)}`;
  const when = e.lastModified ? e.lastModified.toISOString().slice(0, 19).replace('T', ' ') : '-'.padEnd(19);
  const size = human ? formatBytes(e.bytes) : String(e.bytes);
  return `${when}  ${size.padStart(12)} ${printable(e.key)}`;
}

export function renderListSummary(s: ListSummary, human: boolean): string {
  const bytes = human ? formatBytes(s.bytes) : plural(s.bytes, 'byte');
  const prefixes = s.recursive ? '' : `, ${plural(s.prefixes, 'prefix', 'prefixes')}`;
  return `Total: ${plural(s.objects, 'object')}, ${bytes}${prefixes}${s.interrupted ? ' (interrupted: the listing is incomplete)' : ''}`;
}
