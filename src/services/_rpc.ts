/**
 * What every gRPC adapter shares: turning component errors into statuses,
 * and reading containerd's request headers.
 *
 * @module
 */
import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import type { HandlerContext, Interceptor } from "@connectrpc/connect";
import { FilterSyntaxError } from "../filters/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  BerthError,
  CheckedOnce,
  failedPrecondition,
  invalidArgument,
  validateIdentifier,
} from "../types/mod.ts";

/** The gRPC metadata header that selects the namespace. */
export const NAMESPACE_HEADER = "containerd-namespace";

/** The gRPC metadata header that puts what a call creates under a lease. */
export const LEASE_HEADER = "containerd-lease";

/** The request's lease, if it names one. */
export function leaseOf(ctx: HandlerContext): string | undefined {
  return ctx.requestHeader.get(LEASE_HEADER) || undefined;
}

/** Namespaces found valid. */
const namespaces = new CheckedOnce(validateIdentifier);

/**
 * The request's namespace, validated. Missing, it fails as containerd's
 * `NamespaceRequired` does (FailedPrecondition, "namespace is required").
 */
export function requireNamespace(ctx: HandlerContext): string {
  const namespace = ctx.requestHeader.get(NAMESPACE_HEADER);
  if (!namespace) throw failedPrecondition("namespace is required");
  try {
    namespaces.check(namespace);
  } catch (err) {
    throw invalidArgument(`namespace validation: ${(err as Error).message}`);
  }
  return namespace;
}

/** Error codes of writes and reads on a stream the client has dropped. */
const CANCELLED_CODES = new Set([
  "ABORT_ERR",
  "ECANCELED",
  "ECONNRESET",
  "EPIPE",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** True when `err` says the client went away, not that berth failed. */
function isCancellation(err: unknown): boolean {
  const { code, name, cause } = (err ?? {}) as {
    code?: unknown;
    name?: string;
    cause?: unknown;
  };
  if (err instanceof ConnectError) {
    return err.code === ConnectCode.Canceled ||
      (err.code === ConnectCode.Internal && cause !== undefined &&
        isCancellation(cause));
  }
  return name === "AbortError" ||
    (typeof code === "string" && CANCELLED_CODES.has(code));
}

/**
 * The status a client sees for `err`; never a stack trace. A call the
 * client cancelled is logged at debug level only: it is not an error.
 */
export function toConnectError(err: unknown, logger: Logger): ConnectError {
  if (isCancellation(err)) {
    logger.debug("call cancelled by the client", { error: err });
    return new ConnectError(
      "the client cancelled the call",
      ConnectCode.Canceled,
    );
  }
  if (err instanceof ConnectError) return err;
  if (err instanceof BerthError) {
    return new ConnectError(err.message, err.code as number as ConnectCode);
  }
  if (err instanceof FilterSyntaxError) {
    return new ConnectError(
      `${(err as Error).message}: invalid argument`,
      ConnectCode.InvalidArgument,
    );
  }
  logger.error("internal error", { error: err });
  logger.debug("internal error", { stack: (err as Error)?.stack });
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectError(message, ConnectCode.Internal);
}

/**
 * Maps errors thrown by handlers — in unary calls and inside response
 * streams — to gRPC statuses, and logs unexpected ones; every call's time
 * to its answer is logged at debug level.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    let res;
    const started = performance.now();
    try {
      res = await next(req);
    } catch (err) {
      throw toConnectError(err, logger);
    } finally {
      logger.debug("rpc", {
        method: `${req.service.typeName}/${req.method.name}`,
        ms: Math.round(performance.now() - started),
      });
    }
    if (!res.stream) return res;
    const inner = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* inner;
        } catch (err) {
          throw toConnectError(err, logger);
        }
      })(),
    };
  };
}
