import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import {
  replaceOrAppendEnv,
  type RootfsOptions,
  withAddedCapabilities,
  withAdditionalGids,
  withAllDevicesAllowed,
  withAnnotations,
  withCgroup,
  withCPUs,
  withCPUShares,
  withCwd,
  withDefaultUnixDevices,
  withDroppedCapabilities,
  withEnv,
  withHostname,
  withHostNamespace,
  withHostNetwork,
  withImageConfig,
  withLinuxNamespace,
  withMemoryLimit,
  withMounts,
  withNewPrivileges,
  withoutMounts,
  withPrivileged,
  withProcessArgs,
  withReadonlyRootfs,
  withRootfsPath,
  withTTY,
  withUser,
} from "./opts.ts";
import { DEFAULT_PATH_ENV, generateSpec, type SpecOpt } from "./spec.ts";

const gen = (...opts: SpecOpt[]) =>
  generateSpec({ id: "c1", namespace: "default" }, ...opts);

/** A temporary rootfs with /etc/passwd and /etc/group. */
async function rootfs(): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "oci-rootfs-" });
  await Deno.mkdir(`${dir}/etc`);
  await Deno.writeTextFile(
    `${dir}/etc/passwd`,
    [
      "root:x:0:0:root:/root:/bin/sh",
      "app:x:1000:1001:app:/home/app:/bin/sh",
      "web:x:33:33::/var/www:/bin/false",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/etc/group`,
    [
      "root:x:0:",
      "wheel:x:10:root,app",
      "appgrp:x:1001:app",
      "docker:x:999:app",
      "www:x:33:",
    ].join("\n"),
  );
  return Object.assign(dir, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  }) as string & AsyncDisposable;
}

Deno.test("replaceOrAppendEnv replaces, appends and unsets", () => {
  assert.deepEqual(
    replaceOrAppendEnv(["A=1", "B=2", "C=3"], ["B=x", "D=4", "C", "E"]),
    ["A=1", "B=x", "D=4"],
  );
});

Deno.test("withEnv, withProcessArgs, withCwd, withTTY, withHostname", async () => {
  const spec = await gen(
    withEnv(["A=1"]),
    withEnv(["A=2", "B=3"]),
    withEnv([]),
    withProcessArgs("echo", "hi"),
    withCwd("/tmp"),
    withTTY(),
    withHostname("box"),
  );
  assert.deepEqual(spec.process?.env, ["A=2", "B=3", "TERM=xterm"]);
  assert.deepEqual(spec.process?.args, ["echo", "hi"]);
  assert.equal(spec.process?.cwd, "/tmp");
  assert.equal(spec.process?.terminal, true);
  assert.equal(spec.hostname, "box");
});

Deno.test("withImageConfig takes entrypoint, cmd, env and working dir", async () => {
  const spec = await gen(
    withEnv(["A=override", "X=1"]),
    withImageConfig({
      Entrypoint: ["/init"],
      Cmd: ["run"],
      Env: ["PATH=/bin", "A=image"],
      WorkingDir: "/app",
    }),
  );
  assert.deepEqual(spec.process?.args, ["/init", "run"]);
  assert.deepEqual(spec.process?.env, ["PATH=/bin", "A=override", "X=1"]);
  assert.equal(spec.process?.cwd, "/app");
  assert.deepEqual(spec.process?.user, {
    uid: 0,
    gid: 0,
    additionalGids: [0],
  });
  const bare = await gen(withImageConfig({ Cmd: null }));
  assert.deepEqual(bare.process?.env, [DEFAULT_PATH_ENV]);
  assert.equal(bare.process?.args, undefined);
  assert.equal(bare.process?.cwd, "/");
});

Deno.test("withImageConfig resolves the user and groups in the rootfs", async () => {
  await using root = await rootfs();
  const user = async (User: string) =>
    (await gen(withImageConfig({ User }, { rootfs: root }))).process?.user;
  // The primary group is listed in /etc/group order when it names the
  // user as a member, else put first.
  assert.deepEqual(await user("app"), {
    uid: 1000,
    gid: 1001,
    additionalGids: [10, 1001, 999],
  });
  assert.deepEqual(await user("1000"), {
    uid: 1000,
    gid: 1001,
    additionalGids: [10, 1001, 999],
  });
  assert.deepEqual(await user("app:www"), {
    uid: 1000,
    gid: 33,
    additionalGids: [33, 10, 1001, 999],
  });
  assert.deepEqual(await user("web:10"), {
    uid: 33,
    gid: 10,
    additionalGids: [10],
  });
  assert.deepEqual(await user("4242"), {
    uid: 4242,
    gid: 0,
    additionalGids: [0],
  });
  assert.deepEqual(
    (await gen(withImageConfig({}, { rootfs: root }))).process?.user,
    { uid: 0, gid: 0, additionalGids: [0, 10] },
  );
});

Deno.test("withUser resolves names, ids and pairs", async () => {
  await using root = await rootfs();
  const user = async (u: string, opts: RootfsOptions = { rootfs: root }) =>
    (await gen(withUser(u, opts))).process?.user;
  assert.deepEqual(await user("app"), {
    uid: 1000,
    gid: 1001,
    additionalGids: [1001],
  });
  assert.deepEqual(await user("5:6", { rootfs: "" }), {
    uid: 5,
    gid: 6,
    additionalGids: [6],
  });
  assert.deepEqual(await user("33", { rootfs: "" }), {
    uid: 33,
    gid: 0,
    additionalGids: [0],
  });
  const fails = async (
    u: string,
    code: Code,
    opts: RootfsOptions = { rootfs: root },
  ) => {
    await assert.rejects(
      gen(withUser(u, opts)),
      (e) => e instanceof BerthError && e.code === code,
      u,
    );
  };
  await fails("nobody", Code.NotFound);
  await fails("app:nogroup", Code.NotFound);
  await fails("a:b:c", Code.InvalidArgument);
  await fails("app", Code.FailedPrecondition, { rootfs: "" });
  // The spec's root path is used when absolute.
  const spec = await gen(withRootfsPath(root), withUser("web"));
  assert.deepEqual(spec.process?.user, {
    uid: 33,
    gid: 33,
    additionalGids: [33],
  });
  const noFiles = await Deno.makeTempDir();
  try {
    await fails("app", Code.NotFound, { rootfs: noFiles });
    assert.deepEqual(await user("7", { rootfs: noFiles }), {
      uid: 7,
      gid: 0,
      additionalGids: [0],
    });
    const gids = await gen(withAdditionalGids("app", { rootfs: noFiles }));
    assert.deepEqual(gids.process?.user.additionalGids, [0]);
  } finally {
    await Deno.remove(noFiles, { recursive: true });
  }
});

Deno.test("withMounts parses --mount values; withoutMounts removes", async () => {
  const spec = await gen(
    withMounts([
      "type=bind,src=/a,dst=/b,options=rbind:ro",
      { destination: "/c", type: "tmpfs", source: "tmpfs" },
    ]),
    withoutMounts("/run", "/c"),
  );
  assert.deepEqual(spec.mounts?.at(-1), {
    destination: "/b",
    type: "bind",
    source: "/a",
    options: ["rbind", "ro"],
  });
  assert.equal(spec.mounts?.length, 7);
  assert.ok(!spec.mounts?.some((m) => m.destination === "/run"));
});

Deno.test("withHostNetwork is ctr's --net-host", async () => {
  const spec = await gen(withHostNetwork({ hostname: "h1" }));
  assert.ok(!spec.linux?.namespaces?.some((n) => n.type === "network"));
  assert.deepEqual(spec.mounts?.slice(-2).map((m) => m.destination), [
    "/etc/hosts",
    "/etc/resolv.conf",
  ]);
  assert.deepEqual(spec.mounts?.at(-1)?.options, ["rbind", "ro"]);
  assert.deepEqual(spec.process?.env, ["HOSTNAME=h1"]);
});

Deno.test("withHostNamespace and withLinuxNamespace", async () => {
  const spec = await gen(
    withHostNamespace("pid"),
    withHostNamespace("user"),
    withLinuxNamespace({ type: "network", path: "/run/netns/x" }),
    withLinuxNamespace({ type: "cgroup" }),
  );
  assert.deepEqual(spec.linux?.namespaces, [
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
    { type: "network", path: "/run/netns/x" },
    { type: "cgroup" },
  ]);
});

Deno.test("resource options", async () => {
  const spec = await gen(
    withMemoryLimit(1 << 20),
    withCPUs(1.5),
    withCPUShares(512),
    withCgroup("/x/y"),
  );
  assert.deepEqual(spec.linux?.resources?.memory, { limit: 1 << 20 });
  assert.deepEqual(spec.linux?.resources?.cpu, {
    quota: 150000,
    period: 100000,
    shares: 512,
  });
  assert.equal(spec.linux?.cgroupsPath, "/x/y");
  assert.throws(() => withCPUs(0), BerthError);
});

Deno.test("withDefaultUnixDevices and withAllDevicesAllowed", async () => {
  const spec = await gen(withDefaultUnixDevices());
  const devices = spec.linux?.resources?.devices ?? [];
  assert.equal(devices.length, 10);
  assert.deepEqual(devices[8], {
    allow: true,
    type: "c",
    major: 136,
    access: "rwm",
  });
  const all = await gen(withDefaultUnixDevices(), withAllDevicesAllowed());
  assert.deepEqual(all.linux?.resources?.devices, [
    { allow: true, access: "rwm" },
  ]);
});

Deno.test("withPrivileged, withReadonlyRootfs, withNewPrivileges, capabilities", async () => {
  const spec = await gen(
    withPrivileged(),
    withReadonlyRootfs(),
    withNewPrivileges(),
  );
  assert.equal(spec.linux?.maskedPaths, undefined);
  assert.equal(spec.linux?.readonlyPaths, undefined);
  assert.deepEqual(
    spec.mounts?.find((m) => m.type === "sysfs")?.options,
    ["nosuid", "noexec", "nodev", "rw"],
  );
  const caps = spec.process?.capabilities;
  assert.deepEqual(caps?.bounding, caps?.effective);
  if (Deno.uid() === 0) assert.ok(caps?.bounding?.includes("CAP_SYS_ADMIN"));
  assert.deepEqual(spec.root, { path: "rootfs", readonly: true });
  assert.equal(spec.process?.noNewPrivileges, false);

  const changed = await gen(
    withAddedCapabilities(["CAP_SYS_ADMIN", "CAP_KILL"]),
    withDroppedCapabilities(["CAP_CHOWN"]),
    withAnnotations({ a: "b" }),
    withAnnotations({}),
  );
  const bounding = changed.process?.capabilities?.bounding ?? [];
  assert.equal(bounding.at(-1), "CAP_SYS_ADMIN");
  assert.equal(bounding.filter((c) => c === "CAP_KILL").length, 1);
  assert.ok(!bounding.includes("CAP_CHOWN"));
  assert.deepEqual(changed.annotations, { a: "b" });
});
