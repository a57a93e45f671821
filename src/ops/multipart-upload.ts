/**
 * One file as one multipart upload: Create (with --resume, an open upload continued instead:
 * ./resume.ts) → parts (Content-MD5 each, ETag checked) → the file
 * unchanged → Complete → the checks of what was stored. On a failure before Complete the upload
 * is aborted, only once every part in flight has settled; an object that fails a check after
 * Complete is removed (./stored-object.ts). Every request goes through the RequestEngine and
 * the endpoint's store (src/endpoints/store.ts), each in a slot of the run's Limiter.
 */
import { FileRange } from '../fs/file-range.js';
import { bareEtag, md5, md5OfFile, multipartEtag } from '../fs/md5.js';
import { readHashPool } from '../fs/read-hash.js';
import type { FileEntry } from '../fs/walk.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { UploadedPart } from '../endpoints/store.js';
import type { StopSignal } from '../endpoints/stop-signal.js';
import { partRange, planParts, type PartPlan } from '../config/multipart.js';
import { Interrupted, type RequestEngine } from '../engine/request.js';
import { errorFacts } from '../engine/retry-policy.js';
import type { Logger } from '../logger.js';
import { findResumable, type KeptPart, type PassedUpload } from './resume.js';
import {
  checkEtag, checkUnchanged, discard, encryption, etagMismatch, fileChanged, isEncrypted, metadataFor, MTIME_METADATA,
  hashRange, objectFields, sendingRange, verifyObject, type Encryption, type ObjectFields, type SendContext, type Stored,
} from './stored-object.js';

/**
 * First-attempt deadlines of the multipart control calls: no payload, so the estimator would
 * give them its 500 ms floor, yet their server time is not a small request's. Create: a cut
 * attempt the server performed leaves an upload s3x does not know, so it gets room (10 s).
 * Complete stitches every part (AWS documents it can take minutes; RGW's time grows with the
 * parts) and Abort deletes them: max(10 s, 50 ms per part), 500 s at 10,000 parts.
 */
const CREATE_DEADLINE_MS = 10_000;
const COMPLETE_MIN_DEADLINE_MS = 10_000;
const COMPLETE_MS_PER_PART = 50;
/**
 * A file whose ctime is within this of the run's start may change again within one timestamp
 * tick (FAT: 2 s, ext3: 1 s, Linux's coarse clock: a few ms) and leave size, mtime and ctime as
 * they were: its parts are hashed again after Complete.
 */
const TIMESTAMP_SLACK_MS = 2_000;
/** How far the server's clock may be from ours: S3 refuses requests more than 15 minutes off. */
const CLOCK_SLACK_MS = 15 * 60_000;

/** What a multipart upload needs from its run beyond a single PUT's. */
export interface MultipartContext extends SendContext {
  /** the run's signal: once it fired, open uploads are left to OpenUploads.abortAll */
  signal: AbortSignal;
  /** Date.now() at the run's start: how recent a ctime must be for the parts to be hashed again */
  startedWallMs: number;
  /** --min/--max-deadline-ms: the bounds of a control call's first-attempt deadline */
  deadlineBoundsMs: { minMs: number; maxMs: number };
  /** parts may go to any endpoint (the endpoints share storage), else to the one that created the upload */
  sharedStorage: boolean;
  /** the uploads this run opened */
  uploads: OpenUploads;
}

export interface OpenUpload { key: string; uploadId: string; endpoint: Endpoint; deadlineMs: number }

/** What --resume did in one run (./resume.ts): uploads continued, parts kept, uploads left open. */
export interface ResumeSummary {
  /** open uploads of earlier runs continued */
  uploads: number;
  /** their parts found intact and not sent again */
  partsKept: number;
  /** open uploads of the same keys not continued, left as they were (why, for each) */
  passed: PassedUpload[];
  /** uploads of this run left open when it stopped (they hold parts): the next --resume continues them */
  keptOpen: Array<{ key: string; uploadId: string }>;
}
interface SentParts { parts: UploadedPart[]; enc: Encryption }

/** Thrown by parts not sent because a sibling failed: never the error a file is reported with. */
class AnotherPartFailed extends Error {
  constructor() { super('another part failed'); }
}

/**
 * The multipart uploads of one run: those still open (aborted if the run stops) and every id it
 * opened (never taken for an orphan). With `resume`, an open upload is first looked for
 * (./resume.ts), and one holding parts outlives a stopped run, so the next run continues it.
 */
