/** `s3x sync <dir> <bucket|s3://bucket/prefix> [prefix]`: upload what changed; --delete what went. */
import type { Command } from 'commander';
import { sync } from '../../index.js';
import type { CliContext } from '../context.js';
import { printable } from '../printable.js';
import { resumeLines } from '../resume-lines.js';
import { addObjectHeaderOptions, objectHeadersFromFlags, type ObjectHeaderFlags } from '../object-header-flags.js';
import { parseTarget, type S3Target } from '../target.js';
import { addTransferOptions, startTransfer, type TransferFlags } from '../transfer.js';

interface SyncFlags extends TransferFlags, ObjectHeaderFlags {
  checksum?: boolean;
  delete?: boolean;
  deleteAll?: boolean;
  /** --resume: true (the default), --no-resume: false */
  resume?: boolean;
}

/** The upload direction's arguments: `<dir> <bucket|s3://bucket/prefix> [prefix]` → the destination. */
export function uploadTarget(target: string, prefixArg: string | undefined): S3Target {
  return parseTarget(target, prefixArg);
}

export function registerSync(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('sync')
    .description('make s3://<bucket>/<prefix>/ match <dir>: upload new and changed files; with --delete, remove objects with no local file')
    .argument('<dir>', 'local directory')
    .argument('<target>', 'bucket, or s3://bucket/prefix')
    .argument('[prefix]', 'key prefix (when <target> is a plain bucket name)')
    .option('--checksum', 'compare content (local MD5 vs the object\'s ETag) instead of size + mtime; use it in CI, where rebuilt files get new mtimes')
    .option('--delete', 'remove objects under the prefix that have no local file — only after every upload succeeded')
    .option('--delete-all', '--delete, even when it empties the prefix (no local file selected) or works on a bucket root (no prefix); --delete refuses those');
  addObjectHeaderOptions(cmd);
  addTransferOptions(cmd);
  cmd.option('--resume', 'continue open multipart uploads of changed files, sending only the parts missing or different (the default)');
  cmd.option('--no-resume', 'do not continue open multipart uploads of changed files (by default they are, and Ctrl-C leaves uploads holding parts open for the next sync)');
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
  $ s3x sync ./videos s3://media/raw --endpoint-url http://127.0.0.1:7480 --no-resume   # always start multipart uploads afresh
  $ s3x sync ./public s3://site/www --config site.json --cache-control "max-age=300"   # "headers" rules in site.json win per file

Exit codes: 0 in sync; 1 some files failed (nothing was deleted); 2 usage/config/bucket/credentials; 130 interrupted.`);

  cmd.action(async (dir: string, target: string, prefixArg: string | undefined, flags: SyncFlags) => {
    const { bucket, prefix } = uploadTarget(target, prefixArg);
    const headers = objectHeadersFromFlags(flags);
    const run = await startTransfer(ctx, dir, bucket, prefix, flags);
    let summary;
    try {
      summary = await sync({
        ...run.opts, ...(flags.resume !== undefined && { resume: flags.resume }), ...(headers && { headers }),
        checksum: flags.checksum ?? false, delete: flags.delete ?? false, deleteAll: flags.deleteAll ?? false,
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
