/**
 * A stand-in S3 on 127.0.0.1 with just enough for one `ls` and one single-PUT upload: every
 * listing is empty, and every PUT is answered with its body's MD5 as the ETag. The build runs the
 * CLI against it to write V8's code cache (scripts/bundle-cli.mjs), and test/unit/startup.test.ts
 * checks what a command loads against it; neither needs a real gateway. Types: stand-in-s3.d.mts.
 */
import crypto from 'node:crypto';
import http from 'node:http';

const EMPTY_LISTING = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>stand-in</Name><Prefix></Prefix>' +
  '<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>';

/** Answers a request once its body is read: a PUT with the body's MD5, anything else with an empty listing. */
function standInS3Handler(req, res) {
  const md5 = crypto.createHash('md5');
  req.on('data', (c) => md5.update(c));
  req.on('end', () => {
    if (req.method === 'PUT') res.writeHead(200, { etag: `"${md5.digest('hex')}"` }).end();
    else res.writeHead(200, { 'content-type': 'application/xml' }).end(EMPTY_LISTING);
  });
}

/** The stand-in listening on an ephemeral port of 127.0.0.1: the server (close it) and its endpoint URL. */
export async function startStandInS3() {
  const server = http.createServer(standInS3Handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: `http://127.0.0.1:${server.address().port}` };
}
