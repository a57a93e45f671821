/**
 * `s3x sync <dir> <bucket|s3://bucket/prefix> [prefix]`: upload what changed; --delete what went.
 * `s3x sync s3://bucket/prefix <dir>`: the other way (./sync-down.ts).
 */
import type { Command } from 'commander';
import { sync, UsageError } from '../../index.js';
import type { CliContext } from '../context.js';
import { addObjectHeaderOptions, objectHeadersFromFlags } from '../object-header-flags.js';
import { printable } from '../printable.js';
import { resumeLines } from '../resume-lines.js';
import { isS3Url, parseS3Url, parseTarget } from '../target.js';
import { addTransferOptions, startTransfer } from '../transfer.js';
import { runSyncDown, type SyncFlags } from './sync-down.js';

/** Which way a sync goes, and between what. */
export type SyncRoute =
  | { direction: 'up'; dir: string; bucket: string; prefix: string }
  | { direction: 'down'; bucket: string; prefix: string; dir: string };

/** A second argument that cannot be a bucket name ("./out", "a/b", ".", "~/x"): a local path. */
const looksLocal = (a: string): boolean => a.includes('/') || a.includes('\\') || a === '.' || a === '..' || a.startsWith('~');

/**
 * The direction from the arguments: `s3://… <dir>` downloads, `<dir> s3://…` and
 * `<dir> <bucket> [prefix]` upload; two s3:// URLs or two local paths are a usage error.
 */
export function syncRoute(first: string, second: string, third: string | undefined): SyncRoute {
  if (isS3Url(first) && isS3Url(second)) throw new UsageError(`sync goes between a local directory and s3://, not between two s3:// URLs ('${first}', '${second}')`);
  if (isS3Url(first)) {
    if (third !== undefined) throw new UsageError(`sync s3://bucket/prefix <dir> takes two arguments; '${third}' is one too many`);
    const { bucket, prefix } = parseS3Url(first);
    return { direction: 'down', bucket, prefix, dir: second };
  }
  if (!isS3Url(second) && looksLocal(second)) throw new UsageError(`sync needs one side in S3: '${first}' and '${second}' are both local paths (write s3://bucket/prefix)`);
  const { bucket, prefix } = parseTarget(second, third);
  return { direction: 'up', dir: first, bucket, prefix };
}

