/**
 * Per-pattern object headers from the config file (src/config/pool-config.ts reads the file):
 *
 *   "headers": [
 *     { "match": "*.html",    "cacheControl": "no-cache" },
 *     { "match": "assets/**", "cacheControl": "max-age=31536000, immutable" }
 *   ]
 *
 * `match` is read as an --include is (src/fs/select.ts, the one matcher) against the path
 * relative to the uploaded directory; the first rule that matches a file is its rule. The flags
 * apply to every file; a matching rule's field replaces the flag's (metadata: key by key, the
 * rule's value winning); Content-Type falls back to the extension guess. Checked at load.
 */
import { UsageError } from '../errors.js';
import { globSelector, type PathSelector } from '../fs/select.js';
import { checkObjectHeaders, type ObjectHeaders } from './object-headers.js';
import { readConfigJson } from './pool-config.js';

/** The fields a rule may set (no encryption: an SSE-C key has no place in a file). */
const RULE_FIELDS = ['match', 'contentType', 'cacheControl', 'contentEncoding', 'contentDisposition', 'expires', 'metadata', 'storageClass', 'acl'] as const;
type RuleHeaders = Pick<ObjectHeaders, 'contentType' | 'cacheControl' | 'contentEncoding' | 'contentDisposition' | 'expires' | 'metadata' | 'storageClass' | 'acl'>;

export interface HeaderRule { match: string; headers: RuleHeaders }

/** The headers of each file: the flags', with the first matching rule's fields over them. */
export type HeadersFor = (rel: string) => ObjectHeaders;

/** Rules from the parsed config file's `headers` (absent: none), each checked; `source` names the file. */
export function parseHeaderRules(raw: unknown, source: string): HeaderRule[] {
  if (raw === undefined) return [];
  const fail = (where: string, why: string): never => { throw new UsageError(`${source}: ${where}: ${why}`); };
  if (!Array.isArray(raw)) fail('headers', 'must be a list of rules like {"match": "*.html", "cacheControl": "no-cache"}');
  return (raw as unknown[]).map((r, i) => {
    const where = `headers[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return fail(where, 'must be an object like {"match": "*.html", "cacheControl": "no-cache"}');
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!(RULE_FIELDS as readonly string[]).includes(k)) fail(`${where}.${JSON.stringify(k)}`, `unknown field (known: ${RULE_FIELDS.join(', ')})`);
    }
    if (typeof o.match !== 'string' || o.match === '') fail(`${where}.match`, 'must be a non-empty glob, read as --include reads it (e.g. "*.html", "assets/**")');
    const headers: Record<string, unknown> = {};
    for (const k of RULE_FIELDS) {
      if (k === 'match' || o[k] === undefined) continue;
      if (k === 'metadata') {
        const m = o[k];
        if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.values(m).some((v) => typeof v !== 'string')) fail(`${where}.metadata`, 'must be an object of strings');
        headers[k] = m;
      } else if (typeof o[k] !== 'string') fail(`${where}.${k}`, 'must be a string');
      else headers[k] = o[k];
    }
    if (Object.keys(headers).length === 0) fail(where, 'sets no header');
    try {
      return { match: o.match as string, headers: checkObjectHeaders(headers as RuleHeaders, where) as RuleHeaders };
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(`${source}: ${err.message}`) : err;
    }
  });
}

/** The rules of the config file (--config, else S3X_CONFIG), none without one. */
export function headerRulesOf(configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): HeaderRule[] {
  const file = configFile ?? env.S3X_CONFIG;
  if (!file) return [];
  return parseHeaderRules(readConfigJson(file).headers, `--config ${file}`);
}

/** The flags' headers (checked) and the rules, as one function of the file's relative path. */
export function headersPlan(flags: ObjectHeaders, rules: readonly HeaderRule[]): HeadersFor {
  const base = checkObjectHeaders(flags);
  if (rules.length === 0) return () => base;
  const compiled: Array<{ test: PathSelector; headers: RuleHeaders }> = rules.map((r) => ({ test: globSelector(r.match), headers: r.headers }));
  return (rel) => {
    const rule = compiled.find((r) => r.test(rel));
    if (!rule) return base;
    const merged: ObjectHeaders = { ...base, ...rule.headers };
    if (base.metadata && rule.headers.metadata) merged.metadata = { ...base.metadata, ...rule.headers.metadata };
    return merged;
  };
}