export class OpenUploads {
  private readonly open = new Map<string, OpenUpload>();
  private readonly known = new Set<string>();
  /** open uploads with at least one part stored */
  private readonly withParts = new Set<string>();
  readonly resumed: ResumeSummary = { uploads: 0, partsKept: 0, passed: [], keptOpen: [] };

  constructor(readonly resume = false) {}

  /** A part of this upload is stored: with `resume`, a stopped run leaves the upload open. */
  partStored(uploadId: string): void { this.withParts.add(uploadId); }

  add(u: OpenUpload): void {
    this.known.add(u.uploadId);
    this.open.set(u.uploadId, u);
  }
  /** Completed or aborted: nothing to abort when the run stops. */
  close(uploadId: string): void { this.open.delete(uploadId); }
  isOpen(uploadId: string): boolean { return this.open.has(uploadId); }
  isKnown(uploadId: string): boolean { return this.known.has(uploadId); }
  /** --resume saw this upload before its Create and left it open: no orphan of this run */
  wasPassed(uploadId: string): boolean { return this.resumed.passed.some((p) => p.uploadId === uploadId); }

  /**
   * Open multipart uploads of a stopped run are aborted, so no storage is left behind; with
   * `resume`, those holding parts are left open (listed in `resumed.keptOpen`) for the next run.
   */
  async abortAll(cleanup: RequestEngine, bucket: string, logger: Logger): Promise<void> {
    const open = [...this.open.values()];
    const keep = open.filter((u) => this.resume && this.withParts.has(u.uploadId));
    for (const u of keep) {
      this.resumed.keptOpen.push({ key: u.key, uploadId: u.uploadId });
      logger.info({ key: u.key, uploadId: u.uploadId }, 'multipart upload left open for --resume');
    }
    await Promise.all(open.filter((u) => !keep.includes(u)).map((u) => abortUpload(cleanup, bucket, u, logger)));
  }
}

/** Best effort, through the cleanup engine (not tied to the run's possibly aborted signal). */
export async function abortUpload(cleanup: RequestEngine, bucket: string, u: OpenUpload, logger: Logger): Promise<void> {
  try {
    await cleanup.run({
      op: 'AbortMultipartUpload', key: u.key, bytes: 0, endpoint: u.endpoint, deadlineMs: u.deadlineMs,
      send: (ep, signal) => ep.store.abortMultipartUpload({ bucket, key: u.key, uploadId: u.uploadId }, signal),
    });
    logger.info({ key: u.key, uploadId: u.uploadId }, 'aborted multipart upload');
  } catch (err) {
    logger.warn({ key: u.key, uploadId: u.uploadId, error: String(err) }, 'could not abort multipart upload; run `s3x cleanup-multipart` later');
  }
}

export class MultipartUpload {
  readonly plan: PartPlan;
  /** each part's MD5, filled as the parts are read */
  private readonly partMd5s: Buffer[];
  /** Complete's and Abort's first-attempt deadline */
  private readonly controlMs: number;
  /** endpoints where a Create attempt got no answer (cut, reset, 5xx): it may have opened an upload */
  private readonly unanswered = new Set<Endpoint>();
  /** --resume: the parts an earlier run stored, by number, kept when their bytes are the file's */
  private kept: Map<number, KeptPart> | undefined;
  /** Create's headers; the SSE-C key goes on every part, Complete and HEAD too */
  private readonly fields: ObjectFields;

  constructor(private readonly ctx: MultipartContext, private readonly f: FileEntry, private readonly key: string, private readonly target: Endpoint | undefined, partSizeBytes: number) {
    this.plan = planParts(f.size, partSizeBytes);
    this.fields = objectFields(ctx, f);
    this.partMd5s = new Array<Buffer>(this.plan.count);
    this.controlMs = this.deadlineMs(Math.max(COMPLETE_MIN_DEADLINE_MS, this.plan.count * COMPLETE_MS_PER_PART));
  }

  /** Create, then parts, Complete and checks; throws what failed, after the abort or removal it calls for. */
  async run(): Promise<void> {
    const createStartedMs = Date.now();
    readHashPool.warm();
    try {
      const open = (await this.resumable()) ?? await this.create();
      await this.sendAndComplete(open);
    } finally {
      // once the file is done, so that a Create the server performs late is there to be seen
      if (this.unanswered.size > 0) await this.abortOrphans(createStartedMs, Date.now());
    }
  }

