/** `s3x presign <bucket> <key>` or `s3x presign s3://bucket/key`: prints a presigned GET or PUT URL; contacts no server. */
import { Option, type Command } from 'commander';
import {
  checkExpires, DEFAULT_PRESIGN_EXPIRES_SEC, EXIT, MAX_PRESIGN_EXPIRES_SEC, parseIntInRange, presign,
  type PresignMethod, UsageError,
} from '../../index.js';
import type { CliContext } from '../context.js';
import { parseObjectTarget } from '../target.js';

interface PresignFlags {
  method: string;
  expires: string;
  /** aws-cli's name for --expires */
  expiresIn?: string;
  endpointUrl?: string;
  config?: string;
  region?: string;
  profile?: string;
  json?: boolean;
}

export function registerPresign(program: Command, ctx: CliContext): void {
  program
    .command('presign')
    .description('print a presigned URL for s3://<bucket>/<key>: GET to download it, PUT to upload it, without credentials')
    .argument('<bucket>', 'bucket, or s3://bucket/key')
    .argument('[key]', 'object key, exactly as stored (when <bucket> is a plain name)')
    .addOption(new Option('--method <method>', 'GET (download) or PUT (upload)').default('GET').argParser((v) => v.toUpperCase()))
    .option('--expires <seconds>', `lifetime of the URL, 1–${MAX_PRESIGN_EXPIRES_SEC} s (7 days)`, String(DEFAULT_PRESIGN_EXPIRES_SEC))
    .option('--endpoint-url <url>', 'S3 endpoint the URL points at (default: the first endpoint of --config, else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS S3)')
    .option('--config <file>', 'JSON endpoint pool config: its first endpoint signs (also S3X_CONFIG)')
    .option('--region <region>', 'signing region (default: AWS_REGION, the profile\'s, else us-east-1)')
    .option('--profile <name>', 'AWS shared-config profile for credentials')
    .option('--expires-in <seconds>', 'the same as --expires (aws-cli\'s name), e.g. --expires-in 600')
    .option('--json', 'print {"url","method","expiresAt",…} instead of the bare URL')
    .addHelpText('after', `
Examples:
  $ s3x presign s3://artifacts/builds/42/app.tar.gz --endpoint-url http://127.0.0.1:7480
  $ s3x presign artifacts builds/42/app.tar.gz --endpoint-url http://127.0.0.1:7480        # the same
  $ curl -o app.tar.gz "$(s3x presign artifacts builds/42/app.tar.gz --endpoint-url http://127.0.0.1:7480)"
  $ curl -X PUT --upload-file report.pdf "$(s3x presign inbox report.pdf --method PUT --expires 600 --endpoint-url http://127.0.0.1:7480)"`)
    .action(async function (this: Command, target: string, keyArg: string | undefined, flags: PresignFlags) {
      const { bucket, key } = parseObjectTarget(target, keyArg);
      const method = flags.method as PresignMethod;
      if (flags.expiresIn !== undefined && this.getOptionValueSource('expires') === 'cli' && flags.expires !== flags.expiresIn) {
        throw new UsageError(`--expires ${flags.expires} and --expires-in ${flags.expiresIn} disagree: give one`);
      }
      // a clear message for "more than 7 days" before the generic range check
      const expires = flags.expiresIn ?? flags.expires;
      const flag = flags.expiresIn !== undefined ? '--expires-in' : '--expires';
      const expiresInSec = /^\s*\d+\s*$/.test(expires) ? checkExpires(Number(expires), flag) : parseIntInRange(expires, flag, 1, MAX_PRESIGN_EXPIRES_SEC);
      const signed = await presign({
        bucket, key, method, expiresInSec,
        ...(flags.endpointUrl !== undefined && { endpointUrls: [flags.endpointUrl] }),
        ...(flags.config !== undefined && { configFile: flags.config }),
        ...(flags.region !== undefined && { region: flags.region }),
        ...(flags.profile !== undefined && { profile: flags.profile }),
      });
      ctx.out(flags.json ? `${JSON.stringify(signed)}\n` : `${signed.url}\n`);
      ctx.exitCode = EXIT.OK;
    });
}
