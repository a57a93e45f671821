/**
 * The object-header flags of upload and sync (aws-cli's names and value syntax), and the SSE-C
 * pair that download takes too. Values are checked by src/config/object-headers.ts before
 * anything is sent; the SSE-C key is never echoed, not even in an error.
 */
import type { Command } from 'commander';
import {
  CANNED_ACLS, checkObjectHeaders, type ObjectHeaders, parseMetadataFlags, type SseCustomerKey, sseCustomerKeyFrom,
  STORAGE_CLASSES, UsageError,
} from '../index.js';
import { collect } from './common.js';

export interface SseCFlags {
  /** commander gives `true` for a bare --sse-c */
  sseC?: string | boolean;
  sseCKey?: string;
}

export interface ObjectHeaderFlags extends SseCFlags {
  contentType?: string;
  cacheControl?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  expires?: string;
  metadata?: string[];
  storageClass?: string;
  acl?: string;
  sse?: string | boolean;
  sseKmsKeyId?: string;
}

/** --sse-c [AES256] with --sse-c-key (raw, base64 or fileb://path), on every command that writes or reads the objects. */
export function addSseCOptions(cmd: Command): Command {
  return cmd
    .option('--sse-c [algorithm]', 'SSE-C: encrypt/decrypt with your own key (AES256, the only one); needs --sse-c-key, e.g. --sse-c AES256 --sse-c-key fileb://key.bin')
    .option('--sse-c-key <key>', 'the SSE-C key: 32 bytes as given, their base64, or fileb://path to a 32-byte file (never printed), e.g. --sse-c-key fileb://key.bin');
}

export function addObjectHeaderOptions(cmd: Command): Command {
  cmd
    .option('--content-type <type>', 'Content-Type of every object, instead of the guess from the extension, e.g. --content-type "text/html; charset=utf-8"')
    .option('--cache-control <value>', 'Cache-Control of every object, e.g. --cache-control "max-age=3600"')
    .option('--content-encoding <value>', 'Content-Encoding of every object, e.g. --content-encoding gzip')
    .option('--content-disposition <value>', 'Content-Disposition of every object, e.g. --content-disposition attachment')
    .option('--expires <date>', 'Expires of every object: an HTTP or ISO 8601 date, e.g. --expires 2027-01-01T00:00:00Z')
    .option('--metadata <k=v>', 'user metadata (x-amz-meta-*), repeatable; k=v,k2=v2 or JSON as aws-cli, e.g. --metadata build=42 --metadata team=web', collect)
    .option('--storage-class <class>', `storage class (${STORAGE_CLASSES.join(', ')}), e.g. --storage-class STANDARD_IA`)
    .option('--acl <acl>', `canned ACL (${CANNED_ACLS.join(', ')}), e.g. --acl public-read`)
    .option('--sse [algorithm]', 'server-side encryption: AES256 (default) or aws:kms, e.g. --sse aws:kms')
    .option('--sse-kms-key-id <id>', 'the KMS key of --sse aws:kms, e.g. --sse-kms-key-id alias/artifacts');
  return addSseCOptions(cmd);
}

/** --sse-c/--sse-c-key → the key (checked), or undefined when neither is given. */
export function sseCFromFlags(f: SseCFlags): SseCustomerKey | undefined {
  if (f.sseC === undefined && f.sseCKey === undefined) return undefined;
  if (f.sseC !== undefined && f.sseC !== true && f.sseC !== 'AES256') throw new UsageError(`--sse-c must be AES256 (the only SSE-C algorithm), got ${JSON.stringify(f.sseC)}`);
  if (f.sseCKey === undefined) throw new UsageError('--sse-c needs --sse-c-key (32 bytes, their base64, or fileb://path)');
  if (f.sseC === undefined) throw new UsageError('--sse-c-key needs --sse-c AES256');
  return sseCustomerKeyFrom(f.sseCKey);
}

/** The flags → ObjectHeaders, checked; undefined when none is given. */
export function objectHeadersFromFlags(f: ObjectHeaderFlags): ObjectHeaders | undefined {
  const sseC = sseCFromFlags(f);
  const h: ObjectHeaders = {
    ...(f.contentType !== undefined && { contentType: f.contentType }),
    ...(f.cacheControl !== undefined && { cacheControl: f.cacheControl }),
    ...(f.contentEncoding !== undefined && { contentEncoding: f.contentEncoding }),
    ...(f.contentDisposition !== undefined && { contentDisposition: f.contentDisposition }),
    ...(f.expires !== undefined && { expires: f.expires }),
    ...(f.metadata !== undefined && { metadata: parseMetadataFlags(f.metadata) }),
    ...(f.storageClass !== undefined && { storageClass: f.storageClass }),
    ...(f.acl !== undefined && { acl: f.acl }),
    ...(typeof f.sse === 'string' ? { sse: f.sse } : f.sse === true && { sse: 'AES256' }),
    ...(f.sseKmsKeyId !== undefined && { sseKmsKeyId: f.sseKmsKeyId }),
    ...(sseC && { sseC }),
  };
  return Object.keys(h).length > 0 ? checkObjectHeaders(h) : undefined;
}
