/**
 * perf-data --generate writes a tree into a directory: whatever was there before, nothing a user
 * put there is ever removed or changed (issue 10, defect 1). Pure fs, no server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { ensureGenerated, type GenerateSpec } from '../../src/fs/generate.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-generate-prop-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(root)) return out;
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(path.relative(root, path.join(e.parentPath, e.name)), fs.readFileSync(path.join(e.parentPath, e.name), 'latin1'));
  }
  return out;
}

// names a user might have, some of them exactly what the generator writes
const userName = fc.constantFrom('keep.txt', 'f000000.bin', 'f000001.bin', 'd0/e0/f000000.bin', 'd1/notes.md', '.hidden', 'sub/deep/x');
const spec: fc.Arbitrary<GenerateSpec> = fc.record({ files: fc.integer({ min: 1, max: 4 }), sizeBytes: fc.integer({ min: 0, max: 64 }), dirs: fc.integer({ min: 0, max: 2 }) });
const before = fc.oneof(
  fc.constant({ kind: 'missing' as const }),
  fc.constant({ kind: 'empty' as const }),
  fc.record({ kind: fc.constant('user' as const), files: fc.uniqueArray(userName, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('ours' as const), spec, thenAdd: fc.option(userName, { nil: undefined }), recreate: fc.boolean() }),
);

describe('ensureGenerated', () => {
  it('never removes or changes a file it did not write; refuses (UsageError) instead', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(before, spec, async (state, want) => {
      const dir = path.join(scratch, `t${n++}`);
      if (state.kind !== 'missing') fs.mkdirSync(dir);
      if (state.kind === 'user') for (const f of state.files) { fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true }); fs.writeFileSync(path.join(dir, f), `user ${f}`); }
      if (state.kind === 'ours') {
        await ensureGenerated(dir, state.spec);
        if (state.recreate) { fs.rmSync(dir, { recursive: true }); fs.mkdirSync(dir); }
        if (state.thenAdd) { fs.mkdirSync(path.dirname(path.join(dir, state.thenAdd)), { recursive: true }); fs.writeFileSync(path.join(dir, state.thenAdd), 'user added'); }
      }
      // what the user owns: everything there unless the tree is s3x's own, untouched
      const userOwned = state.kind === 'ours' && !state.recreate && !state.thenAdd ? new Map() : snapshot(dir);
      let outcome: string;
      try {
        outcome = await ensureGenerated(dir, want);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        outcome = 'refused';
      }
      const after = snapshot(dir);
      for (const [f, content] of userOwned) expect(after.get(f), f).toBe(content);
      if (outcome === 'refused') expect(userOwned.size > 0 || state.kind === 'ours').toBe(true);
      else expect(after.size).toBe(want.files + userOwned.size);
    }), { seed: Number(process.env.S3X_PROP_SEED ?? 4242), numRuns: 60, interruptAfterTimeLimit: 20_000 });
  });
});
