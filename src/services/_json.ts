/**
 * Connect/JSON for every message berth can put in an `Any`.
 *
 * Protobuf payloads (runc options, event payloads, metrics, transfer types)
 * are found in {@linkcode jsonRegistry}. containerd's JSON-typed payloads —
 * the OCI runtime spec, a process spec, Linux resources
 * (`types.containerd.io/opencontainers/runtime-spec/1/Spec` …) — carry JSON
 * bytes, not protobuf, so no descriptor could decode them: for a call in
 * JSON, {@linkcode jsonAnyInterceptor} turns each into a stand-in message
 * of that name whose one field, `value`, is the JSON document
 * (`{"@type": "types.containerd.io/…/Spec", "value": {"ociVersion": …}}`),
 * and back. It also gives back the type URLs a JSON request's `Any`s had:
 * the JSON reader writes `type.googleapis.com/NAME`, containerd's clients
 * the bare name (the gogo way) or `types.containerd.io/…` for JSON types.
 *
 * @module
 */
import {
  clone,
  create,
  createFileRegistry,
  createRegistry,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonValue,
  type Message,
  type MessageShape,
  type Registry,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import {
  type Any,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  file_google_protobuf_struct,
  FileDescriptorProtoSchema,
  ValueSchema,
} from "@bufbuild/protobuf/wkt";
import type { Interceptor } from "@connectrpc/connect";
import { eventRegistry } from "../api/event_registry.ts";
import { file_berth_services_network_v1_network } from "../gen/berth/services/network/v1/network_pb.ts";
import { file_berth_services_transfer_v1_transfer } from "../gen/berth/services/transfer/v1/transfer_pb.ts";
import { file_containerd_runc_options_oci } from "../gen/containerd/runc/options/oci_pb.ts";
import { file_containerd_runtime_linux_runctypes_runc } from "../gen/containerd/runtime/linux/runctypes/runc_pb.ts";
import { file_containerd_runtime_v2_task_shim } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { file_containerd_services_containers_v1_containers } from "../gen/containerd/services/containers/v1/containers_pb.ts";
import { file_containerd_services_content_v1_content } from "../gen/containerd/services/content/v1/content_pb.ts";
import { file_containerd_services_diff_v1_diff } from "../gen/containerd/services/diff/v1/diff_pb.ts";
import { file_containerd_services_events_v1_events } from "../gen/containerd/services/events/v1/events_pb.ts";
import { file_containerd_services_images_v1_images } from "../gen/containerd/services/images/v1/images_pb.ts";
import { file_containerd_services_introspection_v1_introspection } from "../gen/containerd/services/introspection/v1/introspection_pb.ts";
import { file_containerd_services_leases_v1_leases } from "../gen/containerd/services/leases/v1/leases_pb.ts";
import { file_containerd_services_namespaces_v1_namespace } from "../gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { file_containerd_services_snapshots_v1_snapshots } from "../gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { file_containerd_services_tasks_v1_tasks } from "../gen/containerd/services/tasks/v1/tasks_pb.ts";
import { file_containerd_services_version_v1_version } from "../gen/containerd/services/version/v1/version_pb.ts";
import { file_containerd_types_task_task } from "../gen/containerd/types/task/task_pb.ts";
import { file_google_rpc_status } from "../gen/google/rpc/status_pb.ts";
import { file_io_containerd_cgroups_v1_metrics } from "../gen/io/containerd/cgroups/v1/metrics_pb.ts";
import { file_io_containerd_cgroups_v2_metrics } from "../gen/io/containerd/cgroups/v2/metrics_pb.ts";

/** Where containerd's JSON-typed payloads live, before their name. */
const JSON_TYPES_PREFIX = "types.containerd.io/opencontainers/runtime-spec/1/";
/** The OCI runtime-spec types containerd sends in an `Any`, as JSON. */
const JSON_TYPE_NAMES = ["Spec", "Process", "LinuxResources"] as const;
/** The prefix protobuf's JSON reader gives every `Any` it decodes. */
const GOOGLE_PREFIX = "type.googleapis.com/";

/** A stand-in message `name { google.protobuf.Value value = 1; }`. */
function standIn(name: string): DescMessage {
  const file = create(FileDescriptorProtoSchema, {
    name: `berth/json/${name}.proto`,
    syntax: "proto3",
    dependency: ["google/protobuf/struct.proto"],
    messageType: [{
      name,
      field: [{
        name: "value",
        jsonName: "value",
        number: 1,
        label: FieldDescriptorProto_Label.OPTIONAL,
        type: FieldDescriptorProto_Type.MESSAGE,
        typeName: ".google.protobuf.Value",
      }],
    }],
  });
  return createFileRegistry(
    file,
    // A DescFile's name has no ".proto".
    (dep) =>
      dep === `${file_google_protobuf_struct.name}.proto`
        ? file_google_protobuf_struct
        : undefined,
  ).getMessage(name)!;
}

const standIns = new Map(JSON_TYPE_NAMES.map((name) => [name, standIn(name)]));

/** Every message type berth's API can carry in an `Any`, for Connect/JSON. */
export const jsonRegistry: Registry = createRegistry(
  eventRegistry,
  file_berth_services_network_v1_network,
  file_berth_services_transfer_v1_transfer,
  file_containerd_runc_options_oci,
  file_containerd_runtime_linux_runctypes_runc,
  file_containerd_runtime_v2_task_shim,
  file_containerd_services_containers_v1_containers,
  file_containerd_services_content_v1_content,
  file_containerd_services_diff_v1_diff,
  file_containerd_services_events_v1_events,
  file_containerd_services_images_v1_images,
  file_containerd_services_introspection_v1_introspection,
  file_containerd_services_leases_v1_leases,
  file_containerd_services_namespaces_v1_namespace,
  file_containerd_services_snapshots_v1_snapshots,
  file_containerd_services_tasks_v1_tasks,
  file_containerd_services_version_v1_version,
  file_containerd_types_task_task,
  file_google_rpc_status,
  file_io_containerd_cgroups_v1_metrics,
  file_io_containerd_cgroups_v2_metrics,
  ...standIns.values(),
);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** For a JSON reply: a JSON-typed payload becomes its stand-in. */
function anyToJsonForm(any: Any): void {
  if (!any.typeUrl.startsWith(JSON_TYPES_PREFIX)) return;
  const desc = standIns.get(
    any.typeUrl.slice(JSON_TYPES_PREFIX.length) as typeof JSON_TYPE_NAMES[0],
  );
  if (!desc) return;
  const value = fromJson(
    ValueSchema,
    JSON.parse(decoder.decode(any.value)) as JsonValue,
  );
  any.value = toBinary(desc, create(desc, { value }));
}

/** For a JSON request: a stand-in becomes JSON bytes; type URLs as sent. */
function anyFromJsonForm(any: Any): void {
  if (!any.typeUrl.startsWith(GOOGLE_PREFIX)) return;
  const name = any.typeUrl.slice(GOOGLE_PREFIX.length);
  const desc = standIns.get(name as typeof JSON_TYPE_NAMES[0]);
  if (!desc) {
    any.typeUrl = name;
    return;
  }
  const standIn = fromBinary(desc, any.value) as Message & { value?: Message };
  const value = standIn.value
    ? toJson(ValueSchema, standIn.value as never)
    : null;
  any.typeUrl = JSON_TYPES_PREFIX + name;
  any.value = encoder.encode(JSON.stringify(value));
}

/** Calls `fn` on every `Any` inside `message` (in lists and maps too). */
function eachAny(
  desc: DescMessage,
  message: Record<string, unknown>,
  fn: (any: Any) => void,
): void {
  if (desc.typeName === "google.protobuf.Any") {
    fn(message as unknown as Any);
    return;
  }
  for (const field of desc.fields) {
    const value = message[field.localName];
    if (value === undefined || value === null) continue;
    if (field.fieldKind === "message") {
      eachAny(field.message, value as Record<string, unknown>, fn);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      for (const item of value as Record<string, unknown>[]) {
        eachAny(field.message, item, fn);
      }
    } else if (field.fieldKind === "map" && field.mapKind === "message") {
      for (const item of Object.values(value as Record<string, unknown>)) {
        eachAny(field.message, item as Record<string, unknown>, fn);
      }
    }
  }
  for (const oneof of desc.oneofs) {
    const selected = message[oneof.localName] as
      | { case?: string; value?: unknown }
      | undefined;
    const field = oneof.fields.find((f) => f.localName === selected?.case);
    if (field?.fieldKind === "message") {
      eachAny(field.message, selected!.value as Record<string, unknown>, fn);
    }
  }
}

/** Whether a call is in JSON (Connect, gRPC or gRPC-web). */
function isJson(header: Headers): boolean {
  return /[/+]json\b/.test(header.get("content-type") ?? "");
}

/**
 * Carries JSON-typed `Any` payloads through calls in JSON, and gives back
 * the type URLs of a JSON request's `Any`s (see the module doc).
 */
export const jsonAnyInterceptor: Interceptor = (next) => async (req) => {
  if (!isJson(req.header)) return await next(req);
  const input = req.method.input;
  const output = req.method.output;
  const inbound = (m: unknown) =>
    eachAny(input, m as Record<string, unknown>, anyFromJsonForm);
  // A copy is rewritten: the answer may be one a service keeps and gives
  // to every caller (see _kept_answers.ts).
  const outbound = (m: unknown) => {
    const copy = clone(output, m as MessageShape<typeof output>);
    eachAny(output, copy as Record<string, unknown>, anyToJsonForm);
    return copy;
  };
  if (req.stream) {
    const messages = req.message;
    const res = await next({
      ...req,
      message: (async function* () {
        for await (const m of messages) {
          inbound(m);
          yield m;
        }
      })(),
    });
    if (!res.stream) return res;
    const replies = res.message;
    return {
      ...res,
      message: (async function* () {
        for await (const m of replies) yield outbound(m);
      })(),
    };
  }
  inbound(req.message);
  const res = await next(req);
  return res.stream ? res : { ...res, message: outbound(res.message) };
};
