import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { BerthError, Code as StatusCode } from "../types/mod.ts";
import {
  Introspection,
  introspectionService,
  type PluginInfo,
} from "./introspection.ts";
import { routerClient } from "./_testing.ts";

const PLUGINS: PluginInfo[] = [
  { type: "io.containerd.grpc.v1", id: "namespaces" },
  {
    type: "io.containerd.snapshotter.v1",
    id: "overlayfs",
    requires: ["io.containerd.metadata.v1.*"],
    platforms: [{ os: "linux", architecture: "amd64" }],
    exports: { root: "/var/lib/berth/snapshots" },
    capabilities: ["remap-ids"],
  },
  {
    type: "io.containerd.snapshotter.v1",
    id: "zfs",
    initError: new BerthError(StatusCode.FailedPrecondition, "no zfs"),
  },
];

function setup() {
  let asked = 0;
  const client = routerClient(
    Introspection,
    introspectionService({
      plugins: () => {
        asked++;
        return PLUGINS;
      },
      uuid: "7f1e…-uuid",
    }),
  );
  return { client, asked: () => asked };
}

Deno.test("Introspection.Plugins lists what the daemon reports now, every field mapped", async () => {
  const { client, asked } = setup();
  const { plugins } = await client.plugins({});
  assert.equal(asked(), 1);
  assert.deepEqual(plugins.map((p) => p.id), [
    "namespaces",
    "overlayfs",
    "zfs",
  ]);
  const overlay = plugins[1];
  assert.deepEqual(overlay.requires, ["io.containerd.metadata.v1.*"]);
  assert.deepEqual(
    overlay.platforms.map((p) => [p.os, p.architecture, p.variant]),
    [["linux", "amd64", ""]],
  );
  assert.deepEqual(overlay.exports, { root: "/var/lib/berth/snapshots" });
  assert.deepEqual(overlay.capabilities, ["remap-ids"]);
  assert.equal(overlay.initErr, undefined);
  assert.deepEqual(
    [plugins[2].initErr?.code, plugins[2].initErr?.message],
    [Code.FailedPrecondition, "no zfs: failed precondition"],
  );
});

Deno.test("Introspection.Plugins filters on type and id; a bad filter is InvalidArgument", async () => {
  const { client } = setup();
  const snapshotters = await client.plugins({
    filters: ['type=="io.containerd.snapshotter.v1"'],
  });
  assert.deepEqual(snapshotters.plugins.map((p) => p.id), ["overlayfs", "zfs"]);
  const either = await client.plugins({
    filters: ["id==namespaces", "id==zfs"],
  });
  assert.deepEqual(either.plugins.map((p) => p.id), ["namespaces", "zfs"]);
  await assert.rejects(client.plugins({ filters: ["id=="] }), {
    code: Code.InvalidArgument,
  });
});

Deno.test("Introspection.Server answers the daemon's UUID", async () => {
  const { client } = setup();
  assert.equal((await client.server({})).uuid, "7f1e…-uuid");
});
