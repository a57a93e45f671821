/**
 * One S3 endpoint: its SDK client (with the settings S3-compatible servers need), its own
 * keep-alive socket pool, its deadline estimator and its usage counters.
 */
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import type { EstimatorConfig } from '../config/defaults.js';
import { DeadlineEstimator } from './estimator.js';
import type { Logger } from '../logger.js';
import type { EndpointSpec } from '../config/pool-config.js';
import { CircuitBreaker } from './breaker.js';
import { AimdLimit } from './concurrency-limit.js';
import { SignedHttpClient } from './signed-http.js';
import { S3Store, type ObjectStore } from './store.js';

export interface EndpointStats {
  requests: number;
  bytes: number;
  errors: number;
  retries: number;
  inFlight: number;
  inFlightPeak: number;
}

/** S3 refuses signing times over 15 min off (5 min on some stores); under a minute the Date header (1 s resolution) cannot be the cause. */
const CLOCK_CORRECTION_MIN_MS = 60_000;

export class Endpoint {
  /** control plane (list, multipart create/complete/abort, head, delete) */
  readonly client: S3Client;
  /**
   * data plane (PutObject, UploadPart, GetObject) signed directly: ~3.4× less client CPU per
   * request than the SDK (0.25–0.29 vs 0.86–1.02 ms per 4 KiB PUT here), and on a machine the
   * server shares that CPU is throughput. Only for custom endpoints with a known region; AWS
   * itself goes through the SDK (its endpoint rules are the SDK's business).
   */
  readonly http: SignedHttpClient | undefined;
  /** every S3 call s3x makes here, over `http` or `client` (./store.ts chooses) */
  readonly store: ObjectStore;
  readonly estimator: DeadlineEstimator;
  readonly stats: EndpointStats = { requests: 0, bytes: 0, errors: 0, retries: 0, inFlight: 0, inFlightPeak: 0 };
  readonly breaker: CircuitBreaker;
  /** requests in flight here at most (its socket pool) */
  readonly maxConcurrent: number;
  /** requests in flight here at most while it throttles (≤ maxConcurrent; halved on SlowDown) */
  readonly limit: AimdLimit;
  /** payload bytes of the requests in flight here (adaptive routing) */
  inFlightBytes = 0;
  /** error code of the last health failure, for messages */
  lastError: string | undefined;
  private readonly agent: http.Agent;

  /** `store`: another ObjectStore in place of the S3 one (unit tests' fake store) */
  constructor(readonly config: EndpointSpec, defaults: { maxConcurrent: number; estimator: EstimatorConfig }, logger: Logger, store?: ObjectStore) {
    this.maxConcurrent = config.maxConcurrent ?? defaults.maxConcurrent;
    this.breaker = new CircuitBreaker(config.breaker, performance.now());
    this.limit = new AimdLimit(this.maxConcurrent);
    const estimatorConfig = defaults.estimator;
    this.estimator = new DeadlineEstimator(estimatorConfig);
    const isHttps = config.url ? config.url.startsWith('https:') : true;
    // One keep-alive pool per endpoint, sized to its concurrency (+2 for control requests
    // such as Complete/Abort issued while every data slot is busy).
    const agentOptions = { keepAlive: true, maxSockets: this.maxConcurrent + 2, keepAliveMsecs: 1000 };
    this.agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.client = new S3Client({
      ...(config.url !== undefined && { endpoint: config.url }),
      ...(config.region !== undefined && { region: config.region }),
      ...(config.profile !== undefined && { profile: config.profile }),
      ...(config.accessKeyId !== undefined && config.secretAccessKey !== undefined && {
        credentials: {
          accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey,
          ...(config.sessionToken !== undefined && { sessionToken: config.sessionToken }),
        },
      }),
      forcePathStyle: config.pathStyle,
      // SDK ≥ 3.729 otherwise sends CRC32 trailers as aws-chunked bodies, which Ceph RGW
      // answers with 411 MissingContentLength (README, "Upload": Endpoints).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The engine owns retries: a streamed body cannot be re-sent by the SDK, and its
      // retries would multiply ours.
      maxAttempts: 1,
      requestHandler: isHttps ? { httpsAgent: this.agent, connectionTimeout: 10_000 } : { httpAgent: this.agent, connectionTimeout: 10_000 },
      // Without a logger the SDK console.warns on every failed streamed upload.
      logger: {
        debug: () => {},
        info: () => {},
        warn: (...args: unknown[]) => logger.debug({ endpoint: config.name, sdk: args.map(String).join(' ') }, 'sdk warning'),
        error: (...args: unknown[]) => logger.debug({ endpoint: config.name, sdk: args.map(String).join(' ') }, 'sdk error'),
      },
    });

    this.http = config.url !== undefined && config.region !== undefined
      ? new SignedHttpClient({
        url: config.url, region: config.region, agent: this.agent, pathStyle: config.pathStyle,
        // the SDK's resolved provider: env / profile / explicit, memoized by the SDK
        credentials: this.client.config.credentials,
        clockOffsetMs: () => this.clockOffsetMs,
      })
      : undefined;
    this.store = store ?? new S3Store(this);
  }

  /**
   * Server clock minus ours, ms: one value for both signers. It lives in the SDK client's
   * `systemClockOffset` (which the SDK itself updates from every answer's Date header); the
   * signed data path reads it for every request and writes it on a skew answer.
   */
  get clockOffsetMs(): number { return this.client.config.systemClockOffset ?? 0; }

  /**
   * Learns the offset from a skew answer's Date header (`serverDateMs`), given the offset the
   * refused request was signed with. True when that explains the refusal (the signing time was
   * off by more than a minute): the request may be re-signed at once.
   */
  learnClockOffset(serverDateMs: number | undefined, signedWithOffsetMs: number, receivedAtMs = Date.now()): boolean {
    if (serverDateMs === undefined) return false;
    const offsetMs = serverDateMs - receivedAtMs;
    if (Math.abs(offsetMs - signedWithOffsetMs) < CLOCK_CORRECTION_MIN_MS) return false;
    this.client.config.systemClockOffset = offsetMs;
    return true;
  }

  get name(): string { return this.config.name; }
  get weight(): number { return this.config.weight; }
  /** What the user sees: the URL, or "aws" for the default AWS endpoint. */
  get label(): string { return this.config.url ?? 'aws'; }

  destroy(): void {
    this.client.destroy();
    this.agent.destroy();
  }
}
