/**
 * The logging interface the library uses: the subset of pino's API it calls. The CLI passes
 * a pino logger; library users may pass their own pino (or anything with these methods).
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
/** Discards everything: the library's default. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
