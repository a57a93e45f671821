/**
 * `s3x upload <dir> <bucket> [prefix]` or `s3x upload <dir> s3://bucket/prefix`: flags → UploadOptions → upload() → table, summary, exit
 * code. The transfer flags and the rendering are shared with `s3x sync` (../transfer.ts).
 */
import type { Command } from 'commander';
import { upload } from '../../index.js';
import type { CliContext } from '../context.js';
import { resumeLines } from '../resume-lines.js';
import { addObjectHeaderOptions, objectHeadersFromFlags, type ObjectHeaderFlags } from '../object-header-flags.js';
import { parseUploadArgs } from '../target.js';
import { addTransferOptions, startTransfer, type TransferFlags } from '../transfer.js';

interface UploadFlags extends TransferFlags, ObjectHeaderFlags {
  skipExisting?: boolean;
  resume?: boolean;
}

export function registerUpload(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('upload')
    .description('upload every file under <dir> to s3://<bucket>/<prefix>/, in parallel over one or more endpoints')
    .argument('<dir>', 'local directory to upload')
    .argument('<bucket>', 'destination bucket, or s3://bucket/prefix')
    .argument('[prefix]', 'key prefix (when <bucket> is a plain name); joined to relative paths with exactly one "/"')
    .option('--skip-existing', 'list the prefix first and skip files whose key is there with the same size (resume an interrupted run)');
  addObjectHeaderOptions(cmd);
  addTransferOptions(cmd);
  cmd.option('--resume', 'continue an open multipart upload of the same key, sending only the parts missing or different (MD5 of each part checked); Ctrl-C leaves uploads holding parts open for the next --resume');
  cmd.addHelpText('after', `
Examples:
  $ s3x upload ./dist s3://artifacts/builds/42 --endpoint-url http://127.0.0.1:7480
  $ s3x upload ./dist artifacts builds/42 --endpoint-url http://127.0.0.1:7480        # the same
  $ s3x upload ./data lake raw --endpoint-url http://127.0.0.1:7480 --endpoint-url http://127.0.0.1:7481 -c 32 --table
  $ s3x upload ./site web --exclude '*.map' --exclude '.git/**' --dry-run
  $ s3x upload ./data lake raw --config pool.json --skip-existing      # re-run after an interruption
  $ s3x upload ./images lake raw --endpoint-url http://127.0.0.1:7480 --skip-existing --resume   # and continue cut multipart uploads
  $ s3x upload ./site web --cache-control "max-age=300" --metadata build=42 --acl public-read
  $ s3x upload ./secret vault --sse-c AES256 --sse-c-key fileb://key.bin   # then download with the same two flags
  $ s3x upload ./public www site --config site.json   # its "headers": [{"match": "*.html", "cacheControl": "no-cache"}] win over the flags per file

Exit codes: 0 all uploaded; 1 some files failed (each is named); 2 usage, config, bucket or credential error; 130 interrupted.`);

  cmd.action(async (dir: string, target: string, prefixArg: string | undefined, flags: UploadFlags) => {
    const { bucket, prefix } = parseUploadArgs(dir, target, prefixArg);
    const headers = objectHeadersFromFlags(flags);
    const run = await startTransfer(ctx, dir, bucket, prefix, flags);
    let summary;
    try {
      summary = await upload({ ...run.opts, ...(flags.skipExisting && { compare: 'size' as const }), resume: flags.resume ?? false, ...(headers && { headers }) });
    } finally {
      run.stop();
    }
    const extra = summary.plan && flags.skipExisting ? [`Already there (same size, skipped): ${summary.plan.unchanged}`] : [];
    extra.push(...resumeLines(summary.resume, summary.bucket, summary.prefix, 'rerun with --resume'));
    await run.finish(summary, extra);
  });
}
