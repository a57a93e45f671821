/**
 * The library's worker threads (src/fs/read-hash.ts: large files' parts hashed; src/fs/new-file.ts:
 * small downloads written) in a
 * process started with flags of its own. A worker inherits its parent's execArgv, and with
 * `--input-type=module` (a library user's `node -e`) the worker's CommonJS source was parsed as a
 * module: "require is not defined", every large upload failed. Runs the built dist/ (`npm test`
 * builds first) in a child process: the flag must be on the process, not only in process.execArgv.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-worker-flags-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('worker threads under the parent process\'s flags', () => {
  it('a part is hashed in a process started with --input-type=module', () => {
    const file = path.join(dir, 'f.bin');
    const bytes = crypto.randomBytes(100_000);
    fs.writeFileSync(file, bytes);
    const mod = pathToFileURL(path.resolve('dist/fs/read-hash.js')).href;
    const script = `import { ReadHashPool } from ${JSON.stringify(mod)};
const got = await new ReadHashPool(1).hashRange(${JSON.stringify(file)}, 10, 50000);
console.log(got.toString('hex'));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(out.trim()).toBe(`${crypto.createHash('md5').update(bytes.subarray(10, 50_010)).digest('hex')}`);
  });

  it('a small file is written and renamed in a process started with --input-type=module', () => {
    const target = path.join(dir, 'small.bin');
    const mod = pathToFileURL(path.resolve('dist/fs/new-file.js')).href;
    // on the thread: writersOnline rejects when it cannot start (the first files are written here)
    const script = `import { writeNewFile, writersOnline } from ${JSON.stringify(mod)};
await writersOnline();
await writeNewFile(${JSON.stringify(path.join(dir, '.small.tmp'))}, Buffer.from('written'), { mtime: new Date(0), renameTo: ${JSON.stringify(target)} });`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(fs.readFileSync(target, 'utf8')).toBe('written');
    expect(fs.statSync(target).mtimeMs).toBe(0);
  });
});
