/** MD5 of a file or a byte range of it, streamed (1 MiB reads): Content-MD5 and ETag checks. */
import crypto from 'node:crypto';
import fs from 'node:fs';

export async function md5OfFile(path: string, range?: { start: number; end: number }): Promise<Buffer> {
  const hash = crypto.createHash('md5');
  const stream = fs.createReadStream(path, { highWaterMark: 1024 * 1024, ...(range && { start: range.start, end: range.end }) });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest();
}

export function md5(data: Buffer): Buffer {
  return crypto.createHash('md5').update(data).digest();
}

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, then "-<parts>". */
export function multipartEtag(partMd5s: readonly Buffer[]): string {
  return `${crypto.createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
}

/**
 * An ETag as compared everywhere: without the weak mark `W/` and the quotes, lower-case
 * (servers differ in all three for the same content).
 */
export function bareEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
}

/** SSE-KMS (aws:kms, aws:kms:dsse) and SSE-C objects: their ETag is not the MD5 of the plaintext. */
export function etagIsNotMd5(sse: string | undefined, sseCustomerAlgorithm: string | undefined): boolean {
  return Boolean(sseCustomerAlgorithm) || (sse?.startsWith('aws:kms') ?? false);
}

/**
 * The MD5 (lower-case hex) an ETag stands for, or undefined when it is not one: multipart ETags
 * ("<hex>-<parts>"), SSE-KMS and SSE-C objects, or anything that is not 32 hex digits.
 */
export function md5FromEtag(etag: string | undefined, sse?: string, sseCustomerAlgorithm?: string): string | undefined {
  if (etag === undefined || etagIsNotMd5(sse, sseCustomerAlgorithm)) return undefined;
  const e = bareEtag(etag)!;
  return /^[0-9a-f]{32}$/.test(e) ? e : undefined;
}
