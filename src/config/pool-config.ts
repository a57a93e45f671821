/**
 * The endpoint pool's configuration: a JSON file (--config / S3X_CONFIG), then environment
 * overrides (S3X_ENDPOINT_<i>_<FIELD>, S3X_MODE, S3X_STRATEGY), then flags. Every error names
 * the field and why, and never echoes a secret.
 *
 * {
 *   "endpoints": [
 *     { "name": "rgw-a", "url": "http://127.0.0.1:7480", "region": "us-east-1",
 *       "accessKeyId": "…", "secretAccessKey": "…", "maxConcurrent": 16, "retries": 5,
 *       "breaker": { "threshold": 5, "cooldownMs": 10000 }, "pathStyle": true, "weight": 1,
 *       "bwlimit": "20MiB/s", "tpslimit": 100 },
 *     { "name": "rgw-b", "url": "http://127.0.0.1:7481" }
 *   ],
 *   "mode": "pool", "strategy": "adaptive", "sharedStorage": true,
 *   "bucketMap": { "logs-*": "rgw-b" }
 * }
 */
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { DEFAULT_BREAKER, type BreakerConfig } from './defaults.js';
import { normalizeEndpointUrl } from './endpoint-url.js';
import { globToRegExp } from '../fs/glob.js';
import { parseBwLimit, type BwLimit } from './units.js';

/** Largest --tpslimit (run-wide or per endpoint), requests per second. */
export const MAX_TPS_LIMIT = 1_000_000;

export const MODES = ['pool', 'replicate', 'fallback'] as const;
export type Mode = (typeof MODES)[number];
export const STRATEGIES = ['adaptive', 'least-loaded', 'round-robin', 'bucket-map'] as const;
export type Strategy = (typeof STRATEGIES)[number];
/** Chosen by benchmark (README "Choosing the default strategy"). */
export const DEFAULT_STRATEGY: Strategy = 'adaptive';

/** One endpoint, fully resolved. Secrets stay in here and are never logged or printed. */
export interface EndpointSpec {
  name: string;
  /** undefined = AWS S3 itself */
  url?: string;
  region?: string;
  profile?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** requests in flight on this endpoint at most (its socket pool); default: --concurrency */
  maxConcurrent?: number;
  /** retries per request on this endpoint; default: --retries */
  retries?: number;
  breaker: BreakerConfig;
  /** path-style addressing; default true for custom URLs */
  pathStyle: boolean;
  /** share of the work relative to the others (round-robin, least-loaded, adaptive); default 1 */
  weight: number;
  /** --no-sign-request: anonymous requests (public buckets); no credentials are looked up */
  unsigned?: boolean;
  /** this endpoint's own --bwlimit ("bwlimit": "20MiB/s"), on top of the run's */
  bwlimit?: BwLimit;
  /** this endpoint's own --tpslimit, requests per second, on top of the run's */
  tpslimit?: number;
}

export interface PoolSpec {
  endpoints: EndpointSpec[];
  mode: Mode;
  strategy: Strategy;
  /** bucket glob → endpoint name, first match wins; unmatched buckets use the strategy */
  bucketMap: Array<{ pattern: string; endpoint: string }>;
  /** the endpoints front the same storage (parts of one multipart upload may go to any) */
  sharedStorage: boolean;
  /** where the spec came from, for messages */
  source: string;
}

