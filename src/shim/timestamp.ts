/**
 * Times as the shim reports them (exits, events): with nanoseconds, as
 * containerd's shim does.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { realtimeNanos } from "../sys/clock.ts";
import { NanoDate, secondsAndNanos } from "../types/time.ts";

/** Now, with nanoseconds. */
export function shimNow(): NanoDate {
  return new NanoDate(realtimeNanos());
}

/** `date` for the wire, nanoseconds kept. */
export function toTimestamp(date: Date): Timestamp {
  return create(TimestampSchema, secondsAndNanos(date));
}
