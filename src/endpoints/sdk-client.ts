/**
 * The SDK's S3Client for one endpoint, with the settings S3-compatible servers need. Loaded by
 * ./endpoint.ts only when a call needs the SDK (AWS itself, no region, credentials from the
 * SDK's chain): importing @aws-sdk/client-s3 costs ~0.2 s of CPU (issue 12: start-up).
 */
import type http from 'node:http';
import type https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import type { HttpRequest } from '@smithy/types';
import type { EndpointSpec } from '../config/pool-config.js';
import type { Logger } from '../logger.js';

export function makeS3Client(config: EndpointSpec, agent: http.Agent | https.Agent, logger: Logger, clockOffsetMs: number): S3Client {
  const isHttps = config.url ? config.url.startsWith('https:') : true;
  return new S3Client({
    ...(config.url !== undefined && { endpoint: config.url }),
    ...(config.region !== undefined && { region: config.region }),
    ...(config.profile !== undefined && { profile: config.profile }),
    // --no-sign-request: a signer that leaves the request as it is, and credentials it never reads
    // (without them the SDK would still look the chain up and fail)
    ...(config.unsigned && { signer: { sign: (request: HttpRequest) => Promise.resolve(request) }, credentials: { accessKeyId: '', secretAccessKey: '' } }),
    ...(!config.unsigned && config.accessKeyId !== undefined && config.secretAccessKey !== undefined && {
      credentials: {
        accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey,
        ...(config.sessionToken !== undefined && { sessionToken: config.sessionToken }),
      },
    }),
    forcePathStyle: config.pathStyle,
    // what the signed path has learnt of the server's clock so far
    systemClockOffset: clockOffsetMs,
    // SDK ≥ 3.729 otherwise sends CRC32 trailers as aws-chunked bodies, which Ceph RGW
    // answers with 411 MissingContentLength (README, "Upload": Endpoints).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The engine owns retries: a streamed body cannot be re-sent by the SDK, and its
    // retries would multiply ours.
    maxAttempts: 1,
    requestHandler: isHttps ? { httpsAgent: agent, connectionTimeout: 10_000 } : { httpAgent: agent, connectionTimeout: 10_000 },
    // Without a logger the SDK console.warns on every failed streamed upload.
    logger: {
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => logger.debug({ endpoint: config.name, sdk: args.map(String).join(' ') }, 'sdk warning'),
      error: (...args: unknown[]) => logger.debug({ endpoint: config.name, sdk: args.map(String).join(' ') }, 'sdk error'),
    },
  });
}
