/**
 * `berth ctr containers info [--spec] CONTAINER`: a container record as ctr prints it (Go's JSON of containerd's `containers.Container`).
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Container as ContainerRecord } from "../../../src/gen/containerd/services/containers/v1/containers_pb.ts";
import {
  compareUTF8,
  formatRFC3339Nano,
  goJSON,
  type GoJSONValue,
  goMap,
} from "../../_format.ts";
import { writeStdoutSync } from "../../_output.ts";

/** A gogo `types.Any` as Go's encoding/json writes it. */
function anyJSON(value: Any | undefined): GoJSONValue {
  if (!value) return null;
  return {
    type_url: value.typeUrl || undefined,
    value: value.value.length
      ? btoa(Array.from(value.value, (b) => String.fromCharCode(b)).join(""))
      : undefined,
  };
}

/** A Go map, which is `null` when empty (as a decoded protobuf map is). */
function nullableMap(map: Record<string, string>): GoJSONValue {
  return Object.keys(map).length ? goMap(map) : null;
}

/** The spec decoded from its `Any`: the OCI runtime spec is JSON. */
function decodeSpec(spec: Any): GoJSONValue {
  try {
    return JSON.parse(new TextDecoder().decode(spec.value));
  } catch (err) {
    throw new Error(
      `cannot unmarshal spec of type ${spec.typeUrl}: ${
        (err as Error).message
      }`,
    );
  }
}

/**
 * A container as `ctr containers info` prints it: the fields of
 * containerd's `containers.Container` in order, the spec decoded and last
 * when it has a value.
 */
function containerInfoJSON(c: ContainerRecord): GoJSONValue {
  const decoded = c.spec && c.spec.value.length > 0;
  const extensions = Object.entries(c.extensions).sort(([a], [b]) =>
    compareUTF8(a, b)
  );
  const fields: Record<string, GoJSONValue> = {
    ID: c.id,
    Labels: nullableMap(c.labels),
    Image: c.image,
    Runtime: {
      Name: c.runtime?.name ?? "",
      Options: anyJSON(c.runtime?.options),
    },
  };
  if (!decoded) fields.Spec = anyJSON(c.spec);
  Object.assign(fields, {
    SnapshotKey: c.snapshotKey,
    Snapshotter: c.snapshotter,
    CreatedAt: formatRFC3339Nano(c.createdAt),
    UpdatedAt: formatRFC3339Nano(c.updatedAt),
    Extensions: extensions.length
      ? Object.fromEntries(
        extensions.map(([name, ext]) => [name, anyJSON(ext)]),
      )
      : null,
  });
  // The decoded spec shadows the record's field and comes last, as in ctr.
  if (decoded) fields.Spec = decodeSpec(c.spec!);
  return fields;
}

/** Adds the command to the `containers` group. */
export function register(
  containers: Command,
  connect: () => Connection,
): void {
  containers.command("info")
    .description("get info about a container")
    .usage("[flags] CONTAINER")
    .argument("[id]")
    .option("--spec", "only display the spec")
    .action(async (id: string | undefined, opts) => {
      if (!id) {
        throw new Error("container id must be provided: invalid argument");
      }
      const conn = connect();
      const container = (await conn.api.loadContainer(id)).record;
      if (opts.spec) {
        if (!container.spec) throw new Error("spec is missing");
        writeStdoutSync(goJSON(decodeSpec(container.spec)) + "\n");
        return;
      }
      writeStdoutSync(goJSON(containerInfoJSON(container)) + "\n");
    });
}
