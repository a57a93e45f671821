/**
 * `upload --resume` (and `sync` by default): before a multipart Create, find an open upload of
 * the same key whose parts fit the file as s3x would cut it now, so that ./multipart-upload.ts
 * sends only the parts that are missing or differ (each listed part is checked against the same
 * byte range of the file, MD5 and size, before it is kept).
 *
 * Which upload is "ours": ListMultipartUploads and ListParts return no metadata (an
 * x-amz-meta-* mark set on Create could not be read back before Complete), so an upload is taken
 * when its key is the file's key exactly and every listed part is where s3x's plan for this file
 * puts one: part size s3x would choose (--part-size, grown past 10,000 parts), part numbers
 * within the plan, each part of its planned size. Another part size is not adopted: the object's
 * composite ETag would then not be the one `sync --checksum` recomputes (./compare.ts), and every
 * later checksum sync would send the file again. An upload not taken is left open, not aborted
 * (it may be another writer's), and named in the summary.
 */
import { formatBytes } from '../config/units.js';
import { partRange, type PartPlan } from '../config/multipart.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { ListedPart } from '../endpoints/store.js';
import { Interrupted, RequestFailed, type RequestSpec } from '../engine/request.js';

/** Pages of ListMultipartUploads read for one key: 100,000 open uploads whose key starts with it. */
const MAX_UPLOAD_PAGES = 100;
/** Open uploads of one key whose parts are listed before giving up: the newest first. */
const MAX_CANDIDATES = 10;
/** Pages of ListParts for one upload: 10,000 parts at S3's 1,000 per page, with room. */
const MAX_PART_PAGES = 20;

/** A listed part s3x may keep, once its bytes are checked against the file. */
export interface KeptPart { etag: string; sizeBytes: number }

/** Does an upload's parts list fit the plan: the parts by number, or why not. */
export type PartsFit = { ok: true; parts: Map<number, KeptPart> } | { ok: false; reason: string };

/** An open upload of another run not taken: left as it is, named in the summary. */
export interface PassedUpload { key: string; uploadId: string; reason: string }

/** The open upload to continue: its id, where it lives, the parts to check before keeping them. */
export interface Resumable { uploadId: string; endpoint: Endpoint; parts: Map<number, KeptPart> }

/**
 * Whether the listed parts of an open upload are where `plan` puts parts of a file of
 * `fileBytes`: every part numbered within the plan and of its planned size (the last part of the
 * file shorter). Pure: the bytes themselves are checked when each part is read.
 */
export function fitParts(listed: readonly ListedPart[], plan: PartPlan, fileBytes: number): PartsFit {
  const parts = new Map<number, KeptPart>();
  for (const x of listed) {
    const n = x.partNumber;
    if (n === undefined || !Number.isInteger(n) || x.etag === undefined || x.size === undefined) return { ok: false, reason: 'a listed part has no number, ETag or size' };
    if (n < 1 || n > plan.count) return { ok: false, reason: `part ${n} is beyond the ${plan.count} parts of ${formatBytes(plan.partSizeBytes)} this file makes` };
    const r = partRange(plan, fileBytes, n - 1);
    const want = r.end - r.start + 1;
    if (x.size !== want) {
      const sizes = listed.map((p) => p.size ?? 0);
      const listedPartBytes = Math.max(...sizes);
      return {
        ok: false,
        reason: listedPartBytes !== plan.partSizeBytes && listedPartBytes > want
          ? `part size ${formatBytes(listedPartBytes)}, not ${formatBytes(plan.partSizeBytes)}`
          : `part ${n} is ${formatBytes(x.size)}, not ${formatBytes(want)}`,
      };
    }
    parts.set(n, { etag: x.etag, sizeBytes: x.size });
  }
  return { ok: true, parts };
}

/** What the lookup needs from its run. */
export interface ResumeContext {
  /** one request through the run's engine, in a slot */
  request<T>(spec: RequestSpec<T>): Promise<T>;
  bucket: string;
  /** uploads this run opened itself: never taken for another run's */
  isKnown(uploadId: string): boolean;
}

