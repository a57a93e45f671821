/**
 * `perf-data --local`: starts (or reuses) local Ceph gateways with the project's script and
 * reads back their URLs and credentials. It lives in the CLI because it spawns a server script;
 * the library only ever receives the credentials as options, and process.env is left alone.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type ConnectionOptions, type Credentials, ensureBucket, UsageError } from '../index.js';

export interface LocalGateways {
  urls: string[];
  credentials?: Credentials;
  region?: string;
}

export function startLocalGateways(ports: number[] = [7480, 7481, 7482]): LocalGateways {
  const script = path.resolve(import.meta.dirname, '../../scripts/ceph-rgw.sh');
  if (!fs.existsSync(script)) throw new UsageError(`--local needs ${script} (part of the s3x package)`);
  let out: string;
  try {
    // node:child_process on use: every other command starts without it (start-up, issue 12)
    const { execFileSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    out = execFileSync('bash', [script, 'up', ...ports.map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
  } catch {
    throw new UsageError('could not start local Ceph gateways (see the lines above); pass --endpoint-url or --config instead');
  }
  // the script prints `export NAME=value` lines for a shell to eval
  const vars: Record<string, string> = {};
  for (const m of out.matchAll(/^export ([A-Z0-9_]+)="?([^"\n]*)"?$/gm)) vars[m[1]!] = m[2]!;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: region } = vars;
  return {
    urls: (vars.S3X_ENDPOINTS ?? '').split(/\s+/).filter(Boolean),
    ...(accessKeyId && secretAccessKey && { credentials: { accessKeyId, secretAccessKey } }),
    ...(region && { region }),
  };
}

/**
 * Starts the gateways and makes `bucket` there; returns their URLs and the options that reach
 * them (their credentials; their region unless `--region` was given).
 */
export async function useLocalGateways(bucket: string, regionFlag: string | undefined): Promise<{ urls: string[]; conn: Pick<ConnectionOptions, 'credentials' | 'region'> }> {
  const gw = startLocalGateways();
  const region = gw.region ?? process.env.AWS_REGION;
  await ensureBucket(gw.urls[0]!, bucket, { ...(region && { region }), ...(gw.credentials && { credentials: gw.credentials }) });
  return {
    urls: gw.urls,
    conn: { ...(gw.credentials && { credentials: gw.credentials }), ...(regionFlag === undefined && gw.region && { region: gw.region }) },
  };
}
