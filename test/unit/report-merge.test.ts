/** ops/report.ts `report merge`: the hedge counters of the shards' summaries add up. */
import { describe, expect, it } from 'vitest';
import { mergeSummaries } from '../../src/ops/report.js';

describe('mergeSummaries', () => {
  it('sums hedged, hedgeWon and hedgeBytes over the shards (0 when a shard has none)', () => {
    const m = mergeSummaries([
      { type: 'summary', files: 3, hedged: 2, hedgeWon: 1, hedgeBytes: 8192 },
      { type: 'summary', files: 4, hedged: 5, hedgeWon: 4, hedgeBytes: 1_048_576 },
      { type: 'summary', files: 1 },
    ]);
    expect(m).toMatchObject({ shards: 3, files: 8, hedged: 7, hedgeWon: 5, hedgeBytes: 1_056_768 });
  });
});
