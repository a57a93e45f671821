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
