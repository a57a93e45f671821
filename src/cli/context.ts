/** What a command's action gets from main.ts: the interrupt signal, output, and where to leave its exit code. */
export interface CliContext {
  /** aborted on SIGINT/SIGTERM */
  signal: AbortSignal;
  out: (text: string) => void;
  err: (text: string) => void;
  /** set by the command's action (commander discards action return values) */
  exitCode: number;
}
