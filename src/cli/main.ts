/**
 * The s3x command line: builds the commander program, runs one command, and is the one error
 * boundary — typed errors become one `s3x: error: …` line and their exit code. Only this
 * module decides the exit code; bin/s3x.js sets it.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { EXIT, S3xError } from '../index.js';
import { jsonSafe, printable } from './printable.js';
import { registerUpload } from './commands/upload.js';
import { registerDeletePrefix } from './commands/delete-prefix.js';
import { registerDownload } from './commands/download.js';
import { registerLs } from './commands/ls.js';
import { registerPresign } from './commands/presign.js';
import { registerEndpoints } from './commands/endpoints.js';
import { registerSync } from './commands/sync.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerPerfData } from './commands/perf-data.js';
import type { CliContext } from './context.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export async function main(argv: string[]): Promise<number> {
  const interrupt = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\ns3x: ${sig}: stopping (in-flight requests are cut; open multipart uploads are aborted, or left open for resume under upload --resume and sync); press Ctrl-C again to quit at once\n`);
      interrupt.abort();
    } else {
      process.exit(EXIT.INTERRUPTED);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // `s3x upload … --json | head`: once the reader is gone, drop output but finish the transfer
  let stdoutClosed = false;
  const onStdoutError = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') throw e;
    stdoutClosed = true;
  };
  process.stdout.on('error', onStdoutError);
  const ctx: CliContext = {
    signal: interrupt.signal,
    // text lines are escaped where they are made (printable); this keeps --json lines safe too
    out: (t) => { if (!stdoutClosed) process.stdout.write(jsonSafe(t)); },
    err: (t) => process.stderr.write(jsonSafe(t)),
    exitCode: EXIT.OK,
  };
  let exitCode: number;
  const program = new Command('s3x')
    .description('Fast, fault-tolerant bulk transfers to S3-compatible object stores, over several endpoints at once')
    .version(version)
    .exitOverride()
    // a usage error is one line, as every other error of s3x (commanders' own add a second)
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err, outputError: (msg, write) => write(`${msg.trimEnd()} (run with --help for usage)\n`) });
  program.addHelpText('after', `
Examples:
  $ s3x upload ./build my-bucket ci/run-42 --endpoint-url http://127.0.0.1:7480
  $ s3x upload --help`);
  // `s3x <command> …` builds only that command (building all nine costs ~5 ms of start-up);
  // anything else (help, an unknown command, an option first) builds them all
  const only = COMMANDS.find(([names]) => names.includes(argv[2] ?? ''));
  for (const [, register] of only ? [only] : COMMANDS) register(program, ctx);

  try {
    await program.parseAsync(argv, { from: 'node' });
    exitCode = ctx.exitCode;
  } catch (err) {
    exitCode = handleError(err, ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

/** Each register function with the command names it adds, in help order. */
const COMMANDS: ReadonlyArray<readonly [readonly string[], (program: Command, ctx: CliContext) => void]> = [
  [['upload'], registerUpload],
  [['download'], registerDownload],
  [['ls'], registerLs],
  [['delete-prefix'], registerDeletePrefix],
  [['presign'], registerPresign],
  [['endpoints'], registerEndpoints],
  [['sync'], registerSync],
  [['cleanup-multipart', 'report'], registerMaintenance],
  [['perf-data'], registerPerfData],
];

function handleError(err: unknown, ctx: CliContext): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
    return EXIT.USAGE; // commander has already printed its message
  }
  if (err instanceof S3xError) {
    ctx.err(`s3x: error: ${printable(err.message)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  ctx.err(`s3x: internal error: ${e?.stack ?? String(err)}\n`);
  return 70;
}