export interface PoolFlags {
  configFile?: string;
  endpointUrls?: string[];
  region?: string;
  profile?: string;
  mode?: string;
  strategy?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** --no-sign-request: every endpoint sends anonymous requests */
  unsigned?: boolean;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const ENDPOINT_FIELDS = ['name', 'url', 'region', 'profile', 'accessKeyId', 'secretAccessKey', 'sessionToken', 'maxConcurrent', 'retries', 'breaker', 'pathStyle', 'weight', 'bwlimit', 'tpslimit'] as const;
/** credential fields: their values are never printed, whatever their type */
const SECRET_FIELDS = new Set(['accessKeyId', 'secretAccessKey', 'sessionToken']);
const ENV_FIELDS: Record<string, (typeof ENDPOINT_FIELDS)[number] | 'breaker.threshold' | 'breaker.cooldownMs'> = {
  NAME: 'name', URL: 'url', REGION: 'region', PROFILE: 'profile', ACCESS_KEY_ID: 'accessKeyId',
  SECRET_ACCESS_KEY: 'secretAccessKey', SESSION_TOKEN: 'sessionToken', MAX_CONCURRENT: 'maxConcurrent',
  RETRIES: 'retries', PATH_STYLE: 'pathStyle', WEIGHT: 'weight',
  BREAKER_THRESHOLD: 'breaker.threshold', BREAKER_COOLDOWN_MS: 'breaker.cooldownMs',
  BWLIMIT: 'bwlimit', TPSLIMIT: 'tpslimit',
};

class Checker {
  constructor(private readonly source: string) {}
  fail(where: string, why: string): never {
    throw new UsageError(`${this.source}: ${where}: ${why}`);
  }
  /**
   * A wrong value as an error may show it: never a credential field's, and never a list or an
   * object (a secret moved one level down would be printed whole); strings only where a string
   * was expected (a misplaced secret in a number or boolean field stays unprinted).
   */
  show(field: string, v: Json | undefined, stringExpected = true): string {
    if (SECRET_FIELDS.has(field)) return '(hidden)';
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
    if (typeof v === 'string' && stringExpected) return JSON.stringify(v);
    return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  }
  str(o: Obj, field: string, where: string): string | undefined {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(`${where}.${field}`, `must be a non-empty string, got ${this.show(field, v)}`);
    return v;
  }
  int(o: Obj, field: string, where: string, min: number, max: number): number | undefined {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(`${where}.${field}`, `must be a whole number from ${min} to ${max}, got ${this.show(field, v, false)}`);
    return v;
  }
  num(o: Obj, field: string, where: string, min: number, max: number): number | undefined {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(`${where}.${field}`, `must be a number from ${min} to ${max}, got ${this.show(field, v, false)}`);
    return v;
  }
  bool(o: Obj, field: string, where: string): boolean | undefined {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(`${where}.${field}`, `must be true or false, got ${this.show(field, v, false)}`);
    return v;
  }
  oneOf<T extends string>(v: Json | undefined, where: string, allowed: readonly T[]): T | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(where, `must be one of ${allowed.join(', ')}, got ${this.show(where, v)}`);
    return v as T;
  }
  obj(v: Json | undefined, where: string): Obj | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(where, `must be an object, got ${this.show(where, v, false)}`);
    return v;
  }
}

/** The config file's top-level object, for the parts read elsewhere (src/config/header-rules.ts). */
export function readConfigJson(file: string): Record<string, unknown> {
  return readJson(file);
}

function readJson(file: string): Obj {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    // V8's message quotes the text around the error (a secret, maybe): say where, not what
    throw new UsageError(`--config ${file}: not valid JSON${jsonErrorPlace(text)}`);
  }
  const c: Checker = new Checker(`--config ${file}`);
  return c.obj(parsed, '(top level)') ?? {};
}

/** A field name from the file as an error shows it: bare when plain, else JSON-quoted (no raw control characters). */
function fieldName(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

/** " at line L, column C" of the first JSON syntax error in `text` ("" if none is found). */
export function jsonErrorPlace(text: string): string {
  const at = jsonErrorOffset(text);
  if (at === undefined) return '';
  const before = text.slice(0, at).split('\n');
  return ` at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Offset of the first JSON syntax error (RFC 8259 grammar), undefined when `text` is valid. */
function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => { throw new RangeError(String(i)); };
  const ws = (): void => { while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++; };
  const take = (re: RegExp): void => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) fail();
    i += m![0].length;
  };
  const value = (depth: number): void => {
    ws();
    if (depth > 512) fail();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++; ws();
      if (text[i] === close) { i++; return; }
      for (;;) {
        if (c === '{') { ws(); take(/"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y); ws(); take(/:/y); }
        value(depth + 1); ws();
        if (text[i] === close) { i++; return; }
        take(/,/y);
      }
    }
    if (c === '"') take(/"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y);
    else take(/true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y);
  };
  try {
    value(0); ws();
    if (i < text.length) fail();
    return undefined;
  } catch (err) {
    if (err instanceof RangeError && /^\d+$/.test(err.message)) return Number(err.message);
    throw err;
  }
}

/** Env overrides into the raw endpoint objects (1-based index: S3X_ENDPOINT_1_URL is endpoints[0]). */
function applyEnv(endpoints: Obj[], env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    const m = /^S3X_ENDPOINT_(\d+)_([A-Z_]+)$/.exec(name);
    if (!m || value === undefined) continue;
    const i = Number(m[1]);
    const field = ENV_FIELDS[m[2]!];
    if (!field) throw new UsageError(`${name}: unknown field ${m[2]} (known: ${Object.keys(ENV_FIELDS).join(', ')})`);
    if (i < 1 || i > 64) throw new UsageError(`${name}: the endpoint index must be from 1 to 64`);
    while (endpoints.length < i) endpoints.push({});
    const ep = endpoints[i - 1]!;
    const numeric = field === 'maxConcurrent' || field === 'retries' || field === 'weight' || field === 'tpslimit' || field.startsWith('breaker.');
    let v: Json = value;
    if (numeric) {
      v = Number(value);
      if (value.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${name}: must be a number, got ${JSON.stringify(value)}`);
    } else if (field === 'pathStyle') {
      if (!/^(true|false|1|0)$/i.test(value)) throw new UsageError(`${name}: must be true or false, got ${JSON.stringify(value)}`);
      v = /^(true|1)$/i.test(value);
    }
    if (field.startsWith('breaker.')) {
      const b = (typeof ep.breaker === 'object' && ep.breaker !== null && !Array.isArray(ep.breaker) ? ep.breaker : {}) as Obj;
      b[field.slice('breaker.'.length)] = v;
      ep.breaker = b;
    } else {
      ep[field] = v;
    }
  }
}

