/**
 * The listing of a run that must pass its preflight first (delete-prefix, download): the first page is
 * asked for while the preflight runs, instead of one round trip after it. Both are reads, and a
 * page is handed out only once the preflight has passed, so nothing is deleted, planned or
 * fetched before: a missing bucket or bad credentials is still the preflight's one clear error.
 * When the preflight fails, the listing is cut (Run.abandon) and the preflight's error thrown,
 * wrapped in PreflightFailed so the caller tells it from a listing failure (which stops the run
 * but lets what was listed finish) and rethrows it as it was.
 */
import { listThrough, type ListPage } from './list.js';
import type { Run } from '../run/run.js';

export class PreflightFailed extends Error {
  constructor(readonly error: unknown) {
    super('the preflight failed');
    this.name = 'PreflightFailed';
  }
}

export async function* listAfterPreflight(run: Run, bucket: string, prefix: string): AsyncGenerator<ListPage> {
  const pages = listThrough(run.engine, bucket, prefix);
  const first = pages.next();
  // awaited below on every path; until then a rejection must not count as unhandled
  first.catch(() => {});
  try {
    await run.preflight();
  } catch (err) {
    run.abandon();
    await first.catch(() => {});
    throw new PreflightFailed(err);
  }
  const page = await first;
  if (page.done) return;
  yield page.value;
  yield* pages;
}
