/**
 * One S3 endpoint: its signed client (custom endpoints) and its SDK client (made on first use,
 * with the settings S3-compatible servers need), its own keep-alive socket pool, its deadline
 * estimator and its usage counters.
 */
import type http from 'node:http';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { EstimatorConfig } from '../config/defaults.js';
import { DeadlineEstimator } from './estimator.js';
import type { Logger } from '../logger.js';
import type { EndpointSpec } from '../config/pool-config.js';
import type { NetworkSpec } from '../config/network.js';
import { makeAgent } from './agents.js';
import { CircuitBreaker } from './breaker.js';
import { AimdLimit } from './concurrency-limit.js';
import { SignedHttpClient } from './signed-http.js';
import { S3Store, type ObjectStore } from './store.js';
import { LimitedStore } from './limited-store.js';
import { limitedTransferMs, NO_LIMITS, type Limits } from './limits.js';

export interface EndpointStats {
  requests: number;
  bytes: number;
  errors: number;
  retries: number;
  inFlight: number;
  inFlightPeak: number;
  /** hedges sent here (engine/request.ts), and of those the ones that answered first */
  hedged: number;
  hedgeWon: number;
}

/** S3 refuses signing times over 15 min off (5 min on some stores); under a minute the Date header (1 s resolution) cannot be the cause. */
const CLOCK_CORRECTION_MIN_MS = 60_000;
/**
 * No read here received bytes for this long: the endpoint paused as a whole, and its reads'
 * silence until then is not held against any one of them, but for one already silent this long
 * while the others received (engine/hedged-attempt.ts ReadSilence).
 */
export const RECEIVE_PAUSE_MS = 250;

export class Endpoint {
  /**
   * every call signed directly: ~3.4× less client CPU per request than the SDK (0.25–0.29 vs
   * 0.86–1.02 ms per 4 KiB PUT here), and on a machine the server shares that CPU is
   * throughput; no SDK to load at start-up. Only for custom endpoints with a known region; AWS
   * itself goes through the SDK (its endpoint rules are the SDK's business).
   */
  readonly http: SignedHttpClient | undefined;
  /** the signing credentials: explicit or from the environment at once, else the SDK's chain */
  readonly credentials: AwsCredentialIdentityProvider;
  /** every S3 call s3x makes here, over `http` or `client` (./store.ts chooses) */
  readonly store: ObjectStore;
  readonly estimator: DeadlineEstimator;
  readonly stats: EndpointStats = { requests: 0, bytes: 0, errors: 0, retries: 0, inFlight: 0, inFlightPeak: 0, hedged: 0, hedgeWon: 0 };
  readonly breaker: CircuitBreaker;
  /** requests in flight here at most (its socket pool) */
  readonly maxConcurrent: number;
  /** requests in flight here at most while it throttles (≤ maxConcurrent; halved on SlowDown) */
  readonly limit: AimdLimit;
  /** --bwlimit / --tpslimit buckets its requests take from: the run's, then its own */
  readonly limits: Limits;
  /** payload bytes of the requests in flight here (adaptive routing) */
  inFlightBytes = 0;
  /**
   * hedges (engine/request.ts) in flight here at most, beyond `limit`: a hedge takes no request
   * slot, and a busy endpoint (every slot used, as in any long run) must still take one
   */
  readonly hedgeExtra: number;
  /** hedges in flight here now */
  hedgesInFlight = 0;
  /**
   * performance.now() when the latest first copy here started (a request's own hedges are not
   * later requests), and when the latest request that answered here started (engine/request.ts):
   * a request that later ones overtook is a straggler of its own; when none did, the endpoint is
   * slow as a whole (engine/hedge-policy.ts `overtaken`)
   */
  latestStartMs = -Infinity;
  latestAnsweredStartMs = -Infinity;
  /**
   * performance.now() when a large read's copy (first or hedge) here last received body bytes, and since
   * when reads here have received bytes with no pause of RECEIVE_PAUSE_MS (engine/request.ts: a
   * read silent while the others went on receiving has stalled)
   */
  lastReceivedMs = -Infinity;
  receivingSinceMs = -Infinity;
  /** error code of the last health failure, for messages */
  lastError: string | undefined;
  private readonly agent: http.Agent;
  private sdk: Promise<S3Client> | undefined;
  /** the SDK client once made (it then holds the clock offset) */
  private sdkMade: S3Client | undefined;
  /** server clock minus ours, ms, until the SDK client exists */
  private offsetMs = 0;

