/** `s3x download <bucket> <prefix> <dir>` or `s3x download s3://bucket/prefix <dir>`: flags → DownloadOptions → download() → table, summary, exit code. */
import type { Command } from 'commander';
import {
  DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES, download, type DownloadOptions, type DownloadProgress,
  formatBytes, MIB, parseSizeBytes, type RequestReport,
} from '../../index.js';
import { addCommonOptions, connectionFromFlags, type CommonFlags } from '../common.js';
import { addSseCOptions, sseCFromFlags, type SseCFlags } from '../object-header-flags.js';
import { finishRun, reportSink } from '../finish.js';
import { createSpinner, renderDownloadSummary } from '../render-objects.js';
import type { CliContext } from '../context.js';
import { parseDownloadArgs } from '../target.js';
import { tierUpForRun } from '../tier-up.js';

interface DownloadFlags extends CommonFlags, SseCFlags {
  rawPrefix?: boolean;
  skipExisting?: boolean;
  verify: boolean;
  partSize: string;
  multipartThreshold: string;
  table?: boolean;
}

export function registerDownload(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('download')
    .description('download every object under s3://<bucket>/<prefix>/ into <dir>, in parallel over one or more endpoints')
    .usage('[options] <bucket> <prefix> <dir>\n       s3x download [options] s3://<bucket>/<prefix> <dir>')
    .argument('<bucket>', 'bucket, or s3://bucket/prefix (then <dir> comes next)')
    .argument('[prefix]', 'downloads keys under "<prefix>/" to <dir>/<rest of the key>; "" = the whole bucket')
    .argument('[dir]', 'local directory (created if missing)')
    .option('--raw-prefix', 'match the prefix as a plain string; paths are then relative to its last "/"')
    .option('--skip-existing', 'leave a file alone when one of the same size is already there')
    .option('--no-verify', 'do not compare the MD5 of single-part objects with their ETag')
    .option('--part-size <size>', 'size of one ranged GET for large objects, 5MiB–5GiB', `${DEFAULT_PART_SIZE_BYTES / MIB}MiB`)
    .option('--multipart-threshold <size>', 'objects of at least this size are fetched as parallel ranged GETs; unless given, an object whose MD5 is checked is streamed (and hashed as it is written) below 256MiB, like rclone', `${DEFAULT_MULTIPART_THRESHOLD_BYTES / MIB}MiB`)
    .option('--table', 'print the per-request table: attempts | bytes | success_ms | total_ms | MBps | MBps est');
  addSseCOptions(cmd);
  addCommonOptions(cmd);
  cmd.addHelpText('after', `
Safety: each file is written as <name>.s3x-tmp-<random> and renamed when complete and verified, so a
failure or Ctrl-C never leaves a partial file under its real name. A key that would land outside
<dir> ("..", "." or empty segments, a leading "/", a backslash, NUL) is refused and named; the rest
goes on. Keys ending in "/" (folder markers) become empty directories.

Examples:
  $ s3x download s3://artifacts/builds/42 ./out --endpoint-url http://127.0.0.1:7480
  $ s3x download artifacts builds/42 ./out --endpoint-url http://127.0.0.1:7480        # the same
  $ s3x download s3://public-data/2026 ./data --no-sign-request --endpoint-url http://127.0.0.1:7480
  $ s3x download lake raw ./raw --endpoint-url http://127.0.0.1:7480 --endpoint-url http://127.0.0.1:7481 -c 32 --skip-existing
  $ s3x download vault secret ./out --sse-c AES256 --sse-c-key fileb://key.bin     # objects uploaded with SSE-C

Exit codes: 0 all downloaded; 1 some objects failed or were refused (each is named); 2 usage, config, bucket or credential error; 130 interrupted.`);

  cmd.action(async (first: string, second: string | undefined, third: string | undefined, flags: DownloadFlags) => {
    const { bucket, prefix, dir } = parseDownloadArgs(first, second, third);
    const sseC = sseCFromFlags(flags);
    const { conn, logger } = connectionFromFlags(flags, ctx.signal);
    const reports: RequestReport[] = [];
    const tierUp = tierUpForRun(logger);
    const spinner = await createSpinner(flags.progress && !flags.json, (p: DownloadProgress) => {
      const rate = p.elapsedMs > 0 ? p.bytesDone / 1e6 / (p.elapsedMs / 1000) : 0;
      return `${p.filesDone}${p.listDone ? `/${p.filesFound}` : ` (${p.filesFound} listed)`} files, ${formatBytes(p.bytesDone)}, ${rate.toFixed(1)} MB/s` +
        (p.filesSkipped ? `, ${p.filesSkipped} skipped` : '') + (p.filesFailed ? `, ${p.filesFailed} failed` : '');
    });
    const threshold = parseSizeBytes(flags.multipartThreshold, '--multipart-threshold');
    const opts: DownloadOptions = {
      ...conn, bucket, prefix, dir,
      rawPrefix: flags.rawPrefix ?? false,
      ...(sseC && { sseC }),
      skipExisting: flags.skipExisting ?? false,
      verify: flags.verify,
      partSizeBytes: parseSizeBytes(flags.partSize, '--part-size'),
      // not given: download() picks the threshold by whether the MD5 is checked (ops/fetch-mode.ts)
      ...(cmd.getOptionValueSource('multipartThreshold') !== 'default' && { multipartThresholdBytes: threshold }),
      onProgress: (p) => { tierUp(p); spinner.update(p); },
      onReport: reportSink(ctx, flags, reports),
    };
    let summary;
    try {
      summary = await download(opts);
    } finally {
      spinner.stop();
    }
    logger.info({ files: summary.files, bytes: summary.bytes, failed: summary.failed.length, wallMs: Math.round(summary.wallMs) }, 'download finished');
    await finishRun(ctx, flags, reports, summary, () => renderDownloadSummary(summary), summary.failed.length);
  });
}
