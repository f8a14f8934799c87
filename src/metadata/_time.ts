/**
 * Timestamps as the metadata store keeps them: nanoseconds since the
 * epoch in INTEGER columns, as containerd keeps them. Such a count passes
 * 2^53, so columns are read as text and converted without loss.
 *
 * @module
 */
import { realtimeNanos } from "../sys/clock.ts";
import { dateFromNanos, NanoDate } from "../types/mod.ts";

/** `column` read whole (`CAST(column AS TEXT) AS column`). */
export function nanosColumn(column: string): string {
  return `CAST(${column} AS TEXT) AS ${column}`;
}

/** The time a column read by {@linkcode nanosColumn} holds. */
export function fromNanosColumn(value: string | bigint): NanoDate {
  return dateFromNanos(value);
}

/** Now, with nanoseconds, for a timestamp column. */
export function timestampNow(): NanoDate {
  return new NanoDate(realtimeNanos());
}
