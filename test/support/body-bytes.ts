/**
 * The bytes of a request body as a store would receive them: a Buffer as is, a FileRange through
 * the pump the lean client uses (src/fs/file-range.ts), a stream factory read to its end.
 */
import { FileRange, RangePump } from '../../src/fs/file-range.js';
import type { StoreBody } from '../../src/endpoints/store.js';

export async function bodyBytes(body: StoreBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  if (body instanceof FileRange) {
    // copied: the pump reuses a chunk once its write called back (here, on the next turn)
    await new RangePump(body, (chunk, done) => { chunks.push(Buffer.from(chunk)); setImmediate(done); }).run();
  } else {
    for await (const c of body()) chunks.push(Buffer.from(c as Buffer));
  }
  return Buffer.concat(chunks);
}
