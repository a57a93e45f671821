/** Seeding objects for e2e tests: direct SDK PUTs, bounded concurrency, spread over the gateways. */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { client, type S3TestEnv } from './s3.js';

/** PUTs every (key, body) with at most `concurrency` in flight, round-robin over the endpoints. */
export async function putObjects(env: S3TestEnv, bucket: string, objects: ReadonlyArray<readonly [string, string | Buffer]>, concurrency = 16): Promise<void> {
  const clients = env.endpoints.map((e) => client(env, e));
  let next = 0;
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, async () => {
      while (next < objects.length) {
        const i = next++;
        const [key, body] = objects[i]!;
        await clients[i % clients.length]!.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body) }));
      }
    }));
  } finally {
    for (const c of clients) c.destroy();
  }
}
