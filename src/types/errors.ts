/**
 * One error type for every component, carrying a gRPC status code.
 *
 * Components throw {@linkcode BerthError}; the gRPC adapters turn it into a
 * status with the same code and message. Messages name the thing and end with
 * the class of error, as containerd's do (`namespace "x": not found`).
 *
 * @module
 */

/** gRPC status codes (the numbers are the wire values). */
export enum Code {
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** The suffix containerd's errdefs put on each class of error. */
const CLASS_SUFFIX: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "invalid argument",
  [Code.NotFound]: "not found",
  [Code.AlreadyExists]: "already exists",
  [Code.FailedPrecondition]: "failed precondition",
  [Code.Unavailable]: "unavailable",
  [Code.Unimplemented]: "not implemented",
  [Code.Canceled]: "context canceled",
  [Code.DeadlineExceeded]: "context deadline exceeded",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out of range",
  [Code.Internal]: "internal",
  [Code.Unknown]: "unknown",
};

/** An error with a gRPC status code; the message is what the client sees. */
export class BerthError extends Error {
  /** The gRPC status code. */
  readonly code: Code;

  /**
   * Creates an error. `subject` names the thing (`namespace "x"`); the class
   * suffix for `code` is appended, unless `subject` is empty.
   */
  constructor(code: Code, subject: string, options?: ErrorOptions) {
    const suffix = CLASS_SUFFIX[code] ?? Code[code];
    super(subject ? `${subject}: ${suffix}` : suffix, options);
    this.name = "BerthError";
    this.code = code;
  }

  /** True when `err` is a {@linkcode BerthError} with `code`. */
  static is(err: unknown, code: Code): err is BerthError {
    return err instanceof BerthError && err.code === code;
  }
}

/** `subject: not found`. */
export function notFound(subject: string): BerthError {
  return new BerthError(Code.NotFound, subject);
}

/** `subject: already exists`. */
export function alreadyExists(subject: string): BerthError {
  return new BerthError(Code.AlreadyExists, subject);
}

/** `subject: invalid argument`. */
export function invalidArgument(subject: string): BerthError {
  return new BerthError(Code.InvalidArgument, subject);
}

/** `subject: failed precondition`. */
export function failedPrecondition(subject: string): BerthError {
  return new BerthError(Code.FailedPrecondition, subject);
}

/** `subject: unavailable`. */
export function unavailable(subject: string): BerthError {
  return new BerthError(Code.Unavailable, subject);
}

/** `subject: not implemented`. */
export function unimplemented(subject: string): BerthError {
  return new BerthError(Code.Unimplemented, subject);
}
