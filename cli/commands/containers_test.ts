import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Containers } from "../../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Client } from "../../src/client/mod.ts";
import { normalizeCtr, startDaemon } from "../../tests/_harness.ts";
import { buildImage } from "../../tests/fixtures/images.ts";
import { pushLayout, startRegistry } from "../../tests/fixtures/registry.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("containers ls, info, label and rm print like ctr", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using daemon = await startDaemon();
  const ref = `${registry.host}/busybox:latest`;
  const pull = await daemon.ctr(["images", "pull", "--plain-http", ref]);
  assert.equal(pull.code, 0, pull.stderr);
  for (const id of ["c1", "c2"]) {
    const r = await daemon.ctr(["containers", "create", ref, id]);
    assert.equal(r.code, 0, r.stderr);
  }
  // A record with what ctr's create never writes: no labels, no image, no
  // snapshot, runtime options with a value, extensions, an opaque spec.
  await new Client({
    address: daemon.address,
    namespace: daemon.namespace,
  }).service(Containers).create({
    container: {
      id: "bare",
      runtime: {
        name: "io.containerd.runc.v2",
        options: create(AnySchema, {
          typeUrl: "x.Options",
          value: bytes("o"),
        }),
      },
      spec: create(AnySchema, {
        typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
        value: bytes('{"ociVersion":"1.0.2","hostname":"<a&b>"}'),
      }),
      extensions: {
        b: create(AnySchema, { typeUrl: "x.B", value: bytes("b") }),
        a: create(AnySchema, { typeUrl: "x.A" }),
      },
    },
  });

  const same = async (args: string[], normalize = false) => {
    const ours = await daemon.berth(args);
    const theirs = await daemon.ctr(args);
    assert.equal(ours.code, theirs.code, `${args.join(" ")}: ${ours.stderr}`);
    const norm = (text: string) => normalize ? normalizeCtr(text) : text;
    assert.equal(norm(ours.stdout), norm(theirs.stdout), args.join(" "));
    return ours;
  };
  await same(["containers", "ls"]);
  await same(["containers", "ls", "-q"]);
  await same(["containers", "ls", "id==bare", "image~=busybox"]);
  await same(["c", "ls", "-q", "runtime.name==nothing"]);
  await same(["containers", "info", "c1"]);
  await same(["containers", "info", "bare"]);
  await same(["containers", "info", "--spec", "c2"]);
  const labelled = await same(
    ["containers", "label", "c1", "a=b", "flag"],
    true,
  );
  assert.match(labelled.stdout, /a=b/);
  assert.match(labelled.stdout, /flag=true/);
  await same(["containers", "label", "c1", "a="], true);
  await same(["containers", "info", "c1"]);

  const missing = await daemon.berth(["containers", "info", "nope"]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    `ctr: container "nope" in namespace "${daemon.namespace}": not found\n`,
  );
  const noId = await daemon.berth(["containers", "info"]);
  assert.match(noId.stderr, /container id must be provided: invalid argument/);

  const rm = await daemon.berth(["containers", "rm", "c1", "nope", "bare"]);
  assert.equal(rm.code, 1);
  assert.match(
    rm.stderr,
    new RegExp(
      `level=error msg="failed to delete container \\\\"nope\\\\"" error="container \\\\"nope\\\\" in namespace \\\\"${daemon.namespace}\\\\": not found"\nctr: container "nope" in namespace "${daemon.namespace}": not found\n$`,
    ),
  );
  assert.equal((await daemon.berth(["containers", "ls", "-q"])).stdout, "c2\n");
  const snapshots = (await daemon.ctr(["snapshots", "ls"])).stdout;
  assert.doesNotMatch(snapshots, /^c1 /m, "rm removes the snapshot");
  assert.match(snapshots, /^c2 /m);
  // Once its container is gone nothing references the snapshot: a root label
  // keeps the collector (which runs when it will) from taking it, so only
  // the removal itself could.
  const root = ["snapshots", "label", "c2", "containerd.io/gc.root=kept"];
  assert.equal((await daemon.ctr(root)).code, 0);
  const keep = await daemon.berth([
    "containers",
    "rm",
    "--keep-snapshot",
    "c2",
  ]);
  assert.equal(keep.code, 0, keep.stderr);
  assert.match((await daemon.ctr(["snapshots", "ls"])).stdout, /^c2 /m);

  // create: berth's record equals ctr's, but for id and times.
  const flags = [
    "--env",
    "A=b",
    "--label",
    "x=y",
    "--cwd",
    "/tmp",
    "--privileged",
  ];
  const ours = await daemon.berth([
    "containers",
    "create",
    ...flags,
    ref,
    "b1",
    "echo",
    "hi",
  ]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout, "");
  const theirs = await daemon.ctr([
    "containers",
    "create",
    ...flags,
    ref,
    "b2",
    "echo",
    "hi",
  ]);
  assert.equal(theirs.code, 0, theirs.stderr);
  const info = async (id: string) =>
    (await daemon.ctr(["containers", "info", id])).stdout
      // Whole words only: the id may also occur inside a random path.
      .replace(new RegExp(`\\b${id}\\b`, "g"), "ID")
      .replace(/"(Created|Updated)At": "[^"]*"/g, "");
  assert.equal(await info("b1"), await info("b2"));
  const again = await daemon.berth(["containers", "create", ref, "b1"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);
});