  /** A control call's first-attempt deadline, within --min/--max-deadline-ms. */
  private deadlineMs(ms: number): number {
    const { minMs, maxMs } = this.ctx.deadlineBoundsMs;
    return Math.min(maxMs, Math.max(minMs, ms));
  }

  /**
   * --resume: the newest open upload of this key that fits the plan (./resume.ts), taken as this
   * run's. A lookup that fails (ListMultipartUploads not allowed, …) starts a new upload instead.
   */
  private async resumable(): Promise<OpenUpload | undefined> {
    const { ctx, key, f } = this;
    const { uploads } = ctx;
    if (!uploads.resume) return undefined;
    let r: Awaited<ReturnType<typeof findResumable>>;
    try {
      r = await findResumable({
        request: (spec) => ctx.slots.run(() => ctx.engine.run(spec)), bucket: ctx.bucket, isKnown: (id) => uploads.isKnown(id),
      }, key, this.plan, f.size, this.target);
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      ctx.logger.warn({ key, error: String(err) }, 'could not look for an open multipart upload to resume; starting a new one');
      return undefined;
    }
    uploads.resumed.passed.push(...r.passed);
    for (const p of r.passed) ctx.logger.info({ key, uploadId: p.uploadId, reason: p.reason }, 'open multipart upload not continued, left open');
    if (!r.found) return undefined;
    const open = { key, uploadId: r.found.uploadId, endpoint: r.found.endpoint, deadlineMs: this.controlMs };
    this.kept = r.found.parts;
    uploads.add(open);
    if (r.found.parts.size > 0) uploads.partStored(open.uploadId);
    uploads.resumed.uploads++;
    ctx.logger.info({ key, uploadId: open.uploadId, parts: r.found.parts.size }, 'continuing an open multipart upload');
    return open;
  }

  private async create(): Promise<OpenUpload> {
    const { ctx, key, target } = this;
    const { bucket } = ctx;
    const { contentType, metadata, headers } = this.fields;
    const created = await ctx.slots.run(() => ctx.engine.run({
      op: 'CreateMultipartUpload', key, bytes: 0, bucket, ...(target && { endpoint: target }),
      deadlineMs: this.deadlineMs(CREATE_DEADLINE_MS),
      send: async (ep, signal) => {
        try {
          return { ep, out: await ep.store.createMultipartUpload({ bucket, key, contentType, metadata, ...(headers && { headers }) }, signal) };
        } catch (err) {
          const status = errorFacts(err).status;
          if (status === undefined || (status >= 500 && status !== 503)) this.unanswered.add(ep);
          throw err;
        }
      },
    }));
    const uploadId = created.out.uploadId;
    if (!uploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
    const open = { key, uploadId, endpoint: created.ep, deadlineMs: this.controlMs };
    ctx.uploads.add(open);
    return open;
  }

  /** The parts, Complete, and the checks of what was stored (abort or delete when they fail). */
  private async sendAndComplete(open: OpenUpload): Promise<void> {
    const { ctx } = this;
    const { uploadId, endpoint: home } = open;
    // Parts go to any endpoint when they share storage, else to the one that created the upload.
    const pinned = ctx.sharedStorage ? undefined : home;
    let done: Stored;
    try {
      const sent = await this.sendParts(uploadId, pinned);
      // changed while its parts were read: not completed, nothing is stored
      await checkUnchanged(this.f);
      done = await this.complete(uploadId, sent, pinned);
      ctx.uploads.close(uploadId);
    } catch (err) {
      if (!ctx.signal.aborted && ctx.uploads.isOpen(uploadId)) await this.abort(open);
      throw err;
    }
    try {
      await this.checkCompleted(done, pinned);
    } catch (err) {
      await discard(ctx, this.key, done.ep, err);
    }
  }

  private async abort(open: OpenUpload): Promise<void> {
    await abortUpload(this.ctx.cleanup, this.ctx.bucket, open, this.ctx.logger);
    this.ctx.uploads.close(open.uploadId);
  }

  /**
   * Every part, read and sent in slots. Resolves (or throws the first real failure) only once
   * every part has settled, so an abort that follows never races a part still in flight.
   */
  private async sendParts(uploadId: string, pinned: Endpoint | undefined): Promise<SentParts> {
    const { signal, slots } = this.ctx;
    let partFailed = false;
    const enc: Encryption = {};
    const settled = await Promise.allSettled(Array.from({ length: this.plan.count }, (_, i) => slots.run(async (): Promise<UploadedPart> => {
      if (partFailed || signal.aborted) throw signal.aborted ? new Interrupted() : new AnotherPartFailed();
      return this.sendPart(i, uploadId, pinned, enc);
    }, 'high').catch((err: unknown) => { partFailed = true; throw err; })));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failures.length > 0) throw failures.find((e) => !(e instanceof AnotherPartFailed)) ?? failures[0];
    return { parts: settled.map((s) => (s as PromiseFulfilledResult<UploadedPart>).value), enc };
  }

