/**
 * The CLI's pino logger: NDJSON to stderr (or --log-file), level from --log-level. pino is
 * loaded on the first record at or above the level (or at once for a log file or a chatty
 * level): a run that logs nothing, the usual case at the default level, does not pay its
 * ~50 ms of loading at start-up (issue 12).
 */
import { createRequire } from 'node:module';
import type { Logger as Pino } from 'pino';
import { UsageError, type Logger } from '../index.js';
import { jsonSafe } from './printable.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** pino's level numbers */
const LEVEL_VALUES: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export function createLogger(level: string, file?: string): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}; got '${level}'`);
  }
  let pino: Pino | undefined;
  const real = (): Pino => (pino ??= makePino(level, file));
  if (file !== undefined || LEVEL_VALUES[level]! < LEVEL_VALUES.warn!) real();
  const at = (name: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string): void => {
    if (LEVEL_VALUES[name]! >= LEVEL_VALUES[level]!) real()[name](obj, msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function makePino(level: string, file: string | undefined): Pino {
  // synchronous on purpose: a record must be written before the call returns
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
  const dest = pino.destination({ dest: file ?? 2, sync: true, ...(file && { mkdir: true }) });
  return pino({
    level,
    base: { pid: process.pid },
    // keys and paths in log lines: no raw C1 or bidi characters reach a terminal
    hooks: { streamWrite: jsonSafe },
    // defence in depth: nothing should ever log these, but if it does they are masked
    redact: { paths: ['secretAccessKey', '*.secretAccessKey', 'credentials', '*.credentials', 'sessionToken', '*.sessionToken', 'authorization', '*.authorization'], censor: '[redacted]' },
  }, dest);
}
