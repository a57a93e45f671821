/** The summary lines of --resume (upload --resume, sync): what was continued, what was left open and how to remove it. */
import type { ResumeSummary } from '../index.js';
import { printable } from './printable.js';

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** `rerun`: the command that continues what was left open (e.g. "rerun with --resume"). */
export function resumeLines(r: ResumeSummary | undefined, bucket: string, prefix: string, rerun: string): string[] {
  if (!r) return [];
  const lines: string[] = [];
  if (r.uploads > 0) lines.push(`Resumed: ${plural(r.uploads, 'multipart upload')}, ${plural(r.partsKept, 'part')} already stored and not sent again`);
  for (const p of r.passed) {
    lines.push(`Left open (not continued: ${printable(p.reason)}): s3://${printable(`${bucket}/${p.key}`)} upload ${printable(p.uploadId)}; \`s3x cleanup-multipart\` removes it`);
  }
  if (r.keptOpen.length > 0) {
    const where = `${bucket}${prefix ? ` ${prefix}` : ''}`;
    lines.push(`Left open for resume: ${plural(r.keptOpen.length, 'multipart upload')} holding parts (${rerun} to continue; \`s3x cleanup-multipart ${printable(where)} --older-than 0s\` removes them)`);
  }
  return lines;
}
