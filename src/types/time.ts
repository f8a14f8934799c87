/**
 * Times with nanoseconds, as containerd keeps them. A {@linkcode NanoDate}
 * is a `Date` (so it compares, formats and serializes as one) that also
 * carries the nanoseconds its millisecond drops.
 *
 * @module
 */

const NANOS_PER_MILLI = 1_000_000n;
const NANOS_PER_SECOND = 1_000_000_000n;

/** A `Date` that keeps nanoseconds. */
export class NanoDate extends Date {
  /** Nanoseconds since the Unix epoch. */
  readonly nanos: bigint;

  /** The time `nanos` nanoseconds after the Unix epoch. */
  constructor(nanos: bigint) {
    super(Number(floorDiv(nanos, NANOS_PER_MILLI)));
    this.nanos = nanos;
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

/** Nanoseconds since the Unix epoch of `date` (milliseconds for a plain Date). */
export function nanosOf(date: Date): bigint {
  return date instanceof NanoDate
    ? date.nanos
    : BigInt(date.getTime()) * NANOS_PER_MILLI;
}

/** The time of a nanosecond count (as stored: a bigint or its decimal text). */
export function dateFromNanos(nanos: bigint | string): NanoDate {
  return new NanoDate(BigInt(nanos));
}

/** `date` as protobuf's seconds and nanos. */
export function secondsAndNanos(
  date: Date,
): { seconds: bigint; nanos: number } {
  const nanos = nanosOf(date);
  const seconds = floorDiv(nanos, NANOS_PER_SECOND);
  return { seconds, nanos: Number(nanos - seconds * NANOS_PER_SECOND) };
}

/** The time of protobuf's seconds and nanos. */
export function dateFromSecondsAndNanos(
  time: { seconds: bigint; nanos: number },
): NanoDate {
  return new NanoDate(time.seconds * NANOS_PER_SECOND + BigInt(time.nanos));
}

/** RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`, trailing zeros cut). */
export function formatRfc3339Nano(date: Date): string {
  const { nanos } = secondsAndNanos(date);
  const whole = date.toISOString().slice(0, 19);
  const fraction = String(nanos).padStart(9, "0").replace(/0+$/, "");
  return `${whole}${fraction ? `.${fraction}` : ""}Z`;
}

/** Parses RFC 3339 keeping nanoseconds; undefined when it is not one. */
export function parseRfc3339Nano(text: string): NanoDate | undefined {
  const m = text.match(
    /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/,
  );
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  const fraction = BigInt((m[2] ?? "").padEnd(9, "0"));
  return new NanoDate(BigInt(seconds) * NANOS_PER_MILLI + fraction);
}
