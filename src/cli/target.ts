/**
 * The one reader of where a command works: `s3://bucket/prefix` (as aws-cli, s5cmd and rclone's
 * users type it) or today's `bucket [prefix]` pair. Pure: a bad target is a UsageError (exit 2)
 * before any request, --dry-run included.
 *
 * The prefix is what follows `s3://bucket/`, verbatim: `s3://b` and `s3://b/` give "", and each
 * command reads the prefix as it always has (ls, download, delete-prefix and cleanup-multipart by
 * the folder rule: "pre" and "pre/" both name the folder pre/; upload, sync and perf-data join it
 * to relative paths with exactly one "/").
 */
import { UsageError } from '../index.js';

export interface S3Target { bucket: string; prefix: string }

const BUCKET_RULES = '3–63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit';

/** Why `name` is not an S3 bucket name, or undefined when it is one. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `it has ${name.length} characters`;
  if (!/^[a-z0-9.-]+$/.test(name)) return 'only lowercase letters, digits, dots and hyphens are allowed';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'it must start and end with a letter or digit';
  if (name.includes('..')) return 'it must not contain ".."';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'it must not look like an IP address';
  return undefined;
}

/** `name` when it is a valid bucket name; a UsageError saying why otherwise. */
export function checkBucketName(name: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name) && !isS3Url(name)) {
    throw new UsageError(`'${name}': only s3://bucket/prefix URLs are accepted (not ${name.slice(0, name.indexOf('://') + 3)})`);
  }
  const problem = bucketNameProblem(name);
  const slash = name.indexOf('/');
  // s5cmd's and rclone's users write bucket/prefix; both forms s3x reads are named
  if (problem && slash > 0 && bucketNameProblem(name.slice(0, slash)) === undefined) {
    throw new UsageError(`'${name}' is not a bucket name: write s3://${name}, or ${name.slice(0, slash)} ${name.slice(slash + 1)}`);
  }
  if (problem) throw new UsageError(`'${name}' is not a valid bucket name: ${problem} (S3 bucket names are ${BUCKET_RULES})`);
  return name;
}

/** True when `arg` is an s3:// URL (the form that names a bucket, as opposed to a local path). */
export function isS3Url(arg: string): boolean {
  return arg.startsWith('s3://');
}

/** "s3://b/p/q" → { bucket: 'b', prefix: 'p/q' }; "s3://b" and "s3://b/" → prefix "". */
export function parseS3Url(arg: string): S3Target {
  if (!isS3Url(arg)) throw new UsageError(`'${arg}' is not an s3:// URL (expected s3://bucket/prefix)`);
  const rest = arg.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  if (bucket === '') throw new UsageError(`'${arg}' names no bucket (expected s3://bucket/prefix)`);
  return { bucket: checkBucketName(bucket), prefix: slash < 0 ? '' : rest.slice(slash + 1) };
}

/**
 * A command's `<bucket|s3://bucket/prefix> [prefix]` pair: the URL, or the bucket name with the
 * separate prefix (`defaultPrefix` when it is not given). Both a URL and a prefix is refused.
 */
export function parseTarget(bucketOrUrl: string, prefixArg: string | undefined, defaultPrefix = ''): S3Target {
  if (!isS3Url(bucketOrUrl)) return { bucket: checkBucketName(bucketOrUrl), prefix: prefixArg ?? defaultPrefix };
  if (prefixArg !== undefined) {
    throw new UsageError(`give the prefix either in ${bucketOrUrl} or as a separate argument ('${prefixArg}'), not both`);
  }
  return parseS3Url(bucketOrUrl);
}

/** presign's `<bucket|s3://bucket/key> [key]`: the key must be named, in the URL or after the bucket. */
export function parseObjectTarget(bucketOrUrl: string, keyArg: string | undefined): { bucket: string; key: string } {
  const { bucket, prefix: key } = parseTarget(bucketOrUrl, keyArg);
  if (key === '') throw new UsageError(isS3Url(bucketOrUrl) ? `'${bucketOrUrl}' names no key (expected s3://bucket/key)` : 'missing the object key (expected <bucket> <key> or s3://bucket/key)');
  return { bucket, key };
}

/**
 * download's `<bucket> <prefix> <dir>` or `<s3://bucket/prefix> <dir>`: with two arguments the
 * first must be an s3:// URL; with three, a URL first is refused (its prefix would be given twice).
 */
export function parseDownloadArgs(first: string, second: string | undefined, third: string | undefined): S3Target & { dir: string } {
  if (third === undefined) {
    // aws-cli's users put the source first; a URL after the dir is that order swapped.
    if (second !== undefined && isS3Url(second) && !isS3Url(first)) throw new UsageError(`the s3:// URL comes first: s3x download ${second} ${first}`);
    if (second === undefined) throw new UsageError(`missing the local directory: expected s3x download ${isS3Url(first) ? first : `${first} <prefix>`} <dir>`);
    if (!isS3Url(first)) throw new UsageError(`missing the local directory: expected <bucket> <prefix> <dir> or s3://${checkBucketName(first)}/<prefix> <dir>`);
    return { ...parseS3Url(first), dir: second };
  }
  return { ...parseTarget(first, second), dir: third };
}

/** upload's `<dir> <bucket|s3://bucket/prefix> [prefix]`: an s3:// URL as the directory is the order swapped. */
export function parseUploadArgs(dir: string, bucketOrUrl: string, prefixArg: string | undefined): S3Target {
  if (isS3Url(dir)) throw new UsageError(`upload sends a local directory: s3x upload ${bucketOrUrl} ${dir} (to fetch from S3: s3x download)`);
  return parseTarget(bucketOrUrl, prefixArg);
}

/** `endpoints check`'s optional bucket: a name or s3://bucket (a prefix there is refused: it checks buckets). */
export function parseBucketOnly(bucketOrUrl: string): string {
  const { bucket, prefix } = parseTarget(bucketOrUrl, undefined);
  if (prefix !== '') throw new UsageError(`'${bucketOrUrl}': give only the bucket here (s3://${bucket}), not a prefix`);
  return bucket;
}
