import assert from "node:assert/strict";
import {
  applyOpts,
  DEFAULT_CAPABILITIES,
  defaultSpec,
  generateSpec,
} from "./spec.ts";

Deno.test("defaultSpec has containerd's defaults", () => {
  const spec = defaultSpec({ id: "c1", namespace: "ns" });
  assert.equal(spec.ociVersion, "1.0.2-dev");
  assert.deepEqual(spec.root, { path: "rootfs" });
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.process?.cwd, "/");
  assert.deepEqual(spec.process?.user, { uid: 0, gid: 0 });
  assert.equal(spec.process?.noNewPrivileges, true);
  assert.deepEqual(spec.process?.capabilities?.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(spec.process?.rlimits, [
    { type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 },
  ]);
  assert.deepEqual(spec.mounts?.map((m) => m.destination), [
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
    "/run",
  ]);
  assert.equal(spec.linux?.cgroupsPath, "/ns/c1");
  assert.deepEqual(spec.linux?.namespaces?.map((n) => n.type), [
    "pid",
    "ipc",
    "uts",
    "mount",
    "network",
  ]);
  assert.deepEqual(spec.linux?.resources?.devices, [
    { allow: false, access: "rwm" },
  ]);
  assert.equal(spec.linux?.maskedPaths?.length, 10);
  assert.equal(spec.linux?.readonlyPaths?.length, 5);
});

Deno.test("defaultSpec sets a hostname only when given, and copies its lists", () => {
  const a = defaultSpec({ id: "c", namespace: "n", hostname: "h" });
  assert.equal(a.hostname, "h");
  a.process!.capabilities!.bounding!.pop();
  a.mounts![0].options!.pop();
  const b = defaultSpec({ id: "c", namespace: "n" });
  assert.equal(b.process!.capabilities!.bounding!.length, 14);
  assert.equal(b.mounts![0].options!.length, 3);
});

Deno.test("applyOpts and generateSpec apply options in order", async () => {
  const order: number[] = [];
  const spec = await generateSpec(
    { id: "c", namespace: "n" },
    () => void order.push(1),
    async (s) => {
      await Promise.resolve();
      order.push(2);
      s.hostname = "x";
    },
  );
  assert.deepEqual(order, [1, 2]);
  assert.equal(spec.hostname, "x");
  assert.equal(await applyOpts(spec), spec);
});
