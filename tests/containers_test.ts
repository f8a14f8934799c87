/**
 * Container records end to end with the real `ctr`: create from a pulled
 * image (ctr writes the spec and prepares the snapshot itself), ls, info,
 * label, rm — compared with a real containerd where installed; bad input;
 * containers as garbage-collection roots of their snapshots.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { Client, ClientError, Code } from "../src/client/mod.ts";
import {
  normalizeCtr,
  startContainerd,
  startDaemon,
  type TestContainerd,
  type TestDaemon,
} from "./_harness.ts";
import { buildImage } from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";

const SPEC = create(AnySchema, {
  typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: new TextEncoder().encode('{"ociVersion":"1.0.2"}'),
});

/** What `ctr` prints for the container workflow, normalized. */
async function containerWorkflow(
  side: TestDaemon | TestContainerd,
  ref: string,
  host: string,
): Promise<string[]> {
  const pull = await side.ctr(["images", "pull", "--plain-http", ref]);
  assert.equal(pull.code, 0, pull.stderr);
  const out: string[] = [];
  const ctr = async (...args: string[]) => {
    const r = await side.ctr(args);
    assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
    out.push(normalizeCtr(r.stdout.replaceAll(host, "REGISTRY")));
    return r.stdout;
  };
  await ctr("containers", "create", ref, "c1");
  await ctr("containers", "ls");
  const info = JSON.parse(await ctr("containers", "info", "c1"));
  assert.equal(info.ID, "c1");
  assert.equal(info.Snapshotter, "overlayfs");
  assert.equal(info.SnapshotKey, "c1");
  assert.ok(info.Spec?.process?.args, "the spec is present as JSON");
  await ctr("snapshots", "ls");
  await ctr("containers", "label", "c1", "a=b");
  await ctr("containers", "ls", "labels.a==b");
  await ctr("containers", "ls", "-q", "image~=nothing");
  await ctr("containers", "rm", "c1");
  await ctr("containers", "ls");
  await ctr("snapshots", "ls");
  return out;
}

Deno.test("ctr creates, lists, inspects, labels and removes containers like containerd", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const ref = `${registry.host}/busybox:latest`;
  const sides = containerd ? [berth, containerd] : [berth];
  const outputs: string[][] = [];
  for (const side of sides) {
    outputs.push(await containerWorkflow(side, ref, registry.host));
  }
  if (outputs.length === 2) assert.deepEqual(outputs[0], outputs[1]);
  assert.match(
    outputs[0][1],
    /c1 REGISTRY\/busybox:latest io\.containerd\.runc\.v2/,
  );
  assert.match(
    outputs[0][3],
    /c1 /,
    "the snapshot exists while the container does",
  );
  assert.match(outputs[0][5], /c1 /, "the label filter matches");
  assert.doesNotMatch(outputs[0].at(-1)!, /c1 /, "rm removes the snapshot");
});

Deno.test("bad container input fails like containerd", async () => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const sides = containerd ? [berth, containerd] : [berth];
  const results: string[][] = [];
  for (const side of sides) {
    const client = new Client({
      address: side.address,
      namespace: side.namespace,
    }).service(Containers);
    const container = {
      id: "c1",
      runtime: { name: "io.containerd.runc.v2" },
      spec: SPEC,
    };
    const seen: string[] = [];
    const expect = async (call: Promise<unknown>, code: Code) => {
      const err = await call.then(() => undefined, (e) => e);
      // The library's typed errors carry the gRPC code and message.
      assert.ok(err instanceof ClientError, `expected ${Code[code]}`);
      assert.equal(err.code, code, err.message);
      seen.push(`${Code[err.code]}: ${err.message}`);
    };
    await client.create({ container });
    await expect(
      client.create({ container: { ...container, id: "bad id" } }),
      Code.InvalidArgument,
    );
    await expect(client.create({ container }), Code.AlreadyExists);
    await expect(
      client.create({ container: { ...container, id: "c2", spec: undefined } }),
      Code.InvalidArgument,
    );
    await expect(
      client.create({ container: { ...container, id: "c2", runtime: {} } }),
      Code.InvalidArgument,
    );
    await expect(
      client.create({
        container: { ...container, id: "c2", snapshotKey: "k" },
      }),
      Code.InvalidArgument,
    );
    await expect(client.get({ id: "missing" }), Code.NotFound);
    await expect(client.delete({ id: "missing" }), Code.NotFound);
    await expect(
      client.update({
        container: { id: "missing" },
        updateMask: { paths: ["image"] },
      }),
      Code.NotFound,
    );
    await expect(
      client.update({
        container: { id: "c1" },
        updateMask: { paths: ["runtime"] },
      }),
      Code.InvalidArgument,
    );
    await expect(
      client.update({ container: { id: "" } }),
      Code.InvalidArgument,
    );
    await expect(
      client.update({ container: { ...container, snapshotter: "native" } }),
      Code.InvalidArgument,
    );
    await expect(client.list({ filters: ["id=="] }), Code.InvalidArgument);
    const ns = await side.ctr(["namespaces", "rm", side.namespace]);
    assert.notEqual(ns.code, 0);
    assert.match(ns.stderr, /still has containers/);
    const updated = await client.update({
      container: { id: "c1", labels: { x: "1" } },
      updateMask: { paths: ["labels.x"] },
    });
    assert.deepEqual(updated.container?.labels, { x: "1" });
    const streamed = [];
    for await (const msg of client.listStream({})) {
      streamed.push(msg.container?.id);
    }
    assert.deepEqual(streamed, ["c1"]);
    await client.delete({ id: "c1" });
    results.push(seen);
  }
  if (results.length === 2) assert.deepEqual(results[0], results[1]);
});

Deno.test("a container's snapshot survives garbage collection until the container goes", async () => {
  await using berth = await startDaemon();
  const client = new Client({
    address: berth.address,
    namespace: berth.namespace,
  });
  const leases = client.service(Leases);
  const containers = client.service(Containers);
  const collect = async () => {
    const { lease } = await leases.create({});
    await leases.delete({ id: lease!.id, sync: true });
  };
  const { lease } = await leases.create({});
  const snapshots = client.with({ lease: lease!.id }).service(Snapshots);
  await snapshots.prepare({ snapshotter: "overlayfs", key: "rootfs" });
  await containers.create({
    container: {
      id: "holder",
      runtime: { name: "io.containerd.runc.v2" },
      spec: SPEC,
      snapshotter: "overlayfs",
      snapshotKey: "rootfs",
    },
  });
  await leases.delete({ id: lease!.id, sync: true });
  await collect();
  const stat = await snapshots.stat({
    snapshotter: "overlayfs",
    key: "rootfs",
  });
  assert.equal(stat.info?.name, "rootfs");
  await containers.delete({ id: "holder" });
  await collect();
  const err = await snapshots.stat({ snapshotter: "overlayfs", key: "rootfs" })
    .then(() => undefined, (e) => e);
  assert.ok(err instanceof ClientError);
  assert.equal(err.code, Code.NotFound);
});