  /**
   * Part i, hashed on a worker thread inside its slot (../fs/read-hash.ts: other parts' sends go
   * on meanwhile), then read afresh for every copy sent (../fs/file-range.ts: no part is held in
   * memory). Its MD5 is the Content-MD5, so the server refuses bytes that differ from those
   * hashed, and is kept for the composite ETag; its ETag checked.
   */
  private async sendPart(i: number, uploadId: string, pinned: Endpoint | undefined, enc: Encryption): Promise<UploadedPart> {
    const { f, key, plan } = this;
    const { bucket } = this.ctx;
    const range = partRange(plan, f.size, i);
    const len = range.end - range.start + 1;
    const digest = await hashRange(f, range.start, len);
    this.partMd5s[i] = digest;
    const kept = this.kept?.get(i + 1);
    // --resume: a part already stored with these very bytes is not sent again
    if (kept && kept.sizeBytes === len && bareEtag(kept.etag) === digest.toString('hex')) {
      this.ctx.uploads.resumed.partsKept++;
      return { partNumber: i + 1, etag: kept.etag };
    }
    const contentMd5 = digest.toString('base64');
    const { sseC } = this.fields;
    const out = await this.ctx.engine.run({
      op: 'UploadPart', key, part: i + 1, bytes: len, bucket, ...(pinned && { endpoint: pinned }), hedge: true,
      send: async (ep, signal, progress): Promise<{ etag: string | undefined; enc: Encryption }> => {
        const body = new FileRange(f.path, range.start, len);
        const r = await sendingRange(f, () => ep.store.uploadPart({ bucket, key, uploadId, partNumber: i + 1, contentLength: len, contentMd5, body, ...(sseC && { sseC }), onBodySent: progress.bodySent }, signal));
        return { etag: r.etag, enc: encryption(r.sse, r.sseCustomerAlgorithm) };
      },
    });
    if (!out.etag) throw new Error(`UploadPart ${i + 1} of ${key} returned no ETag`);
    Object.assign(enc, out.enc);
    checkEtag(`${key} part ${i + 1}`, out.etag, digest.toString('hex'), out.enc);
    this.ctx.uploads.partStored(uploadId);
    return { partNumber: i + 1, etag: out.etag };
  }

  /**
   * CompleteMultipartUpload, with a deadline sized for it. A retry refused as an unknown upload
   * (NoSuchUpload; RGW: 500) after an attempt that may have completed it asks HEAD whether the
   * object is the one these parts make.
   */
  private complete(uploadId: string, sent: SentParts, pinned: Endpoint | undefined): Promise<Stored> {
    const { ctx, key } = this;
    const { bucket } = ctx;
    let attempt = 0;
    return ctx.slots.run(() => ctx.engine.run({
      op: 'CompleteMultipartUpload', key, bytes: 0, bucket, ...(pinned && { endpoint: pinned }),
      deadlineMs: this.controlMs,
      send: async (ep, signal): Promise<Stored> => {
        const first = attempt++ === 0;
        try {
          const out = await ep.store.completeMultipartUpload({ bucket, key, uploadId, parts: sent.parts, ...(this.fields.sseC && { sseC: this.fields.sseC }) }, signal);
          return { ep, etag: out.etag, enc: { ...sent.enc, ...encryption(out.sse) } };
        } catch (err) {
          const facts = errorFacts(err);
          if (first || !(facts.code === 'NoSuchUpload' || (facts.status ?? 0) >= 500)) throw err;
          const stored = await this.completedEarlier(ep, signal, sent);
          if (!stored) throw err;
          ctx.logger.info({ key, uploadId, code: facts.code }, 'an earlier CompleteMultipartUpload attempt completed the upload');
          return stored;
        }
      },
    }), 'high');
  }

