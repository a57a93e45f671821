/**
 * Typed errors that carry the process exit code. Deeper code throws these; only
 * src/cli/main.ts turns them into a message line and `process.exit`.
 */

/** Exit codes (README, "Output"): 0 all done, 1 some objects failed, 2 usage/config error, 130 interrupted. */
export const EXIT = { OK: 0, PARTIAL: 1, USAGE: 2, INTERRUPTED: 130 } as const;

export class S3xError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags, bad config, missing directory: the user must change the command. Exit 2. */
export class UsageError extends S3xError {
  constructor(message: string) { super(message, EXIT.USAGE); }
}

/**
 * The run cannot go on at all (no such bucket, credentials rejected, endpoint unreachable).
 * Exit 2: like a usage error, the fix is in the command or the config, not in a re-run.
 */
export class FatalRunError extends S3xError {
  constructor(message: string) { super(message, EXIT.USAGE); }
}

/**
 * A local (file system) error in one line, "EACCES: permission denied, open '/x'" as Node says
 * it, with the code in front once. s3x's own refusals (code 'Refused') already say what they are.
 */
export function describeLocalError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e?.message ?? String(err);
  return e?.code && !message.startsWith(e.code) && e.code !== 'Refused' ? `${e.code}: ${message}` : message;
}
