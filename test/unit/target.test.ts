/**
 * src/cli/target.ts: the one reader of `s3://bucket/prefix` and `bucket [prefix]` for every
 * command; bucket names by S3's rules, checked before anything is sent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketNameProblem, checkBucketName, isS3Url, parseBucketOnly, parseDownloadArgs, parseObjectTarget, parseS3Url, parseTarget, parseUploadArgs,
} from '../../src/cli/target.js';
import { UsageError } from '../../src/errors.js';

const lowerDigit = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const inner = fc.constantFrom(...'abcxyz0189.-'.split(''));
/** names that follow S3's rules by construction */
const validBucket = fc.tuple(lowerDigit, fc.array(inner, { minLength: 1, maxLength: 61 }), lowerDigit)
  .map(([a, mid, z]) => `${a}${mid.join('')}${z}`)
  .filter((n) => !n.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(n));
const prefixText = fc.string({ maxLength: 30 });

describe('bucket names', () => {
  it.each([
    ['ab', /2 characters/], ['a'.repeat(64), /64 characters/], ['My-Bucket', /lowercase/], ['my_bucket', /lowercase/],
    ['-bucket', /start and end/], ['bucket.', /start and end/], ['my..bucket', /\.\./], ['192.168.1.10', /IP address/],
    ['b/c', /lowercase/], ['s3:x', /lowercase/],
  ])('refuses %j', (name, why) => {
    expect(bucketNameProblem(name)).toMatch(why);
    expect(() => checkBucketName(name)).toThrow(UsageError);
  });

  it.each(['abc', 'a'.repeat(63), 'my-bucket.v2', '1bucket9', 's3x-a-0f3c', '192.168.1.1000', '10.0.0'])('accepts %j', (name) => {
    expect(bucketNameProblem(name)).toBeUndefined();
    expect(checkBucketName(name)).toBe(name);
  });

  it('accepts every name built by the rules', () => {
    fc.assert(fc.property(validBucket, (n) => bucketNameProblem(n) === undefined));
  });

  it('refuses any name with a character outside [a-z0-9.-]', () => {
    const bad = fc.constantFrom(...'AZ_/:@ \u00e9*?'.split(''));
    fc.assert(fc.property(validBucket, bad, fc.nat(), (n, c, at) => {
      const i = 1 + (at % (n.length - 1));
      return bucketNameProblem(`${n.slice(0, i)}${c}${n.slice(i)}`) !== undefined;
    }));
  });

  it('names the scheme when another URL is given as a bucket', () => {
    for (const u of ['s3a://b/p', 'https://host/b', 'gs://b']) {
      expect(() => checkBucketName(u)).toThrow(/only s3:\/\/bucket\/prefix URLs are accepted/);
      expect(() => parseTarget(u, undefined)).toThrow(/only s3:\/\//);
    }
  });
});

describe('s3:// URLs', () => {
  it('is an s3 URL only with the s3:// scheme', () => {
    expect(isS3Url('s3://b')).toBe(true);
    for (const a of ['./s3://b', 'b', 's3:/b', 'S3://b', 's3a://b', 'https://b', '']) expect(isS3Url(a)).toBe(false);
  });

  it('splits at the first slash; the prefix is kept verbatim (trailing slash included)', () => {
    expect(parseS3Url('s3://bkt')).toEqual({ bucket: 'bkt', prefix: '' });
    expect(parseS3Url('s3://bkt/')).toEqual({ bucket: 'bkt', prefix: '' });
    expect(parseS3Url('s3://bkt/pre')).toEqual({ bucket: 'bkt', prefix: 'pre' });
    expect(parseS3Url('s3://bkt/pre/')).toEqual({ bucket: 'bkt', prefix: 'pre/' });
    expect(parseS3Url('s3://bkt/a//b c/')).toEqual({ bucket: 'bkt', prefix: 'a//b c/' });
  });

  it('round-trips any valid bucket and any prefix', () => {
    fc.assert(fc.property(validBucket, prefixText, (bucket, prefix) => {
      expect(parseS3Url(`s3://${bucket}/${prefix}`)).toEqual({ bucket, prefix });
      expect(parseTarget(`s3://${bucket}/${prefix}`, undefined)).toEqual({ bucket, prefix });
      expect(parseTarget(bucket, prefix)).toEqual({ bucket, prefix });
    }));
  });

  it('refuses an empty bucket and an invalid one', () => {
    expect(() => parseS3Url('s3://')).toThrow(/names no bucket/);
    expect(() => parseS3Url('s3:///p')).toThrow(/names no bucket/);
    expect(() => parseS3Url('s3://Bad_Bucket/p')).toThrow(/'Bad_Bucket' is not a valid bucket name/);
    expect(() => parseS3Url('bucket/p')).toThrow(/not an s3:\/\/ URL/);
  });
});

describe('parseTarget', () => {
  it('keeps the bucket [prefix] form, with the command\'s default prefix', () => {
    expect(parseTarget('bkt', undefined)).toEqual({ bucket: 'bkt', prefix: '' });
    expect(parseTarget('bkt', 'logs/')).toEqual({ bucket: 'bkt', prefix: 'logs/' });
    expect(parseTarget('bkt', undefined, 'perf-data')).toEqual({ bucket: 'bkt', prefix: 'perf-data' });
    expect(parseTarget('s3://bkt', undefined, 'perf-data')).toEqual({ bucket: 'bkt', prefix: '' });
  });

  it('refuses a URL together with a separate prefix, even an empty one', () => {
    expect(() => parseTarget('s3://bkt/p', 'q')).toThrow(/either in s3:\/\/bkt\/p or as a separate argument/);
    expect(() => parseTarget('s3://bkt', '')).toThrow(UsageError);
  });

  it('a bucket/prefix without s3:// is refused with the two forms that work', () => {
    expect(() => parseTarget('bkt/logs/2026', undefined)).toThrow(/^'bkt\/logs\/2026' is not a bucket name: write s3:\/\/bkt\/logs\/2026, or bkt logs\/2026$/);
    expect(() => parseTarget('Bkt/logs', undefined)).toThrow(/'Bkt\/logs' is not a valid bucket name: only lowercase/);
  });

  it('refuses whatever is not a valid bucket and not an s3:// URL', () => {
    fc.assert(fc.property(fc.string({ maxLength: 70 }), fc.option(prefixText, { nil: undefined }), (arg, p) => {
      fc.pre(!isS3Url(arg) && bucketNameProblem(arg) !== undefined);
      expect(() => parseTarget(arg, p)).toThrow(UsageError);
    }));
  });
});

describe('parseObjectTarget (presign)', () => {
  it('takes s3://bucket/key or bucket key, and needs a key', () => {
    expect(parseObjectTarget('s3://bkt/a/b.txt', undefined)).toEqual({ bucket: 'bkt', key: 'a/b.txt' });
    expect(parseObjectTarget('bkt', 'a/b.txt')).toEqual({ bucket: 'bkt', key: 'a/b.txt' });
    expect(() => parseObjectTarget('s3://bkt/', undefined)).toThrow(/names no key/);
    expect(() => parseObjectTarget('bkt', undefined)).toThrow(/missing the object key/);
    expect(() => parseObjectTarget('s3://bkt/k', 'k')).toThrow(/not both/);
  });
});

describe('parseDownloadArgs', () => {
  it('takes s3://bucket/prefix dir or bucket prefix dir', () => {
    expect(parseDownloadArgs('s3://bkt/pre/', './out', undefined)).toEqual({ bucket: 'bkt', prefix: 'pre/', dir: './out' });
    expect(parseDownloadArgs('bkt', 'pre', './out')).toEqual({ bucket: 'bkt', prefix: 'pre', dir: './out' });
    expect(parseDownloadArgs('bkt', '', './out')).toEqual({ bucket: 'bkt', prefix: '', dir: './out' });
  });

  it('refuses two arguments without a URL, and a URL with a prefix too', () => {
    expect(() => parseDownloadArgs('bkt', './out', undefined)).toThrow(/missing the local directory/);
    expect(() => parseDownloadArgs('s3://bkt/p', 'q', './out')).toThrow(/not both/);
  });

  it('names what is missing or swapped: the dir after s3://, the URL before the dir', () => {
    expect(() => parseDownloadArgs('s3://bkt/p', undefined, undefined)).toThrow(/missing the local directory: expected s3x download s3:\/\/bkt\/p <dir>/);
    expect(() => parseDownloadArgs('./out', 's3://bkt/p', undefined)).toThrow(/the s3:\/\/ URL comes first: s3x download s3:\/\/bkt\/p \.\/out/);
    expect(() => parseDownloadArgs('./out', 's3://bkt/p', undefined)).not.toThrow(/s3:\/\/\.\/out/);
    expect(() => parseDownloadArgs('bkt/p', './out', undefined)).toThrow(/^'bkt\/p' is not a bucket name: write s3:\/\/bkt\/p, or bkt p$/);
  });
});

describe('parseUploadArgs', () => {
  it('takes <dir> then the target, and refuses an s3:// URL as the directory', () => {
    expect(parseUploadArgs('./d', 's3://bkt/p', undefined)).toEqual({ bucket: 'bkt', prefix: 'p' });
    expect(parseUploadArgs('./d', 'bkt', 'p')).toEqual({ bucket: 'bkt', prefix: 'p' });
    expect(() => parseUploadArgs('s3://bkt/p', './d', undefined)).toThrow(/upload sends a local directory: s3x upload \.\/d s3:\/\/bkt\/p \(to fetch from S3: s3x download\)/);
  });
});

describe('parseBucketOnly (endpoints check)', () => {
  it('takes a name, s3://bucket or s3://bucket/, and refuses a prefix', () => {
    for (const a of ['bkt', 's3://bkt', 's3://bkt/']) expect(parseBucketOnly(a)).toBe('bkt');
    expect(() => parseBucketOnly('s3://bkt/p')).toThrow(/give only the bucket here \(s3:\/\/bkt\)/);
    expect(() => parseBucketOnly('B')).toThrow(/not a valid bucket name/);
  });
});
