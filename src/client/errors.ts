/**
 * Typed errors of the client: each gRPC status a containerd API call can
 * fail with, as a class carrying the code. They extend
 * {@linkcode BerthError}, so berth's own helpers (`src/images/`) recognise
 * a NotFound from the daemon as their own.
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import { BerthError, Code } from "../types/errors.ts";

export { Code } from "../types/errors.ts";

/**
 * An API call failed with a gRPC status. The message is the daemon's, as
 * it sent it (`container "c1": not found`).
 *
 * @example
 * ```ts
 * import { ClientError, Code } from "@berth/berth/client";
 * const err = new ClientError(Code.Unavailable, "daemon is starting");
 * console.log(err.code === Code.Unavailable, err.message);
 * ```
 */
export class ClientError extends BerthError {
  /** Creates an error with `code` whose message is exactly `message`. */
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(code, "", options);
    this.name = new.target.name;
    this.message = message;
  }
}

/**
 * The thing asked for does not exist (gRPC NotFound).
 *
 * @example
 * ```ts
 * import { NotFoundError } from "@berth/berth/client";
 * const err: unknown = new NotFoundError('image "x": not found');
 * if (err instanceof NotFoundError) console.log("no such image");
 * ```
 */
export class NotFoundError extends ClientError {
  /** Creates the error with the daemon's message. */
  constructor(message: string, options?: ErrorOptions) {
    super(Code.NotFound, message, options);
  }
}

/**
 * The thing to create exists already (gRPC AlreadyExists).
 *
 * @example
 * ```ts
 * import { AlreadyExistsError } from "@berth/berth/client";
 * console.log(new AlreadyExistsError('container "c1": already exists').code);
 * ```
 */
export class AlreadyExistsError extends ClientError {
  /** Creates the error with the daemon's message. */
  constructor(message: string, options?: ErrorOptions) {
    super(Code.AlreadyExists, message, options);
  }
}

/**
 * The request was malformed (gRPC InvalidArgument).
 *
 * @example
 * ```ts
 * import { InvalidArgumentError } from "@berth/berth/client";
 * console.log(new InvalidArgumentError("bad id").code);
 * ```
 */
export class InvalidArgumentError extends ClientError {
  /** Creates the error with the daemon's message. */
  constructor(message: string, options?: ErrorOptions) {
    super(Code.InvalidArgument, message, options);
  }
}

/**
 * The thing is not in a state that allows the call, e.g. a running task
 * deleted (gRPC FailedPrecondition).
 *
 * @example
 * ```ts
 * import { FailedPreconditionError } from "@berth/berth/client";
 * console.log(new FailedPreconditionError("task is running").code);
 * ```
 */
export class FailedPreconditionError extends ClientError {
  /** Creates the error with the daemon's message. */
  constructor(message: string, options?: ErrorOptions) {
    super(Code.FailedPrecondition, message, options);
  }
}

/**
 * The daemon (or a locked resource) is not available now; a retry may
 * succeed (gRPC Unavailable).
 *
 * @example
 * ```ts
 * import { UnavailableError } from "@berth/berth/client";
 * console.log(new UnavailableError("ref locked").code);
 * ```
 */
export class UnavailableError extends ClientError {
  /** Creates the error with the daemon's message. */
  constructor(message: string, options?: ErrorOptions) {
    super(Code.Unavailable, message, options);
  }
}

/**
 * The daemon does not implement the call (gRPC Unimplemented): e.g. a
 * berth-only service asked of containerd.
 *
 * @example
 * ```ts
 * import { UnimplementedError } from "@berth/berth/client";
 * console.log(new UnimplementedError("unknown service").code);
 * ```
 */
export class UnimplementedError extends ClientError {
  /** Creates the error with the daemon's message. */
  constructor(message: string, options?: ErrorOptions) {
    super(Code.Unimplemented, message, options);
  }
}

const CLASSES: Partial<
  Record<Code, new (message: string, options?: ErrorOptions) => ClientError>
> = {
  [Code.NotFound]: NotFoundError,
  [Code.AlreadyExists]: AlreadyExistsError,
  [Code.InvalidArgument]: InvalidArgumentError,
  [Code.FailedPrecondition]: FailedPreconditionError,
  [Code.Unavailable]: UnavailableError,
  [Code.Unimplemented]: UnimplementedError,
};

/**
 * The typed error for `err`: a `ConnectError` becomes the
 * {@linkcode ClientError} subclass of its code (the original as `cause`);
 * anything else is returned unchanged.
 *
 * @example
 * ```ts
 * import { ConnectError, Code as ConnectCode } from "@connectrpc/connect";
 * import { NotFoundError, toClientError } from "@berth/berth/client";
 * const err = toClientError(new ConnectError("gone", ConnectCode.NotFound));
 * console.log(err instanceof NotFoundError); // true
 * ```
 */
export function toClientError(err: unknown): unknown {
  if (!(err instanceof ConnectError) || err instanceof ClientError) return err;
  const code = err.code as number as Code;
  const Class = CLASSES[code];
  return Class
    ? new Class(err.rawMessage, { cause: err })
    : new ClientError(code, err.rawMessage, { cause: err });
}

/**
 * Whether `err` is a NotFound, from the daemon or from berth's helpers.
 *
 * @example
 * ```ts
 * import { isNotFound, NotFoundError } from "@berth/berth/client";
 * console.log(isNotFound(new NotFoundError("x: not found"))); // true
 * ```
 */
export function isNotFound(err: unknown): boolean {
  return hasCode(err, Code.NotFound);
}

/**
 * Whether `err` is an AlreadyExists, from the daemon or berth's helpers.
 *
 * @example
 * ```ts
 * import { AlreadyExistsError, isAlreadyExists } from "@berth/berth/client";
 * console.log(isAlreadyExists(new AlreadyExistsError("x"))); // true
 * ```
 */
export function isAlreadyExists(err: unknown): boolean {
  return hasCode(err, Code.AlreadyExists);
}

/**
 * Whether `err` carries gRPC status `code`: a {@linkcode ClientError} (or
 * any `BerthError`), or a raw `ConnectError` from a service client made
 * without {@linkcode Client}.
 *
 * @example
 * ```ts
 * import { Code, hasCode, UnavailableError } from "@berth/berth/client";
 * console.log(hasCode(new UnavailableError("locked"), Code.Unavailable)); // true
 * ```
 */
export function hasCode(err: unknown, code: Code): boolean {
  if (err instanceof ConnectError) return (err.code as number) === code;
  return BerthError.is(err, code);
}

/**
 * The message of an error as the daemon sent it (without Connect's
 * `[code]` prefix).
 *
 * @example
 * ```ts
 * import { errorMessage } from "@berth/berth/client";
 * console.log(errorMessage(new Error("boom"))); // "boom"
 * ```
 */
export function errorMessage(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  return err instanceof Error ? err.message : String(err);
}
