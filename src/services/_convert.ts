/**
 * Conversions between the wire's shared types (descriptors, mounts) and
 * the components' plain types.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  type Descriptor as DescriptorMessage,
  DescriptorSchema,
} from "../gen/containerd/types/descriptor_pb.ts";
import {
  type Mount as MountMessage,
  MountSchema,
} from "../gen/containerd/types/mount_pb.ts";
import {
  dateFromSecondsAndNanos,
  type Descriptor,
  invalidArgument,
  type Mount,
  secondsAndNanos,
} from "../types/mod.ts";

/** A time for the wire, with its nanoseconds (a NanoDate keeps them). */
export function toTimestamp(date: Date): Timestamp {
  return create(TimestampSchema, secondsAndNanos(date));
}

/** A time from the wire, nanoseconds kept. */
export function fromTimestamp(timestamp: Timestamp): Date {
  return dateFromSecondsAndNanos(timestamp);
}

/** A descriptor for the wire. */
export function toDescriptorMessage(desc: Descriptor): DescriptorMessage {
  return create(DescriptorSchema, {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: BigInt(desc.size),
    annotations: desc.annotations ?? {},
  });
}

/** A descriptor from the wire; InvalidArgument when `what` is missing. */
export function fromDescriptorMessage(
  desc: DescriptorMessage | undefined,
  what: string,
): Descriptor {
  if (!desc) throw invalidArgument(`${what} must be set`);
  return {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: Number(desc.size),
    annotations: desc.annotations,
  };
}

/** Mounts for the wire. */
export function toMountMessages(mounts: readonly Mount[]): MountMessage[] {
  return mounts.map((m) =>
    create(MountSchema, {
      type: m.type,
      source: m.source,
      target: m.target ?? "",
      options: m.options,
    })
  );
}

/** Mounts from the wire. */
export function fromMountMessages(mounts: readonly MountMessage[]): Mount[] {
  return mounts.map((m) => ({
    type: m.type,
    source: m.source,
    target: m.target,
    options: m.options,
  }));
}
