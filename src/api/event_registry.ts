/**
 * The registry of every event payload type of the API, shared by the
 * daemon (filters on `event.*`) and the client (printing events).
 *
 * @module
 */
import { createRegistry, type Registry } from "@bufbuild/protobuf";
import { file_berth_events_network } from "../gen/berth/events/network_pb.ts";
import { file_containerd_events_container } from "../gen/containerd/events/container_pb.ts";
import { file_containerd_events_content } from "../gen/containerd/events/content_pb.ts";
import { file_containerd_events_image } from "../gen/containerd/events/image_pb.ts";
import { file_containerd_events_namespace } from "../gen/containerd/events/namespace_pb.ts";
import { file_containerd_events_snapshot } from "../gen/containerd/events/snapshot_pb.ts";
import { file_containerd_events_task } from "../gen/containerd/events/task_pb.ts";

/** Every event payload message, by type name. */
export const eventRegistry: Registry = createRegistry(
  file_berth_events_network,
  file_containerd_events_container,
  file_containerd_events_content,
  file_containerd_events_image,
  file_containerd_events_namespace,
  file_containerd_events_snapshot,
  file_containerd_events_task,
);

/** The type name inside an `Any` type URL, with or without a host prefix. */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}