/** Open uploads of exactly `key` on one endpoint, the newest first (ListMultipartUploads, prefix = key). */
async function openUploadsOf(ctx: ResumeContext, key: string, target: Endpoint | undefined): Promise<{ ep: Endpoint; uploads: Array<{ uploadId: string; initiatedMs: number }> }> {
  const { bucket } = ctx;
  const uploads: Array<{ uploadId: string; initiatedMs: number }> = [];
  let ep = target;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (let page = 0; page < MAX_UPLOAD_PAGES; page++) {
    const got = await ctx.request({
      op: 'ListMultipartUploads', key, bytes: 0, kind: 'read', bucket, ...(ep && { endpoint: ep }),
      send: async (e, signal) => ({ e, out: await e.store.listMultipartUploads({ bucket, prefix: key, keyMarker, uploadIdMarker }, signal) }),
    });
    // the next pages and ListParts go where the first page was read: endpoints may not share storage
    ep = got.e;
    let pastKey = false;
    for (const u of got.out.uploads) {
      if (u.key !== undefined && u.key > key) pastKey = true;
      if (u.key === key && u.uploadId && !ctx.isKnown(u.uploadId)) uploads.push({ uploadId: u.uploadId, initiatedMs: u.initiated?.getTime() ?? 0 });
    }
    // keys come in byte order: the key itself comes before every longer key it starts
    if (pastKey || !got.out.isTruncated || got.out.nextKeyMarker === undefined) break;
    keyMarker = got.out.nextKeyMarker;
    uploadIdMarker = got.out.nextUploadIdMarker;
  }
  return { ep: ep!, uploads: uploads.sort((a, b) => b.initiatedMs - a.initiatedMs) };
}

/** Every part of one open upload (ListParts, paged); undefined when the listing could not be finished. */
async function partsOf(ctx: ResumeContext, key: string, uploadId: string, ep: Endpoint): Promise<ListedPart[] | undefined> {
  const { bucket } = ctx;
  const parts: ListedPart[] = [];
  let marker: number | undefined;
  for (let page = 0; page < MAX_PART_PAGES; page++) {
    const out = await ctx.request({
      op: 'ListParts', key, bytes: 0, kind: 'read', bucket, endpoint: ep,
      send: (e, signal) => e.store.listParts({ bucket, key, uploadId, partNumberMarker: marker }, signal),
    });
    parts.push(...out.parts);
    if (!out.isTruncated) return parts;
    if (out.nextPartNumberMarker === undefined || (marker !== undefined && out.nextPartNumberMarker <= marker)) return undefined;
    marker = out.nextPartNumberMarker;
  }
  return undefined;
}

/** A ListParts that failed: the upload is gone (NoSuchUpload), or unreadable (undefined); an interrupt goes on up. */
function unlisted(err: unknown): 'gone' | undefined {
  if (err instanceof Interrupted) throw err;
  return err instanceof RequestFailed && err.facts.code === 'NoSuchUpload' ? 'gone' : undefined;
}

/**
 * The newest open upload of `key` whose parts fit `plan`, with the uploads passed over (each
 * with why). Failures of the lookup itself are the caller's to judge.
 */
export async function findResumable(
  ctx: ResumeContext, key: string, plan: PartPlan, fileBytes: number, target: Endpoint | undefined,
): Promise<{ found?: Resumable; passed: PassedUpload[] }> {
  const { ep, uploads } = await openUploadsOf(ctx, key, target);
  const passed: PassedUpload[] = [];
  for (const [i, u] of uploads.entries()) {
    if (i >= MAX_CANDIDATES) { passed.push({ key, uploadId: u.uploadId, reason: `not examined (only the newest ${MAX_CANDIDATES} are)` }); continue; }
    const listed = await partsOf(ctx, key, u.uploadId, ep).catch(unlisted);
    // completed or aborted since it was listed: nothing left open to name
    if (listed === 'gone') continue;
    const fit: PartsFit = listed ? fitParts(listed, plan, fileBytes) : { ok: false, reason: 'its parts could not be listed' };
    if (fit.ok) {
      const older = uploads.slice(i + 1).map((v) => ({ key, uploadId: v.uploadId, reason: 'a newer open upload of the key was continued' }));
      return { found: { uploadId: u.uploadId, endpoint: ep, parts: fit.parts }, passed: [...passed, ...older] };
    }
    passed.push({ key, uploadId: u.uploadId, reason: fit.reason });
  }
  return { passed };
}
