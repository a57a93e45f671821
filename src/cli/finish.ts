/**
 * The end of every transfer command (upload, sync, download, delete-prefix): the per-request
 * table, the summary (NDJSON or text, with --stats), the error line of a run stopped by a fatal
 * error, and the exit code (2 fatal, 130 interrupted, 1 some objects failed, else 0).
 */
import { type EndpointSummary, EXIT, type RequestReport } from '../index.js';
import type { CliContext } from './context.js';
import { printable } from './printable.js';
import { renderEndpointStats, renderRequestTable } from './render.js';

export interface RunEnd {
  endpoints: EndpointSummary[];
  interrupted: boolean;
  fatal?: string;
}

/** Each request as it ends: an NDJSON line with --json, kept for the table with --table. */
export function reportSink(ctx: CliContext, flags: { table?: boolean; json?: boolean }, reports: RequestReport[]): ((r: RequestReport) => void) | undefined {
  // none wanted: the engine then builds no report per request
  if (!flags.json && !flags.table) return undefined;
  return (r) => {
    if (flags.json) ctx.out(`${JSON.stringify({ type: 'request', ...r })}\n`);
    if (flags.table) reports.push(r);
  };
}

export async function finishRun(
  ctx: CliContext,
  flags: { table?: boolean; json?: boolean; stats?: boolean },
  reports: readonly RequestReport[],
  summary: RunEnd,
  text: () => string,
  failedCount: number,
): Promise<void> {
  if (flags.table && reports.length > 0) ctx.out(`${await renderRequestTable(reports)}\n`);
  if (flags.json) ctx.out(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
  else {
    if (flags.stats && summary.endpoints.length > 0) ctx.out(`${await renderEndpointStats(summary.endpoints)}\n`);
    ctx.out(`${text()}\n`);
  }
  if (summary.fatal) {
    ctx.err(`s3x: error: ${printable(summary.fatal)}\n`);
    ctx.exitCode = EXIT.USAGE;
  } else if (summary.interrupted) ctx.exitCode = EXIT.INTERRUPTED;
  else ctx.exitCode = failedCount > 0 ? EXIT.PARTIAL : EXIT.OK;
}
