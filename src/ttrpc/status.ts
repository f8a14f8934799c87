/**
 * Conversion between errors and ttrpc call statuses.
 *
 * @module
 */

import { BerthError, Code } from "../types/errors.ts";
import type { TtrpcStatus } from "./wire.ts";

/** An error built from a status; the message is kept verbatim. */
export function statusToError(status: TtrpcStatus): BerthError {
  const code = status.code in Code ? status.code as Code : Code.Unknown;
  const err = new BerthError(code, "");
  err.message = status.message;
  return err;
}

/** The status for a thrown value: its code if a BerthError, else Unknown. */
export function errorToStatus(err: unknown): TtrpcStatus {
  if (err instanceof BerthError) {
    return { code: err.code, message: err.message };
  }
  return {
    code: Code.Unknown,
    message: err instanceof Error ? err.message : String(err),
  };
}
