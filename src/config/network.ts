/**
 * How s3x reaches its endpoints: the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read as curl
 * and aws-cli read them) and the certificates it trusts (AWS_CA_BUNDLE or --ca-bundle, added to
 * Node's roots; --no-verify-ssl). One NetworkSpec serves the signed path and the SDK alike
 * (endpoints/agents.ts makes the agents both use). Proxy credentials are never shown.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeTls } from './tls-modules.js';
import { UsageError } from '../errors.js';

/** A forward proxy: http:// only (CONNECT for https endpoints, absolute-form for http ones). */
export interface ProxySpec {
  host: string;
  port: number;
  /** `Basic …` from the URL's user-info; a secret: never logged or printed */
  authorization?: string;
  /** host:port, what messages may show (never the user-info) */
  label: string;
}

export interface NetworkSpec {
  /** proxy for http:// endpoints (HTTP_PROXY / http_proxy) */
  httpProxy?: ProxySpec;
  /** proxy for https:// endpoints (HTTPS_PROXY / https_proxy) */
  httpsProxy?: ProxySpec;
  /** NO_PROXY / no_proxy as given ('' when unset) */
  noProxy: string;
  /** trusted roots for https: Node's defaults plus the bundle; undefined: Node's defaults (NODE_EXTRA_CA_CERTS included) */
  ca?: string[];
  /** false: --no-verify-ssl (certificates are not checked) */
  verifyTls: boolean;
}

export interface NetworkFlags {
  /** --ca-bundle PATH (wins over AWS_CA_BUNDLE) */
  caBundle?: string;
  /** --no-verify-ssl gives false */
  verifySsl?: boolean;
  /** --profile: whose `ca_bundle` the shared config file may give (default AWS_PROFILE, else default) */
  profile?: string;
}

/** Lowercase first, as curl and Python's urllib read proxy variables; '' counts as unset. */
function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name.toLowerCase()] || env[name.toUpperCase()];
  return v ? v.trim() : undefined;
}

/** The user-info of a proxy URL hidden, for messages about a URL that did not parse. */
function shownProxy(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, '$1(credentials hidden)@');
}

/** Parses a proxy URL (`http://user:pass@host:3128`, or `host:3128` as curl reads it). */
export function parseProxyUrl(text: string, variable: string): ProxySpec {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`${variable} '${shownProxy(text)}' is not a proxy URL (expected e.g. http://proxy.example:3128)`);
  }
  if (u.protocol !== 'http:') {
    throw new UsageError(`${variable}: only http:// proxies are supported, got ${u.protocol}//${u.host}`);
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : 80;
  const spec: ProxySpec = { host, port, label: `${u.hostname}:${port}` };
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    spec.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  return spec;
}

/**
 * Does NO_PROXY exempt host:port? As curl reads it: a comma (or space) list; `*` alone matches
 * every host; an entry matches the host itself and its subdomains (a leading `.` or `*.` is
 * ignored); `host:port` only that port; IPs and localhost only when listed; no case.
 */
export function bypassesProxy(hostname: string, port: number, noProxy: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryPort: number | undefined;
    const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1]!;
      entryPort = Number(m[2]);
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '').replace(/\.$/, '');
    if (entry === '' || (entryPort !== undefined && entryPort !== port)) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** The proxy for an endpoint URL, or undefined (none set, or NO_PROXY exempts it). */
export function proxyFor(url: string, network: NetworkSpec): ProxySpec | undefined {
  const u = new URL(url);
  const proxy = u.protocol === 'https:' ? network.httpsProxy : network.httpProxy;
  if (proxy === undefined) return undefined;
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return bypassesProxy(u.hostname, port, network.noProxy) ? undefined : proxy;
}

/** The PEM certificates of a bundle file; UsageError (one line) when it is missing, unreadable or holds none. */
function readPemBundle(file: string, source: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`${source} '${file}' cannot be read (${code})`);
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0) throw new UsageError(`${source} '${file}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return certs;
}

/**
 * `ca_bundle` of a profile in the shared config file (AWS_CONFIG_FILE, else ~/.aws/config), as
 * aws-cli reads it: `[default]` or `[profile NAME]`; a leading `~/` is the home directory.
 */
export function profileCaBundle(profile: string, env: NodeJS.ProcessEnv): { file: string; source: string } | undefined {
  const configFile = env.AWS_CONFIG_FILE || path.join(os.homedir(), '.aws', 'config');
  let text: string;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch {
    return undefined; // no config file: nothing to read (the SDK says the same)
  }
  const wanted = new Set(profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`]);
  let inProfile = false;
  for (const line of text.split(/\r?\n/)) {
    const section = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (section) inProfile = wanted.has(section[1]!.replace(/\s+/g, ' '));
    const entry = inProfile ? /^\s*ca_bundle\s*=\s*(.*?)\s*$/.exec(line) : null;
    if (entry && entry[1]) {
      const file = entry[1].startsWith('~/') ? path.join(os.homedir(), entry[1].slice(2)) : entry[1];
      return { file, source: `ca_bundle of profile '${profile}' in ${configFile}:` };
    }
  }
  return undefined;
}

/** Where the bundle comes from, as aws-cli decides: --ca-bundle, then AWS_CA_BUNDLE, then the profile's ca_bundle. */
function bundleSource(flags: NetworkFlags, env: NodeJS.ProcessEnv): { file: string; source: string } | undefined {
  if (flags.caBundle) return { file: flags.caBundle, source: '--ca-bundle' };
  if (env.AWS_CA_BUNDLE) return { file: env.AWS_CA_BUNDLE, source: 'AWS_CA_BUNDLE' };
  return profileCaBundle(flags.profile ?? (env.AWS_PROFILE || 'default'), env);
}

/**
 * Roots for our https agents: Node's, then NODE_EXTRA_CA_CERTS (Node drops it, with its own
 * roots, once `ca` is given), then the bundle. Undefined without a bundle: Node's defaults.
 */
function trustedRoots(flags: NetworkFlags, env: NodeJS.ProcessEnv): string[] | undefined {
  const from = bundleSource(flags, env);
  if (from === undefined) return undefined;
  const bundle = readPemBundle(from.file, from.source);
  let extra: string[] = [];
  if (env.NODE_EXTRA_CA_CERTS) {
    try {
      extra = readPemBundle(env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS');
    } catch {
      extra = []; // Node itself only warns about a bad NODE_EXTRA_CA_CERTS
    }
  }
  return [...nodeTls().rootCertificates, ...extra, ...bundle];
}

/** The network settings from flags and environment; UsageError on a bad proxy URL or CA bundle. */
export function resolveNetwork(flags: NetworkFlags = {}, env: NodeJS.ProcessEnv = process.env): NetworkSpec {
  const spec: NetworkSpec = { noProxy: envVar(env, 'no_proxy') ?? '', verifyTls: flags.verifySsl !== false };
  const httpsProxy = envVar(env, 'https_proxy');
  const httpProxy = envVar(env, 'http_proxy');
  if (httpsProxy !== undefined) spec.httpsProxy = parseProxyUrl(httpsProxy, env.https_proxy ? 'https_proxy' : 'HTTPS_PROXY');
  if (httpProxy !== undefined) spec.httpProxy = parseProxyUrl(httpProxy, env.http_proxy ? 'http_proxy' : 'HTTP_PROXY');
  const ca = trustedRoots(flags, env);
  if (ca !== undefined) spec.ca = ca;
  return spec;
}