export function registerSync(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('sync')
    .description('make s3://<bucket>/<prefix>/ match <dir> (upload), or <dir> match s3://<bucket>/<prefix>/ (download): copy new and changed files; with --delete, remove what the source does not have')
    .argument('<source>', 'local directory (upload), or s3://bucket/prefix (download)')
    .argument('<target>', 'bucket or s3://bucket/prefix (upload), or local directory, created if missing (download)')
    .argument('[prefix]', 'key prefix (upload, when <target> is a plain bucket name)')
    .option('--checksum', 'compare content (local MD5 vs the object\'s ETag) instead of size + mtime; use it in CI, where rebuilt files get new mtimes')
    .option('--size-only', 'compare sizes only, as aws-cli and s5cmd do: e.g. s3x sync s3://site/www ./www --size-only')
    .option('--exact-timestamps', 'download direction: a file whose mtime differs from the object\'s LastModified either way is changed (default: only an older file), as aws-cli; e.g. s3x sync s3://b/p ./d --exact-timestamps')
    .option('--delete', 'remove what the source does not have (objects, or local files) — only after every transfer succeeded')
    .option('--delete-all', '--delete, even when it empties the destination (nothing selected on the source side) or, uploading, works on a bucket root (no prefix); --delete refuses those');
  addObjectHeaderOptions(cmd);
  addTransferOptions(cmd);
  cmd.option('--resume', 'upload direction: continue open multipart uploads of changed files, sending only the parts missing or different (the default)');
  cmd.option('--no-resume', 'upload direction: do not continue open multipart uploads of changed files (by default they are, and Ctrl-C leaves uploads holding parts open for the next sync)');
  cmd.addHelpText('after', `
Changed means: the size differs, or the file's mtime is newer than the object's LastModified
(with --checksum: the MD5 differs from the ETag). --include/--exclude and --shard apply to both
sides, read the same way: an excluded or other-shard object is never deleted. A pattern without
"/" matches the name at any depth; one without wildcards ("uploads", ".git") also takes a
directory of that name with everything in it; "dir/" names a directory at any depth, "a/b/"
the one at the root; "*.tmp" or "!(*.txt)" match file names only, never a directory's.
--delete never deletes at or under a path that could not be read: a symlink not followed or
broken (its name and everything below it), an unreadable directory (then nothing is deleted).
--delete refuses (exit 2) when no local file is selected (an empty or all-excluded <dir>: it
would empty the prefix) and on a bucket root (no prefix); --delete-all does both.

Examples:
  $ s3x sync ./build s3://artifacts/main/latest --endpoint-url http://127.0.0.1:7480 --delete
  $ s3x sync ./build artifacts main/latest --checksum --dry-run
  $ s3x sync ./build s3://artifacts/run-42 --config pool.json --shard 2/4     # one of 4 CI jobs
  $ s3x sync ./build s3://artifacts/main/latest --size-only
  $ s3x sync ./videos s3://media/raw --endpoint-url http://127.0.0.1:7480 --no-resume   # always start multipart uploads afresh
  $ s3x sync ./public s3://site/www --config site.json --cache-control "max-age=300"   # "headers" rules in site.json win per file

Download direction (s3:// first): <dir> is brought up to date, created if missing. Changed
means the size differs or the object's LastModified is newer than the file's mtime (whole
seconds; --exact-timestamps: differs either way; --size-only; --checksum). Files are written
as download writes them (temporary file, MD5 check, renamed; mtime = LastModified, so the next
run sees them unchanged). --delete removes local files with no object, only after every
download succeeded and the listing and the walk were complete: only regular files selected by
--include/--exclude/--shard, never a directory (empty ones stay), never a symbolic link nor
what it points to; nothing when a local directory could not be read. --delete refuses (exit 2)
when no object is selected under the prefix (it would empty <dir>); --delete-all means it.
  $ s3x sync s3://artifacts/main/latest ./latest --endpoint-url http://127.0.0.1:7480 --delete
  $ s3x sync s3://artifacts/main/latest ./latest --checksum --dry-run --exclude '*.log'

Exit codes: 0 in sync; 1 some files failed (nothing was deleted); 2 usage/config/bucket/credentials; 130 interrupted.`);

  cmd.action(async (source: string, target: string, prefixArg: string | undefined, flags: SyncFlags) => {
    const route = syncRoute(source, target, prefixArg);
    // not given: the download direction picks the threshold by whether the MD5 is checked (ops/fetch-mode.ts)
    if (route.direction === 'down') return runSyncDown(ctx, route.bucket, route.prefix, route.dir, flags, cmd.getOptionValueSource('multipartThreshold') !== 'default');
    const { dir, bucket, prefix } = route;
    if (flags.exactTimestamps) throw new UsageError('sync <dir> s3://…: --exact-timestamps is for the download direction (s3:// first), as in aws-cli; uploading, LastModified is the upload time, never the file\'s mtime');
    const headers = objectHeadersFromFlags(flags);
    const run = await startTransfer(ctx, dir, bucket, prefix, flags);
    let summary;
    try {
      summary = await sync({
        ...run.opts, ...(flags.resume !== undefined && { resume: flags.resume }), ...(headers && { headers }),
        checksum: flags.checksum ?? false, sizeOnly: flags.sizeOnly ?? false, delete: flags.delete ?? false, deleteAll: flags.deleteAll ?? false,
        onPlanDelete: (key) => ctx.out(flags.json ? `${JSON.stringify({ type: 'plan-delete', key })}\n` : `would delete ${printable(`s3://${bucket}/${key}`)}\n`),
      });
    } finally {
      run.stop();
    }
    const p = summary.plan;
    const lines = [`Plan: ${p.new} new, ${p.changed} changed, ${p.unchanged} unchanged, ${p.remoteOnly} to delete${flags.delete || flags.deleteAll ? '' : ' (not deleted without --delete)'}`];
    if (flags.delete || flags.deleteAll) {
      if (summary.dryRun) lines.push(`Would delete: ${summary.deleted}`);
      else lines.push(`Deleted: ${summary.deleted}${summary.deleteFailed.length ? `, failed: ${summary.deleteFailed.length}` : ''}`);
      for (const f of summary.deleteFailed) lines.push(`  delete ${printable(f.key)}: ${printable(f.error)}`);
      if (summary.deleteSkipped) lines.push(`Not deleted: ${summary.deleteSkipped}`);
    }
    lines.push(...resumeLines(summary.resume, bucket, summary.prefix, 'run the sync again'));
    // a failed delete is a failure of the run
    if (summary.deleteFailed.length > 0) {
      summary.failed.push(...summary.deleteFailed.map((f) => ({ path: `(remote) ${f.key}`, key: f.key, error: `delete: ${f.error}` })));
    }
    await run.finish(summary, lines);
  });
}
