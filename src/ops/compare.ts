/**
 * The comparison behind --skip-existing and sync: is a local file new, changed or unchanged
 * against the object listed under its key? upload takes it as a predicate (`classifier`), and
 * `openListing` reads what is there, in key order, merged with the sorted walk (./key-join.ts).
 *
 *   size        – a key of the same size counts as there
 *   size-mtime  – and the file's mtime is not newer than the object's LastModified
 *   checksum    – and the file's MD5 equals the object's ETag (single-part, or the composite
 *                 ETag recomputed from the part size the ETag's part count implies)
 */
import { bareEtag, md5OfFile, multipartEtag } from '../fs/md5.js';
import type { FileEntry } from '../fs/walk.js';
import { MIB, partRange, planParts } from '../config/multipart.js';
import { FatalRunError } from '../errors.js';
import { RequestFailed, type RequestEngine } from '../engine/request.js';
import { describeFatal } from '../run/context.js';
import { listSorted, ListingError, type ListedObject } from './list.js';

export type Comparison = 'size' | 'size-mtime' | 'checksum';
export type FileStatus = 'new' | 'changed' | 'unchanged';
/** new / changed / unchanged of a local file against the object listed under its key (undefined: none). */
export type Classifier = (f: FileEntry, o: ListedObject | undefined) => Promise<FileStatus>;

/** The classifier of one comparison; `partSizeBytes` is s3x's, for the composite ETag. */
export function classifier(compare: Comparison, partSizeBytes: number): Classifier {
  return async (f, o) => {
    if (!o) return 'new';
    // replicate mode: a store lacks the key or holds another size of it
    if (o.bytes !== f.size || o.replicasDiffer) return 'changed';
    if (compare === 'size') return 'unchanged';
    if (compare === 'size-mtime') {
      return o.lastModified && Math.floor(f.mtimeMs) > o.lastModified.getTime() ? 'changed' : 'unchanged';
    }
    const remote = bareEtag(o.etag);
    return (await localEtag(f, partSizeBytes, remote)) === remote ? 'unchanged' : 'changed';
  };
}

/**
 * The ETag s3x would have produced for this file, in the shape of the remote one: the MD5 when
 * the remote ETag is a plain one, else the composite "md5-of-part-md5s-N" with s3x's part size,
 * or, when the remote ETag counts another number of parts, that count's part size (the same
 * planning rule, whole MiB).
 */
export async function localEtag(f: FileEntry, partSizeBytes: number, remoteEtag: string | undefined): Promise<string> {
  const remoteParts = remoteEtag && /-(\d+)$/.exec(remoteEtag);
  if (!remoteParts) return (await md5OfFile(f.path)).toString('hex');
  let plan = planParts(f.size, partSizeBytes);
  const n = Number(remoteParts[1]);
  if (n !== plan.count) {
    const ps = Math.ceil(f.size / n / MIB) * MIB;
    plan = { partSizeBytes: ps, count: Math.ceil(f.size / ps) };
  }
  const parts: Buffer[] = [];
  for (let i = 0; i < plan.count; i++) parts.push(await md5OfFile(f.path, partRange(plan, f.size, i)));
  return multipartEtag(parts);
}

/**
 * Everything under the prefix in key order (list.ts listSorted), its first page already read:
 * a failure there stops the run like the preflight does (exit 2), as nothing was sent yet and
 * nothing can be compared. A later failure is the merge's to handle (./key-join.ts).
 */
export async function openListing(engine: RequestEngine, bucket: string, listPrefix: string): Promise<AsyncGenerator<ListedObject[]>> {
  const listing = listSorted(engine, bucket, listPrefix);
  let first: IteratorResult<ListedObject[]>;
  try {
    first = await listing.next();
  } catch (err) {
    if (err instanceof RequestFailed) throw new FatalRunError(describeListFailure(err, bucket, listPrefix));
    if (err instanceof ListingError) throw new FatalRunError(`cannot list s3://${bucket}/${listPrefix} to compare with the local files (nothing was sent, written or deleted): ${err.message}`);
    throw err;
  }
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* listing;
  })();
}

/** Why the comparison listing failed, in one line: the cause as the preflight words it, or the last error. */
function describeListFailure(err: RequestFailed, bucket: string, listPrefix: string): string {
  const cause = err.decision === 'fatal' ? describeFatal(err, bucket, err.endpoint.label) : `${err.message}, after ${err.report.attempts} attempt${err.report.attempts === 1 ? '' : 's'} at ${err.endpoint.label}`;
  return `cannot list s3://${bucket}/${listPrefix} to compare with the local files (nothing was sent, written or deleted): ${cause}`;
}