/** The endpoint name `bucketMap` sends `bucket` to, if any. */
export function mapBucket(spec: Pick<PoolSpec, 'bucketMap'>, bucket: string): string | undefined {
  return spec.bucketMap.find((m) => globToRegExp(m.pattern).test(bucket))?.endpoint;
}

/**
 * The endpoint the AWS SDKs and aws-cli take from the environment: AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL; none when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (the same standard).
 */
export function envEndpointUrl(env: NodeJS.ProcessEnv): { variable: string; url: string } | undefined {
  if (/^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '')) return undefined;
  for (const variable of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL']) {
    const text = env[variable];
    if (text !== undefined && text !== '') {
      try {
        return { variable, url: normalizeEndpointUrl(text) };
      } catch (err) {
        throw new UsageError((err as Error).message.replace(/^--endpoint-url/, variable));
      }
    }
  }
  return undefined;
}

/**
 * Config file (if any) → env overrides → flags → one validated PoolSpec. `--endpoint-url`
 * replaces the endpoint list (the simplest case: URLs + the AWS credential chain); with neither
 * flag nor pool, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (envEndpointUrl) name the endpoint.
 */
export function resolvePoolSpec(flags: PoolFlags, env: NodeJS.ProcessEnv = process.env): PoolSpec {
  const configFile = flags.configFile ?? env.S3X_CONFIG;
  const raw: Obj = configFile ? readJson(configFile) : {};
  const source = configFile ? `--config ${configFile}` : 'endpoint settings';
  const c: Checker = new Checker(source);
  for (const k of Object.keys(raw)) {
    if (!['endpoints', 'mode', 'strategy', 'bucketMap', 'sharedStorage', 'headers'].includes(k)) c.fail(fieldName(k), 'unknown field (known: endpoints, mode, strategy, bucketMap, sharedStorage, headers)');
  }
  let rawEndpoints: Obj[] = [];
  if (raw.endpoints !== undefined) {
    if (!Array.isArray(raw.endpoints)) c.fail('endpoints', 'must be a list of endpoint objects');
    rawEndpoints = raw.endpoints.map((e, i) => c.obj(e, `endpoints[${i}]`) ?? {});
  }
  applyEnv(rawEndpoints, env);
  if (flags.endpointUrls && flags.endpointUrls.length > 0) {
    // checked here so the message names the flag the user typed
    rawEndpoints = flags.endpointUrls.map((url) => ({ url: normalizeEndpointUrl(url) }));
  } else if (rawEndpoints.length === 0) {
    const fromEnv = envEndpointUrl(env);
    if (fromEnv) rawEndpoints = [{ url: fromEnv.url }];
  }

  const endpoints: EndpointSpec[] = rawEndpoints.map((o, i) => {
    const where = `endpoints[${i}]`;
    for (const k of Object.keys(o)) {
      if (!(ENDPOINT_FIELDS as readonly string[]).includes(k)) c.fail(`${where}.${fieldName(k)}`, `unknown field (known: ${ENDPOINT_FIELDS.join(', ')})`);
    }
    const urlText = c.str(o, 'url', where);
    let url: string | undefined;
    if (urlText !== undefined) {
      try {
        url = normalizeEndpointUrl(urlText);
      } catch (err) {
        c.fail(`${where}.url`, (err as Error).message.replace(/^--endpoint-url /, ''));
      }
    }
    const accessKeyId = c.str(o, 'accessKeyId', where);
    const secretAccessKey = c.str(o, 'secretAccessKey', where);
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      c.fail(where, 'accessKeyId and secretAccessKey go together (give both, or neither for the AWS chain)');
    }
    const b = c.obj(o.breaker, `${where}.breaker`) ?? {};
    for (const k of Object.keys(b)) if (k !== 'threshold' && k !== 'cooldownMs') c.fail(`${where}.breaker.${fieldName(k)}`, 'unknown field (known: threshold, cooldownMs)');
    const spec: EndpointSpec = {
      name: c.str(o, 'name', where) ?? (rawEndpoints.length > 1 ? `ep${i + 1}` : url ? new URL(url).host : 'aws'),
      ...(url !== undefined && { url }),
      breaker: {
        threshold: c.int(b, 'threshold', `${where}.breaker`, 1, 1000) ?? DEFAULT_BREAKER.threshold,
        cooldownMs: c.int(b, 'cooldownMs', `${where}.breaker`, 100, 3_600_000) ?? DEFAULT_BREAKER.cooldownMs,
      },
      pathStyle: c.bool(o, 'pathStyle', where) ?? url !== undefined,
      weight: c.num(o, 'weight', where, 0.01, 1000) ?? 1,
    };
    const region = c.str(o, 'region', where) ?? flags.region;
    if (region !== undefined) spec.region = region;
    const profile = c.str(o, 'profile', where) ?? (accessKeyId === undefined ? flags.profile : undefined);
    if (profile !== undefined) spec.profile = profile;
    if (accessKeyId !== undefined && secretAccessKey !== undefined) {
      spec.accessKeyId = accessKeyId;
      spec.secretAccessKey = secretAccessKey;
      const token = c.str(o, 'sessionToken', where);
      if (token !== undefined) spec.sessionToken = token;
    } else if (flags.credentials && profile === undefined) {
      spec.accessKeyId = flags.credentials.accessKeyId;
      spec.secretAccessKey = flags.credentials.secretAccessKey;
      if (flags.credentials.sessionToken !== undefined) spec.sessionToken = flags.credentials.sessionToken;
    }
    const maxConcurrent = c.int(o, 'maxConcurrent', where, 1, 1024);
    if (maxConcurrent !== undefined) spec.maxConcurrent = maxConcurrent;
    const retries = c.int(o, 'retries', where, 0, 100);
    if (retries !== undefined) spec.retries = retries;
    const bwlimit = c.str(o, 'bwlimit', where);
    if (bwlimit !== undefined) {
      const limit = parseBwLimit(bwlimit, `${source}: ${where}.bwlimit`);
      if (Object.keys(limit).length > 0) spec.bwlimit = limit;
    }
    const tpslimit = c.num(o, 'tpslimit', where, 0, MAX_TPS_LIMIT);
    if (tpslimit !== undefined && tpslimit > 0) spec.tpslimit = tpslimit;
    return spec;
  });
  if (endpoints.length === 0) endpoints.push({ name: 'aws', breaker: { ...DEFAULT_BREAKER }, pathStyle: false, weight: 1, ...(flags.region !== undefined && { region: flags.region }), ...(flags.profile !== undefined && { profile: flags.profile }), ...(flags.credentials && { ...flags.credentials }) });
  if (flags.unsigned) for (const e of endpoints) e.unsigned = true;
  const names = new Set<string>();
  for (const [i, e] of endpoints.entries()) {
    if (names.has(e.name)) c.fail(`endpoints[${i}].name`, `"${e.name}" is used twice`);
    names.add(e.name);
  }

  const mode = c.oneOf(flags.mode ?? env.S3X_MODE ?? raw.mode, 'mode', MODES) ?? 'pool';
  const strategy = c.oneOf(flags.strategy ?? env.S3X_STRATEGY ?? raw.strategy, 'strategy', STRATEGIES) ?? DEFAULT_STRATEGY;
  const bucketMapObj = c.obj(raw.bucketMap, 'bucketMap') ?? {};
  const bucketMap = Object.entries(bucketMapObj).map(([pattern, target]) => {
    if (typeof target !== 'string' || !names.has(target)) c.fail(`bucketMap[${JSON.stringify(pattern)}]`, `must name an endpoint (${[...names].join(', ')}), got ${c.show('bucketMap', target)}`);
    return { pattern, endpoint: target };
  });
  if (strategy === 'bucket-map' && bucketMap.length === 0) c.fail('strategy', '"bucket-map" needs a bucketMap in the config file');
  const sharedStorage = c.bool(raw, 'sharedStorage', '(top level)') ?? mode === 'pool';
  return { endpoints, mode, strategy, bucketMap, sharedStorage, source };
}