  /** `store`: another ObjectStore in place of the S3 one (unit tests' fake store) */
  constructor(readonly config: EndpointSpec, defaults: { maxConcurrent: number; estimator: EstimatorConfig; limits?: Limits; network?: NetworkSpec }, private readonly logger: Logger, store?: ObjectStore) {
    this.maxConcurrent = config.maxConcurrent ?? defaults.maxConcurrent;
    this.breaker = new CircuitBreaker(config.breaker, performance.now());
    this.limit = new AimdLimit(this.maxConcurrent);
    // a quarter of its places: with --hedge-budget 12% the places, not the budget, refused 40–196
    // hedges of a 2,000-PUT run at 16 in flight with 2 of them (bench H3 probe); the budget bounds the rest
    this.hedgeExtra = Math.max(2, Math.ceil(this.maxConcurrent / 4));
    const estimatorConfig = defaults.estimator;
    this.estimator = new DeadlineEstimator(estimatorConfig);
    // One keep-alive pool per endpoint, sized to its concurrency (+2 for control requests
    // such as Complete/Abort issued while every data slot is busy, + its hedges).
    const agentOptions = { keepAlive: true, maxSockets: this.maxConcurrent + 2 + this.hedgeExtra, keepAliveMsecs: 1000 };
    // through the proxy and with the CA bundle, if any, for both signers (./agents.ts)
    this.agent = makeAgent(config.url, agentOptions, defaults.network);
    this.credentials = config.unsigned ? noCredentials : staticCredentials(config) ?? (async () => (await this.sdkClient()).config.credentials());
    this.http = config.url !== undefined && config.region !== undefined
      ? new SignedHttpClient({
        url: config.url, region: config.region, agent: this.agent, pathStyle: config.pathStyle,
        credentials: this.credentials,
        clockOffsetMs: () => this.clockOffsetMs,
        ...(config.unsigned && { unsigned: true }),
      })
      : undefined;
    this.limits = defaults.limits ?? NO_LIMITS;
    const s3 = store ?? new S3Store(this);
    this.store = this.limits.up.length + this.limits.down.length > 0 ? new LimitedStore(s3, this.limits.up, this.limits.down) : s3;
  }

  /** The most time the byte limits of its direction can hold a body of `bytes` back, ms (0: unlimited; ./limits.ts). */
  limitedTransferMs(bytes: number, kind: 'read' | 'write'): number {
    return bytes > 0 ? limitedTransferMs(bytes, kind === 'read' ? this.limits.down : this.limits.up) : 0;
  }

  /** A large read here received body bytes at `nowMs` (performance.now()). */
  received(nowMs: number): void {
    if (nowMs - this.lastReceivedMs >= RECEIVE_PAUSE_MS) this.receivingSinceMs = nowMs;
    this.lastReceivedMs = nowMs;
  }

  /** A request (first copy or hedge) that started at `startedAtMs` answered here. */
  answered(startedAtMs: number): void {
    if (startedAtMs > this.latestAnsweredStartMs) this.latestAnsweredStartMs = startedAtMs;
  }

  /** The SDK client (AWS itself, no region, credentials from a profile or SSO), made and loaded on first use. */
  sdkClient(): Promise<S3Client> {
    return this.sdk ??= import('./sdk-client.js').then(({ makeS3Client }) => {
      const client = makeS3Client(this.config, this.agent, this.logger, this.offsetMs);
      this.sdkMade = client;
      return client;
    });
  }

  /**
   * Server clock minus ours, ms: one value for both signers. Once the SDK client exists it lives
   * in its `systemClockOffset` (which the SDK itself updates from every answer's Date header);
   * the signed path reads it for every request and writes it on a skew answer.
   */
  get clockOffsetMs(): number { return this.sdkMade ? this.sdkMade.config.systemClockOffset ?? 0 : this.offsetMs; }

  /**
   * Learns the offset from a skew answer's Date header (`serverDateMs`), given the offset the
   * refused request was signed with. True when that explains the refusal (the signing time was
   * off by more than a minute): the request may be re-signed at once.
   */
  learnClockOffset(serverDateMs: number | undefined, signedWithOffsetMs: number, receivedAtMs = Date.now()): boolean {
    if (serverDateMs === undefined) return false;
    const offsetMs = serverDateMs - receivedAtMs;
    if (Math.abs(offsetMs - signedWithOffsetMs) < CLOCK_CORRECTION_MIN_MS) return false;
    this.offsetMs = offsetMs;
    if (this.sdkMade) this.sdkMade.config.systemClockOffset = offsetMs;
    return true;
  }

  get name(): string { return this.config.name; }
  get weight(): number { return this.config.weight; }
  /** What the user sees: the URL, or "aws" for the default AWS endpoint. */
  get label(): string { return this.config.url ?? 'aws'; }

  destroy(): void {
    this.sdkMade?.destroy();
    this.agent.destroy();
    this.http?.close();
  }
}

/** --no-sign-request: nothing is signed, so no credentials are looked up; asking is a bug. */
const noCredentials: AwsCredentialIdentityProvider = () => Promise.reject(new Error('--no-sign-request: requests are not signed, no credentials are used'));

/**
 * Credentials known without the SDK: the endpoint's own keys, else AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) when no profile is named, as the SDK's chain
 * reads them first (@aws-sdk/credential-provider-node: a profile skips the environment).
 * Undefined: the SDK's chain decides (profile, SSO, process, web identity, instance roles).
 */
function staticCredentials(config: EndpointSpec, env = process.env): AwsCredentialIdentityProvider | undefined {
  let creds: AwsCredentialIdentity | undefined;
  if (config.accessKeyId !== undefined && config.secretAccessKey !== undefined) {
    creds = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, ...(config.sessionToken !== undefined && { sessionToken: config.sessionToken }) };
  } else if (config.profile === undefined && !env.AWS_PROFILE && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY && !env.AWS_CREDENTIAL_EXPIRATION) {
    creds = {
      accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN && { sessionToken: env.AWS_SESSION_TOKEN }),
    };
  }
  if (creds === undefined) return undefined;
  const fixed = creds;
  return () => Promise.resolve(fixed);
}