  /** After a Complete attempt that may have completed the upload: is the object (HEAD) the one these parts make? */
  private async completedEarlier(ep: Endpoint, signal: StopSignal, sent: SentParts): Promise<Stored | undefined> {
    const { f, key } = this;
    const head = await ep.store.headObject({ bucket: this.ctx.bucket, key, sseC: this.fields.sseC }, signal).catch(() => undefined);
    const enc = { ...sent.enc, ...encryption(head?.sse, head?.sseCustomerAlgorithm) };
    const etag = bareEtag(head?.etag);
    // encrypted: the ETag is no composite MD5; the part count, size and s3x's mtime must agree
    const ours = isEncrypted(enc)
      ? etag?.endsWith(`-${sent.parts.length}`) && head?.contentLength === f.size && head.metadata?.[MTIME_METADATA] === metadataFor(f)[MTIME_METADATA]
      : etag === multipartEtag(this.partMd5s);
    return ours ? { ep, etag: head!.etag, enc } : undefined;
  }

  /**
   * After Complete: the object's ETag is the composite of the parts' MD5s (not checkable when
   * encrypted), the file is still what was walked, and, when its ctime is so recent that a
   * further change could leave every timestamp as it was, every part is hashed again.
   */
  private async checkCompleted(done: Stored, pinned: Endpoint | undefined): Promise<void> {
    const { ctx, f, key } = this;
    const expected = multipartEtag(this.partMd5s);
    let etag = bareEtag(done.etag);
    let enc = done.enc;
    // Ceph RGW answers CompleteMultipartUpload with an empty ETag (an RGW bug): ask HEAD.
    if (!etag && !isEncrypted(enc)) {
      const head = await ctx.slots.run(() => ctx.engine.run({
        op: 'HeadObject', key, bytes: 0, bucket: ctx.bucket, kind: 'read', endpoint: pinned ?? done.ep, hedge: true,
        send: (ep, signal) => ep.store.headObject({ bucket: ctx.bucket, key, sseC: this.fields.sseC }, signal),
      }), 'high');
      etag = bareEtag(head.etag);
      enc = { ...enc, ...encryption(head.sse, head.sseCustomerAlgorithm) };
    }
    if (!isEncrypted(enc) && etag !== expected) throw etagMismatch(key, etag, expected);
    await checkUnchanged(f);
    if (f.ctimeMs > ctx.startedWallMs - TIMESTAMP_SLACK_MS) await this.rehashParts();
    if (ctx.verify) await verifyObject(ctx, f, key, undefined, pinned ?? done.ep, true);
  }

  /** Every part hashed again: what was sent is what the file holds now. */
  private async rehashParts(): Promise<void> {
    const { f, plan } = this;
    for (let i = 0; i < plan.count; i++) {
      const range = partRange(plan, f.size, i);
      const now = range.end >= range.start ? await md5OfFile(f.path, range) : md5(Buffer.alloc(0));
      if (!now.equals(this.partMd5s[i]!)) throw fileChanged(f);
    }
  }

  /**
   * Open uploads of this key that an unanswered Create attempt may have opened, aborted: those
   * Initiated between the first attempt and the last answer (± CLOCK_SLACK_MS for the server's
   * clock) that this run does not know. Another writer of the same key in that window would
   * lose its upload: two writers of one key conflict anyway (the last Complete wins).
   */
  private async abortOrphans(fromMs: number, toMs: number): Promise<void> {
    const { ctx, key } = this;
    const { bucket, cleanup, logger } = ctx;
    for (const ep of this.unanswered) {
      try {
        const listed = await cleanup.run({
          op: 'ListObjectsV2', key: `(ListMultipartUploads ${key})`, bytes: 0, kind: 'read', bucket, endpoint: ep,
          send: (e, signal) => e.store.listMultipartUploads({ bucket, prefix: key }, signal),
        });
        for (const u of listed.uploads) {
          const at = u.initiated?.getTime();
          if (u.key !== key || !u.uploadId || ctx.uploads.isKnown(u.uploadId) || ctx.uploads.wasPassed(u.uploadId) || at === undefined) continue;
          if (at < fromMs - CLOCK_SLACK_MS || at > toMs + CLOCK_SLACK_MS) continue;
          await abortUpload(cleanup, bucket, { key, uploadId: u.uploadId, endpoint: ep, deadlineMs: this.controlMs }, logger);
        }
      } catch (err) {
        logger.warn({ key, endpoint: ep.name, error: String(err) }, 'could not look for an upload left open by a cut CreateMultipartUpload; run `s3x cleanup-multipart` later');
      }
    }
  }
}
