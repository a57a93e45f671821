/**
 * The signed control plane's XML (src/endpoints/s3-xml.ts, src/endpoints/signed-control.ts):
 * keys come back byte for byte (entities, character references, line breaks, spaces), empty and
 * truncated listings, DeleteObjects per-key errors, multipart listings, and the bodies we send
 * escape what a server's XML parser would otherwise change.
 */
import { describe, expect, it } from 'vitest';
import { decodeXmlText, escapeXmlText, parseXml, XmlParseError } from '../../src/endpoints/s3-xml.js';
import {
  completeXml, deleteObjectsXml, parseDeleteResult, parseListMultipartUploads, parseListObjectsV2,
} from '../../src/endpoints/signed-control.js';

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

describe('parseXml', () => {
  it('decodes the five entities and character references, keeps unknown ones as sent', () => {
    expect(decodeXmlText('a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#10;&#x0D;&#x1F600; &nbsp;')).toBe('a & b <c> "d" \'e\' \n\r😀 &nbsp;');
  });

  it('keeps text byte for byte: spaces, line breaks, no trimming', () => {
    const root = parseXml(`<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><R ${NS}><K>  a\r\nb </K><K>\n</K><E/><E></E></R>`);
    expect(root.name).toBe('R');
    expect(root.children.map((c) => [c.name, c.text])).toEqual([['K', '  a\r\nb '], ['K', '\n'], ['E', ''], ['E', '']]);
  });

  it('drops namespace prefixes from names', () => {
    expect(parseXml('<s3:R><s3:K>v</s3:K></s3:R>').children[0]).toMatchObject({ name: 'K', text: 'v' });
  });

  it.each(['', '<R>', '<R></S>', 'text only', '<R><K>v</R>'])('refuses a broken document %j', (doc) => {
    expect(() => parseXml(doc)).toThrow(XmlParseError);
  });

  it('escapes for element content as the SDK does (line breaks as references)', () => {
    expect(escapeXmlText('a&b<c>"d\'\r\n\u0085\u2028')).toBe('a&amp;b&lt;c&gt;&quot;d&apos;&#x0D;&#x0A;&#x85;&#x2028;');
    for (const key of ['plain', 'a & b', '<tag>', 'line\nbreak', 'cr\r\nlf', ' spaced ', 'ü/日本/😀']) {
      expect(decodeXmlText(escapeXmlText(key))).toBe(key);
    }
  });
});

describe('ListObjectsV2 answers', () => {
  it('objects with entities and line breaks in keys, sizes, ETags, dates, storage class', () => {
    const page = parseListObjectsV2(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult ${NS}><Name>b</Name><Prefix>p/</Prefix>
<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Contents><Key>p/a &amp; b</Key><LastModified>2026-12-01T16:34:14.123Z</LastModified><ETag>&quot;0123&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>p/line&#10;break&#13;</Key><Size>0</Size></Contents>
<Contents><Key>p/ spaced </Key><Size>12345678901</Size></Contents></ListBucketResult>`);
    expect(page.IsTruncated).toBe(false);
    expect(page.NextContinuationToken).toBeUndefined();
    expect(page.Contents).toEqual([
      { Key: 'p/a & b', LastModified: new Date('2026-12-01T16:34:14.123Z'), ETag: '"0123"', Size: 3, StorageClass: 'STANDARD' },
      { Key: 'p/line\nbreak\r', Size: 0 },
      { Key: 'p/ spaced ', Size: 12345678901 },
    ]);
    expect(page.CommonPrefixes).toEqual([]);
  });

  it('an empty listing', () => {
    const page = parseListObjectsV2(`<ListBucketResult ${NS}><Name>b</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`);
    expect(page).toEqual({ Contents: [], CommonPrefixes: [], IsTruncated: false });
  });

  it('a truncated page: its token, and common prefixes', () => {
    const page = parseListObjectsV2(`<ListBucketResult ${NS}><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>b &amp; c/</Prefix></CommonPrefixes></ListBucketResult>`);
    expect(page).toEqual({
      Contents: [], CommonPrefixes: [{ Prefix: 'a/' }, { Prefix: 'b & c/' }], IsTruncated: true,
      NextContinuationToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
    });
  });
});

describe('DeleteObjects', () => {
  it('the Quiet document escapes keys', () => {
    expect(deleteObjectsXml(['a', 'b & <c>\n'])).toBe(`<?xml version="1.0" encoding="UTF-8"?><Delete ${NS}><Object><Key>a</Key></Object><Object><Key>b &amp; &lt;c&gt;&#x0A;</Key></Object><Quiet>true</Quiet></Delete>`);
  });

  it('the answer: per-key errors kept, deleted keys ignored', () => {
    expect(parseDeleteResult(`<DeleteResult ${NS}><Deleted><Key>ok</Key></Deleted><Error><Key>x &amp; y</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error><Error><Key>z</Key><Code>InternalError</Code></Error></DeleteResult>`))
      .toEqual({ errors: [{ key: 'x & y', code: 'AccessDenied', message: 'Access Denied' }, { key: 'z', code: 'InternalError' }] });
    expect(parseDeleteResult(`<DeleteResult ${NS}/>`)).toEqual({ errors: [] });
  });
});

describe('multipart documents', () => {
  it('Complete lists the parts with their ETags', () => {
    expect(completeXml([{ partNumber: 1, etag: '"aa"' }, { partNumber: 2, etag: '"bb"' }])).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload ${NS}><Part><ETag>&quot;aa&quot;</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;bb&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`,
    );
  });

  it('ListMultipartUploads: uploads, truncation and markers', () => {
    expect(parseListMultipartUploads(`<ListMultipartUploadsResult ${NS}><Bucket>b</Bucket><NextKeyMarker>k &amp; 2</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker><IsTruncated>true</IsTruncated>
<Upload><Key>k1</Key><UploadId>u1</UploadId><Initiated>2026-12-01T10:00:00.000Z</Initiated></Upload><Upload><Key>k &amp; 2</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>`))
      .toEqual({
        uploads: [{ key: 'k1', uploadId: 'u1', initiated: new Date('2026-12-01T10:00:00.000Z') }, { key: 'k & 2', uploadId: 'u2' }],
        isTruncated: true, nextKeyMarker: 'k & 2', nextUploadIdMarker: 'u2',
      });
    expect(parseListMultipartUploads(`<ListMultipartUploadsResult ${NS}><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`))
      .toEqual({ uploads: [], isTruncated: false });
  });
});
