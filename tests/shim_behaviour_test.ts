/**
 * The shim behaves as containerd's runc shim does where clients depend on
 * it: task events in order, exec terminals from the request, a host-PID
 * container's processes killed with its init, `shim_cgroup`, the v1 runtime
 * name and containerd's wording of runc's errors.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { join } from "node:path";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { OptionsSchema } from "../src/gen/containerd/runc/options/oci_pb.ts";
import {
  BUSYBOX as IMAGE,
  fifoDir,
  isAlive,
  readShimPid,
  withBusybox,
} from "./_containers.ts";
import { run, type TestDaemon } from "./_harness.ts";
import { apiClient } from "./_client.ts";

/** What process `execId` in `box` prints on its stdout FIFO, with `terminal`. */
async function execOutput(
  daemon: TestDaemon,
  execId: string,
  process: Record<string, unknown>,
  terminal: boolean,
): Promise<string> {
  const tasks = apiClient(Tasks, {
    address: daemon.address,
    namespace: "default",
  });
  const stdout = join(fifoDir(daemon), `${execId}-stdout`);
  const made = await run("mkfifo", [stdout]);
  assert.equal(made.code, 0, made.stderr);
  const reading = Deno.open(stdout, { read: true }).then((f) =>
    new Response(f.readable).text()
  );
  await tasks.exec({
    containerId: "box",
    execId,
    stdout,
    terminal,
    spec: {
      typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process",
      value: new TextEncoder().encode(JSON.stringify(process)),
    },
  });
  const waited = tasks.wait({ containerId: "box", execId });
  await tasks.start({ containerId: "box", execId });
  assert.equal((await waited).exitStatus, 0);
  await tasks.deleteProcess({ containerId: "box", execId });
  return (await reading).replaceAll("\r\n", "\n");
}

Deno.test("an exec's terminal comes from the request, not its process spec", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const box = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const base = { cwd: "/", user: { uid: 0, gid: 0 }, env: ["PATH=/bin"] };
    const withTty = await execOutput(daemon, "tty", {
      ...base,
      args: ["sh", "-c", "tty; echo done"],
      terminal: false,
    }, true);
    assert.match(withTty, /^\/dev\/pts\/\d+\ndone\n$/);
    const without = await execOutput(daemon, "notty", {
      ...base,
      args: ["sh", "-c", "tty; echo done"],
      terminal: true,
    }, false);
    assert.equal(without, "not a tty\ndone\n");
  });
});

Deno.test("init's exit kills the rest of a container that shares the host's PIDs", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const out = join(daemon.dir, "out");
    await Deno.mkdir(out);
    const started = await ctrRun([
      "-d",
      "--with-ns",
      "pid:/proc/self/ns/pid",
      "--mount",
      `type=bind,src=${out},dst=/out,options=rbind:rw`,
      IMAGE,
      "hostpid",
      "sh",
      "-c",
      "sleep 600 & echo $! > /out/pid",
    ]);
    assert.equal(started.code, 0, started.stderr);
    const tasks = apiClient(Tasks, {
      address: daemon.address,
      namespace: "default",
    });
    const waited = await tasks.wait({ containerId: "hostpid" });
    assert.equal(waited.exitStatus, 0);
    const pid = Number((await Deno.readTextFile(join(out, "pid"))).trim());
    assert.ok(pid > 1);
    // Reported exited: the background sleep is gone already.
    assert.equal(await isAlive(pid), false, `sleep ${pid} outlived init`);
  });
});

Deno.test("the shim moves itself into the runc options' shim_cgroup", async () => {
  const name = `berth-shimcg-${crypto.randomUUID().slice(0, 8)}`;
  const hierarchies: string[] = [];
  for await (const entry of Deno.readDir("/sys/fs/cgroup")) {
    if (entry.isDirectory && entry.name !== "unified") {
      hierarchies.push(join("/sys/fs/cgroup", entry.name));
    }
  }
  try {
    for (const h of hierarchies) {
      await Deno.mkdir(join(h, name));
      // A new cpuset cgroup has no CPUs or memory nodes until given some.
      for (const file of ["cpuset.cpus", "cpuset.mems"]) {
        const parent = await Deno.readTextFile(join(h, file)).catch(() => "");
        if (parent) await Deno.writeTextFile(join(h, name, file), parent);
      }
    }
    await withBusybox(async (daemon) => {
      const created = await daemon.ctr([
        "containers",
        "create",
        IMAGE,
        "cg",
        "sleep",
        "600",
      ]);
      assert.equal(created.code, 0, created.stderr);
      const tasks = apiClient(Tasks, {
        address: daemon.address,
        namespace: "default",
      });
      await tasks.create({
        containerId: "cg",
        options: anyPack(
          OptionsSchema,
          create(OptionsSchema, { shimCgroup: `/${name}` }),
        ),
      });
      const shimPid = await readShimPid(daemon, "default", "cg");
      assert.ok(shimPid);
      const cgroups = await Deno.readTextFile(`/proc/${shimPid}/cgroup`);
      for (const line of cgroups.trim().split("\n")) {
        const [, controllers, path] = line.split(":");
        if (!controllers) continue; // the hybrid host's v2 line
        assert.equal(path, `/${name}`, `${controllers}: ${cgroups}`);
      }
    });
  } finally {
    for (const h of hierarchies) {
      await Deno.remove(join(h, name)).catch(() => {});
    }
  }
});
