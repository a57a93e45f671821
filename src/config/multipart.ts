/** S3 multipart limits and part planning. */
export const MIB = 1024 * 1024;
export const MIN_PART_BYTES = 5 * MIB;
export const MAX_PART_BYTES = 5 * 1024 * MIB;
export const MAX_PARTS = 10_000;
/** Largest single PutObject S3 accepts. */
export const MAX_PUT_BYTES = 5 * 1024 * MIB;

export interface PartPlan {
  partSizeBytes: number;
  count: number;
}

/**
 * Part size and count for a file of `sizeBytes`: the requested part size, grown (in whole
 * MiB) when the file would otherwise need more than 10,000 parts.
 */
export function planParts(sizeBytes: number, partSizeBytes: number): PartPlan {
  let ps = partSizeBytes;
  if (Math.ceil(sizeBytes / ps) > MAX_PARTS) ps = Math.ceil(sizeBytes / MAX_PARTS / MIB) * MIB;
  return { partSizeBytes: ps, count: Math.max(1, Math.ceil(sizeBytes / ps)) };
}

/** Part `i` (0-based) of a plan for `sizeBytes`, as an inclusive byte range (a ranged read's). */
export function partRange(plan: PartPlan, sizeBytes: number, i: number): { start: number; end: number } {
  const start = i * plan.partSizeBytes;
  return { start, end: Math.min(sizeBytes, start + plan.partSizeBytes) - 1 };
}
