/**
 * Everything the CLI draws: the per-request table (cli-table3), the summary, NDJSON records,
 * and live progress (ora, only when stderr is a terminal).
 */
import { type EndpointSummary, formatBytes, type RequestReport, type UploadProgress, type UploadSummary } from '../index.js';
import { createSpinner, hedgeLine, plural, secs } from './render-objects.js';
import { printable } from './printable.js';

export type Write = (text: string) => void;

/**
 * s3-algo's columns, plus key and endpoint first, and what shows the algorithm at work: each
 * attempt's deadline (ms, `a/b` for two attempts) and whether a hedge was sent ("sent") and
 * answered first ("won"). (cli-table3 loads only when a table is drawn.)
 */
export async function renderRequestTable(reports: readonly RequestReport[]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({
    head: ['key', 'endpoint', 'attempts', 'bytes', 'success_ms', 'total_ms', 'MBps', 'MBps est', 'deadline_ms', 'hedged'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    style: { head: [], border: [], compact: true },
  });
  for (const r of reports) {
    const key = printable(r.key);
    const label = r.part !== undefined ? `${key} #${r.part}` : r.op === 'PutObject' || r.op === 'GetObject' ? key : `${key} (${r.op})`;
    table.push([
      label, printable(r.endpoint), r.attempts, r.bytes, r.successMs.toFixed(1), r.totalMs.toFixed(1),
      r.ok ? r.mbps.toFixed(2) : `failed: ${printable(r.error ?? '')}`, r.mbpsEst.toFixed(2),
      r.deadlinesMs.join('/'), r.hedged === 0 ? '' : r.hedgeWon ? 'won' : 'sent',
    ]);
  }
  return table.toString();
}

/** `--stats`: one row per endpoint. */
export async function renderEndpointStats(endpoints: readonly EndpointSummary[]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const replicate = endpoints.some((e) => e.filesOk !== undefined);
  const table = new Table({
    head: ['endpoint', 'url', 'requests', 'bytes', 'errors', 'retries', 'in-flight peak', 'breaker', 'MBps est', 'latency est ms', 'hedged (won)', ...(replicate ? ['objects ok', 'missing'] : [])],
    style: { head: [], border: [], compact: true },
  });
  for (const e of endpoints) {
    table.push([
      e.name, e.url, e.requests, formatBytes(e.bytes), e.errors, e.retries, e.inFlightPeak,
      [e.breaker, ...e.breakerTransitions.map((t) => `${t.to}@${(t.atMs / 1000).toFixed(1)}s`)].join(' '),
      e.mbpsEst.toFixed(2), e.latencyMsEst.toFixed(1), `${e.hedged} (${e.hedgeWon})`, ...(replicate ? [e.filesOk ?? 0, e.filesFailed ?? 0] : []),
    ]);
  }
  return table.toString();
}


export function renderUploadSummary(s: UploadSummary): string {
  const target = printable(`s3://${s.bucket}/${s.prefix ? `${s.prefix}/` : ''}`);
  const lines: string[] = [];
  if (s.dryRun) {
    lines.push(`Dry run: would upload ${plural(s.files, 'file')}, ${formatBytes(s.bytes)} to ${target} (nothing sent)`);
  } else {
    const verb = s.interrupted ? 'Interrupted after uploading' : s.fatal ? 'Stopped after uploading' : 'Uploaded';
    lines.push(`${verb} ${plural(s.files, 'file')}, ${formatBytes(s.bytes)} to ${target} in ${secs(s.wallMs)}: ` +
      `${s.mbps.toFixed(1)} MB/s, ${s.objectsPerSec.toFixed(1)} objects/s`);
    lines.push(`Requests: ${s.requests}, retries: ${s.retries}, over ${s.endpoints.length} endpoint${s.endpoints.length === 1 ? '' : 's'}` +
      (s.endpoints.length > 1 ? ` (${s.endpoints.map((e) => `${e.name} ${e.url}: ${e.requests}`).join(', ')})` : ''));
    const hedges = hedgeLine(s);
    if (hedges) lines.push(hedges);
  }
  for (const e of s.endpoints) {
    const opened = e.breakerTransitions.filter((t) => t.to === 'open');
    if (opened.length === 0) continue;
    const first = opened[0]!;
    lines.push(`Endpoint ${e.name} ${e.url}: breaker opened at ${(first.atMs / 1000).toFixed(1)} s after ${first.reason ?? 'failures'}` +
      (opened.length > 1 ? ` (${opened.length} times)` : '') + `; now ${e.breaker}; ${e.errors} errors`);
  }
  if (s.endpoints.some((e) => e.filesOk !== undefined)) {
    lines.push(`Replicas: ${s.endpoints.map((e) => `${e.name} ${e.filesOk} stored${e.filesFailed ? `, ${e.filesFailed} MISSING` : ''}`).join('; ')}`);
  }
  if (s.notAttempted > 0) lines.push(`Not attempted: ${plural(s.notAttempted, 'file')} (run again to send them)`);
  if (s.skipped.length > 0) {
    lines.push(`Skipped: ${s.skipped.length}`);
    const shown = s.skipped.slice(0, 20);
    for (const k of shown) lines.push(`  ${printable(k.rel)}: ${printable(k.reason)}`);
    if (s.skipped.length > shown.length) lines.push(`  … and ${s.skipped.length - shown.length} more (see --json or --log-level info)`);
  }
  if (s.failed.length > 0) {
    lines.push(`Failed: ${plural(s.failed.length, 'file')}`);
    for (const f of s.failed) lines.push(`  ${printable(f.path)}${f.endpoint ? ` (on ${printable(f.endpoint)})` : ''}: ${printable(f.error)}`);
  } else if (!s.dryRun) {
    lines.push('Failed: 0');
  }
  return lines.join('\n');
}

/** The upload/sync progress line: files, bytes, rate (only drawn when stderr is a terminal). */
export function createProgress(enabled: boolean): Promise<{ update(p: UploadProgress): void; stop(): void }> {
  return createSpinner(enabled, (p: UploadProgress) => {
    const rate = p.elapsedMs > 0 ? p.bytesDone / 1e6 / (p.elapsedMs / 1000) : 0;
    const total = p.walkDone ? `/${p.filesFound}` : ` (${p.filesFound} found)`;
    return `${p.filesDone}${total} files, ${formatBytes(p.bytesDone)}, ${rate.toFixed(1)} MB/s` + (p.filesFailed ? `, ${p.filesFailed} failed` : '');
  }, 'walking…');
}

