/**
 * `berth ctr containers create|ls|info|label|rm`: container records, as ctr 1.6
 * prints them. Removing a container removes its snapshot too unless told
 * to keep it, as ctr does client-side.
 *
 * @module
 */
import type { Command } from "commander";
import type { Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Container,
  Containers,
} from "../../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Snapshots } from "../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Connection } from "../_client.ts";
import {
  compareUTF8,
  formatRFC3339Nano,
  goJSON,
  type GoJSONValue,
  goMap,
  parseLabelArgs,
  tabwrite,
} from "../_format.ts";
import { writeStdoutSync } from "../_progress.ts";
import { addContainerFlags, newContainerOptions } from "../_container_flags.ts";
import { newContainer } from "../_new_container.ts";
import { logLine } from "../_log.ts";

/** ctr's container table: tabwriter(minwidth 4, tabwidth 8, padding 4, ' '). */
const TABLE = { minwidth: 4, tabwidth: 8, padding: 4, padchar: " " };

const print = (text: string) => writeStdoutSync(text);

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
export function containerInfoJSON(c: Container): GoJSONValue {
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

/**
 * Deletes `container`'s record and, unless told to keep it, its snapshot
 * first, as ctr's `Delete` with `WithSnapshotCleanup`.
 */
export async function deleteContainer(
  conn: Connection,
  container: Container,
  keepSnapshot = false,
): Promise<void> {
  if (!keepSnapshot && container.snapshotKey) {
    if (!container.snapshotter) {
      throw new Error(
        "container.Snapshotter must be set to cleanup rootfs snapshot: invalid argument",
      );
    }
    try {
      await conn.client(Snapshots).remove({
        snapshotter: container.snapshotter,
        key: container.snapshotKey,
      }, { signal: conn.signal });
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.NotFound)) {
        throw err;
      }
    }
  }
  await conn.client(Containers).delete({ id: container.id }, {
    signal: conn.signal,
  });
}

/** The record of container `id`; NotFound as the daemon words it. */
export async function getContainer(
  conn: Connection,
  id: string,
): Promise<Container> {
  const { container } = await conn.client(Containers).get({ id }, {
    signal: conn.signal,
  });
  if (!container) throw new Error(`container ${JSON.stringify(id)} missing`);
  return container;
}

/** Adds the command to `program`. */
export function containersCommand(
  program: Command,
  connect: () => Connection,
): void {
  const containers = program.command("containers").aliases([
    "c",
    "container",
  ]).description("manage containers");

  const create = containers.command("create")
    .description("create container")
    .usage(
      "[command options] [flags] Image|RootFS CONTAINER [COMMAND] [ARG...]",
    )
    .argument("[image]")
    .argument("[id]")
    .argument("[args...]")
    // Flags after the image belong to the container's command.
    .passThroughOptions();
  addContainerFlags(create)
    .action(async (ref: string, id: string, args: string[], opts) => {
      await newContainer(connect(), newContainerOptions(ref, id, args, opts));
    });

  containers.command("list").alias("ls")
    .description("list containers")
    .usage("[flags] [<filter>, ...]")
    .argument("[filters...]")
    .option("-q, --quiet", "print only the container id")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const found: Container[] = [];
      for await (
        const msg of conn.client(Containers).listStream({ filters }, {
          signal: conn.signal,
        })
      ) {
        if (msg.container) found.push(msg.container);
      }
      if (opts.quiet) {
        print(found.map((c) => `${c.id}\n`).join(""));
        return;
      }
      let text = "CONTAINER\tIMAGE\tRUNTIME\t\n";
      for (const c of found) {
        text += `${c.id}\t${c.image || "-"}\t${c.runtime?.name ?? ""}\t\n`;
      }
      print(tabwrite(text, TABLE));
    });

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
      const container = await getContainer(conn, id);
      if (opts.spec) {
        if (!container.spec) throw new Error("spec is missing");
        print(goJSON(decodeSpec(container.spec)) + "\n");
        return;
      }
      print(goJSON(containerInfoJSON(container)) + "\n");
    });

  containers.command("label")
    .description("set and clear labels for a container")
    .usage("[flags] CONTAINER [<key>=<value>, ...]")
    .argument("[id]")
    .argument("[labels...]")
    .action(async (id: string | undefined, args: string[]) => {
      if (!id) {
        throw new Error("container id must be provided: invalid argument");
      }
      const labels = parseLabelArgs(args, "true");
      const conn = connect();
      await getContainer(conn, id);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const { container } = await conn.client(Containers).update({
        container: { id, labels },
        updateMask: paths.length ? { paths } : undefined,
      }, { signal: conn.signal });
      // ctr prints Go's random map order; sorted is one of them.
      print(
        Object.entries(container?.labels ?? {}).map(([k, v]) => `${k}=${v}`)
          .sort(compareUTF8).join(",") + "\n",
      );
    });

  containers.command("delete").aliases(["del", "remove", "rm"])
    .description("delete one or more existing containers")
    .usage("[flags] CONTAINER [CONTAINER, ...]")
    .argument("[ids...]")
    .option("--keep-snapshot", "do not clean up snapshot with container")
    .action(async (ids: string[], opts) => {
      if (ids.length === 0) {
        throw new Error(
          "must specify at least one container to delete: invalid argument",
        );
      }
      const conn = connect();
      let failure: unknown;
      for (const id of ids) {
        try {
          const container = await getContainer(conn, id);
          await deleteContainer(conn, container, opts.keepSnapshot);
        } catch (err) {
          failure ??= err;
          let data = new TextEncoder().encode(
            logLine("error", `failed to delete container "${id}"`, err),
          );
          while (data.length) {
            data = data.subarray(Deno.stderr.writeSync(data));
          }
        }
      }
      if (failure) throw failure;
    });
}
