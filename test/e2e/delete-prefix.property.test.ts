/**
 * Property: `deletePrefix` (the library, in-process, against the real gateways) deletes exactly
 * the keys its prefix rule selects. Random prefixes are cut from keys that exist (`a`, `a/`,
 * `a-b`, `a/b`, `a.b`, `ab`, unicode in NFC and NFD, `+`, `%`, spaces), with slashes added around
 * them, with and without `rawPrefix`; the bucket is seeded with a random subset of the keys
 * before each run. After the run, every selected key is gone and every other key is still there.
 *
 * The rule is restated here, not imported (docs: README "Which keys", src/fs/key-prefix.ts):
 * folder rule: strip leading and trailing `/`; '' selects nothing (refused without `all`);
 * otherwise the keys that start with `<folder>/`. Raw: the keys that start with the string.
 *
 * Bounded: NUM_RUNS runs and a time limit; seeded: S3X_PROP_SEED=<n> replays a failure (the
 * seed is printed in the failure message).
 */
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deletePrefix, UsageError } from '../../src/index.js';
import { putObjects } from '../support/seed.js';
import { client, listAll, makeBucket, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const NUM_RUNS = 30;
const TIME_LIMIT_MS = 35_000;
const SEED = process.env.S3X_PROP_SEED ? Number(process.env.S3X_PROP_SEED) : Date.now() % 2 ** 31;

/** Keys around the prefixes a user would type. NFC é = \u00e9, NFD é = e\u0301: different keys. */
const UNIVERSE = [
  'a', 'a/', 'a/x', 'a/b', 'a/b/c', 'a/b/', 'a-b', 'a-b/c', 'a.b', 'a.b/c', 'ab', 'ab/c', 'a b/c', 'a+b/c',
  'a%2Fb', 'b/a', 'A/x', 'a/\u00e9', '\u00e9', '\u00e9/x', 'e\u0301/x', '\u00e9a/x', '\u65e5\u672c/\u8a9e', '\u65e5\u672c\u8a9e',
  '\ud83d\ude00/x', 'z/a/b',
];

/** The documented rule (see the header): which keys `prefix` selects; undefined = refused. */
function expectedSelected(prefix: string, raw: boolean, all: boolean, keys: readonly string[]): string[] | undefined {
  const folder = prefix.replace(/^\/+|\/+$/g, '');
  const p = raw ? prefix : folder ? `${folder}/` : '';
  if (p === '' && !all) return undefined;
  if (all && p !== '') return undefined;
  return keys.filter((k) => k.startsWith(p));
}

/** A prefix cut from a key of the universe, maybe with slashes around it; or the empty one. */
const prefixArb = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(fc.constantFrom(...UNIVERSE), fc.nat(), fc.constantFrom('', '/', '//'), fc.constantFrom('', '', '/')).map(([k, n, tail, head]) => {
    const cps = [...k]; // whole code points: a cut inside a surrogate pair is not a prefix a user types
    return `${head}${cps.slice(0, 1 + (n % cps.length)).join('')}${tail}`;
  }) },
  { weight: 1, arbitrary: fc.constantFrom('', '/', ' ') },
);

let bucket: string;
let drop: () => Promise<void>;
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'delprop')); });
afterAll(async () => { await drop?.(); });

async function resetTo(keys: readonly string[]): Promise<void> {
  const s3 = client(env);
  try {
    const left = (await listAll(env, bucket)).map((o) => o.Key!);
    if (left.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: left.map((Key) => ({ Key })), Quiet: true } }));
  } finally {
    s3.destroy();
  }
  await putObjects(env, bucket, keys.map((k) => [k, 'x'] as const), 8);
}

describe('delete-prefix property', () => {
  it(`never deletes a key outside the prefix rule, always every key inside (seed ${SEED})`, async () => {
    const property = fc.asyncProperty(
      fc.subarray(UNIVERSE, { minLength: 1 }), prefixArb, fc.boolean(), fc.boolean(),
      async (keys, prefix, raw, allFlag) => {
        const all = allFlag && prefix === '';
        await resetTo(keys);
        const seeded = (await listAll(env, bucket)).map((o) => o.Key!).sort();
        expect(seeded, 'the gateway stores every key as given').toEqual([...keys].sort());
        const selected = expectedSelected(prefix, raw, all, keys);
        let refused = false;
        try {
          const s = await deletePrefix({
            bucket, prefix, rawPrefix: raw, all, endpointUrls: env.endpoints, region: env.region, concurrency: 4, batchSize: 3,
            credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
          });
          expect(s.failedCount, JSON.stringify(s.failed)).toBe(0);
          expect(s.deleted).toBe(selected?.length);
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
          refused = true;
        }
        expect(refused, `refused '${prefix}' raw=${raw} all=${all}`).toBe(selected === undefined);
        const left = (await listAll(env, bucket)).map((o) => o.Key!).sort();
        expect(left, `prefix '${prefix}' raw=${raw} all=${all}`).toEqual(keys.filter((k) => !selected?.includes(k)).sort());
      },
    );
    const out = await fc.check(property, { seed: SEED, numRuns: NUM_RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false });
    if (out.failed) {
      throw new Error(`property failed; replay with S3X_PROP_SEED=${SEED} (fast-check seed ${out.seed}, path "${out.counterexamplePath}")\n` +
        `counterexample: ${fc.stringify(out.counterexample)}\n${String(out.errorInstance)}`);
    }
    // a run cut by the time limit still tried some cases: at least a few must have run
    expect(out.numRuns).toBeGreaterThanOrEqual(4);
  }, 60_000);
});
