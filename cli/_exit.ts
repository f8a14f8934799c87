/**
 * The end of a command that reports a process's exit status: ctr exits
 * with the status and prints nothing.
 *
 * @module
 */

/** Ends the command with a process's exit status, printing nothing. */
export class ExitError extends Error {
  /** The status the client exits with. */
  readonly exitCode: number;

  /** An exit with `exitCode`. */
  constructor(exitCode: number) {
    super(`exit status ${exitCode}`);
    this.exitCode = exitCode;
  }
}
