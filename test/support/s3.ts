/** What e2e tests need: the servers' coordinates, an SDK client to check results, the CLI runner. */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand,
  ListObjectsV2Command, S3Client, type _Object,
} from '@aws-sdk/client-s3';

export interface S3TestEnv {
  endpoints: string[];
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** the Ceph data dir when the suite started the cluster itself (lets tests stop a gateway) */
  cephDir: string | undefined;
}

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/s3x.js');

export function client(env: S3TestEnv, endpoint = env.endpoints[0]!): S3Client {
  return new S3Client({
    endpoint, region: env.region, forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A fresh bucket with a unique name; call `drop` in afterAll. */
export async function makeBucket(env: S3TestEnv, hint: string): Promise<{ bucket: string; drop: () => Promise<void> }> {
  const bucket = `s3x-${hint}-${crypto.randomBytes(4).toString('hex')}`.toLowerCase();
  const s3 = client(env);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    drop: async () => {
      try {
        for (;;) {
          const objs = await listAll(env, bucket);
          if (objs.length === 0) break;
          for (let i = 0; i < objs.length; i += 1000) {
            await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objs.slice(i, i + 1000).map((o) => ({ Key: o.Key! })), Quiet: true } }));
          }
        }
        await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        s3.destroy();
      }
    },
  };
}

export async function listAll(env: S3TestEnv, bucket: string, prefix = ''): Promise<_Object[]> {
  const s3 = client(env);
  const out: _Object[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      out.push(...(page.Contents ?? []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    s3.destroy();
  }
  return out;
}

export async function objectMd5(env: S3TestEnv, bucket: string, key: string, endpoint?: string): Promise<string> {
  const s3 = client(env, endpoint);
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await res.Body!.transformToByteArray();
    return crypto.createHash('md5').update(bytes).digest('hex');
  } finally {
    s3.destroy();
  }
}

export function fileMd5(p: string): string {
  return crypto.createHash('md5').update(fs.readFileSync(p)).digest('hex');
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs the built CLI (bin/s3x.js) with the test servers' credentials and a clean HOME. */
export function runCli(env: S3TestEnv, args: string[], opts: { env?: Record<string, string | undefined>; uid?: number; gid?: number; timeoutMs?: number } = {}): Promise<CliResult> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-home-'));
  if (opts.uid !== undefined) fs.chmodSync(home, 0o777);
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    AWS_ACCESS_KEY_ID: env.accessKeyId,
    AWS_SECRET_ACCESS_KEY: env.secretAccessKey,
    AWS_REGION: env.region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: childEnv, stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.gid ?? opts.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 110_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.rmSync(home, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

/** Writes `files` (relative path → content) under a fresh temp dir; returns the dir. */
export function makeTree(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-tree-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return dir;
}

/** The NDJSON records of a `--json` run's stdout, one per non-empty line. */
export function ndjson<T>(stdout: string): T[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

/** Waits (bounded: 200 × 25 ms) for `cond`; no assertion about how long it took. */
export async function eventually(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

