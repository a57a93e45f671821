/** The CLI's pino logger: NDJSON to stderr (or --log-file), level from --log-level. */
import { pino, type Logger as Pino } from 'pino';
import { UsageError } from '../index.js';
import { jsonSafe } from './printable.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(level: string, file?: string): Pino {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}; got '${level}'`);
  }
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
