/**
 * Integration: `berth shim … start` in a bundle, then the task API over
 * ttrpc against Debian's runc with a busybox rootfs.
 */
import assert from "node:assert/strict";
import {
  create,
  type DescMessage,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { join } from "node:path";
import { buildImage } from "../../tests/fixtures/images.ts";
import { removeNamespaceCgroups } from "../../tests/_cgroups.ts";
import { uniqueNamespace } from "../../tests/_harness.ts";
import { OptionsSchema } from "../gen/containerd/runc/options/oci_pb.ts";
import { Task } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import { TtrpcClient } from "../ttrpc/client.ts";
import { BerthError, Code } from "../types/errors.ts";

const MOD = new URL("../../mod.ts", import.meta.url).pathname;
/** The containers' namespace: their cgroups `/NS/ID` are no other run's. */
const NS = uniqueNamespace("shim");

type Methods = typeof Task.method;

/** A typed call of the Task service. */
function call<K extends keyof Methods>(
  client: TtrpcClient,
  method: K,
  request: MessageInitShape<Methods[K]["input"]>,
) {
  const m = Task.method[method];
  return client.call(
    Task.typeName,
    m.name,
    m.input as DescMessage,
    request as MessageInitShape<DescMessage>,
    m.output,
  ) as Promise<ReturnType<typeof create<Methods[K]["output"]>>>;
}

async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return { code: out.code, stdout, stderr };
}

/** A temp dir with a busybox rootfs (shared) and a private runc root. */
async function setup(): Promise<
  { tmp: string; rootfs: string; runcRoot: string }
> {
  const tmp = await Deno.makeTempDir({ prefix: "shim" });
  const rootfs = join(tmp, "rootfs");
  await Deno.mkdir(rootfs);
  const image = await buildImage("busybox");
  const layer = image.layers[0].digest.replace(":", "/");
  const tar = await run("tar", [
    "-xzf",
    join(image.layout, "blobs", layer),
    "-C",
    rootfs,
  ]);
  assert.equal(tar.code, 0, tar.stderr);
  // The shim keeps each namespace's containers below the root it is given.
  return { tmp, rootfs, runcRoot: join(tmp, "runc") };
}

/** A bundle `tmp/ID` whose config runs `args` on `root`. */
async function bundle(tmp: string, id: string, args: string[], root: string) {
  const dir = join(tmp, id);
  await Deno.mkdir(dir);
  const spec = await run("runc", ["spec", "--bundle", dir]);
  assert.equal(spec.code, 0, spec.stderr);
  const path = join(dir, "config.json");
  const config = JSON.parse(await Deno.readTextFile(path));
  config.process.args = args;
  config.process.terminal = false;
  config.root = { path: root, readonly: true };
  config.linux.cgroupsPath = `/${NS}/${id}`;
  await Deno.writeTextFile(path, JSON.stringify(config));
  return dir;
}

interface Shim {
  client: TtrpcClient;
  bundle: string;
  pid: number;
}

async function startShim(bundleDir: string, id: string): Promise<Shim> {
  const out = await run(Deno.execPath(), [
    "run",
    "-A",
    MOD,
    "shim",
    "-namespace",
    NS,
    "-id",
    id,
    "-address",
    "/nonexistent",
    "start",
  ], bundleDir);
  assert.equal(out.code, 0, out.stderr);
  const address = out.stdout.trim();
  assert.match(address, /^unix:\/\//);
  assert.equal(
    await Deno.readTextFile(join(bundleDir, "address")),
    address,
  );
  const pid = parseInt(await Deno.readTextFile(join(bundleDir, "shim.pid")));
  const client = await TtrpcClient.connect(address.slice("unix://".length));
  return { client, bundle: bundleDir, pid };
}

/** True while `pid` runs (a zombie, e.g. re-parented to a subreaper, does not). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function cleanup(shim: Shim | undefined, runcRoot: string, id: string) {
  await run("runc", ["--root", join(runcRoot, NS), "delete", "--force", id]);
  if (!shim) return;
  await shim.client.close().catch(() => {});
  try {
    Deno.kill(shim.pid, "SIGKILL");
  } catch {
    // gone
  }
  await run("umount", ["-l", join(shim.bundle, "rootfs")]);
}

function runcOptions(root: string) {
  return anyPack(OptionsSchema, create(OptionsSchema, { root }));
}

async function mkfifo(path: string): Promise<void> {
  const r = await run("mkfifo", [path]);
  assert.equal(r.code, 0, r.stderr);
}

Deno.test({
  name:
    "shim: echo hello through a stdout FIFO, rootfs mounted, delete, shutdown",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { tmp, rootfs, runcRoot } = await setup();
    let shim: Shim | undefined;
    try {
      const dir = await bundle(tmp, "c1", ["echo", "hello"], "rootfs");
      shim = await startShim(dir, "c1");
      const stdout = join(tmp, "c1.out");
      await mkfifo(stdout);
      const created = await call(shim.client, "create", {
        id: "c1",
        bundle: dir,
        stdout,
        rootfs: [{ type: "bind", source: rootfs, options: ["rbind", "ro"] }],
        options: runcOptions(runcRoot),
      });
      assert.ok(created.pid > 0);
      const reader = await Deno.open(stdout, { read: true });
      const text = new Response(reader.readable).text();
      const state = await call(shim.client, "state", { id: "c1" });
      assert.equal(state.status, Status.CREATED);
      assert.equal(state.pid, created.pid);
      const connect = await call(shim.client, "connect", { id: "c1" });
      assert.equal(connect.shimPid, shim.pid);
      assert.equal(connect.taskPid, created.pid);
      await call(shim.client, "start", { id: "c1" });
      const waited = await call(shim.client, "wait", { id: "c1" });
      assert.equal(waited.exitStatus, 0);
      assert.ok(waited.exitedAt);
      assert.equal(await text, "hello\n");
      const exitFile = JSON.parse(await Deno.readTextFile(join(dir, "exit")));
      assert.equal(exitFile.status, 0);
      const stopped = await call(shim.client, "state", { id: "c1" });
      assert.equal(stopped.status, Status.STOPPED);
      const deleted = await call(shim.client, "delete", { id: "c1" });
      assert.equal(deleted.exitStatus, 0);
      assert.equal(deleted.pid, created.pid);
      const list = await run("runc", [
        "--root",
        join(runcRoot, NS),
        "list",
        "-q",
      ]);
      assert.equal(list.stdout.trim(), "");
      const mounts = await Deno.readTextFile("/proc/self/mountinfo");
      assert.ok(!mounts.includes(join(dir, "rootfs")));
      await call(shim.client, "shutdown", { id: "c1" });
      const deadline = Date.now() + 5000;
      while (alive(shim.pid) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(!alive(shim.pid), "shim still running after Shutdown");
    } finally {
      await cleanup(shim, runcRoot, "c1");
      await removeNamespaceCgroups([NS]);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "shim: exit status 7, kill gives 137, pids, pause/resume, bad exec",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { tmp, rootfs, runcRoot } = await setup();
    const shims: Shim[] = [];
    try {
      const d7 = await bundle(tmp, "c7", ["sh", "-c", "exit 7"], rootfs);
      const s7 = await startShim(d7, "c7");
      shims.push(s7);
      await call(s7.client, "create", {
        id: "c7",
        bundle: d7,
        options: runcOptions(runcRoot),
      });
      await call(s7.client, "start", { id: "c7" });
      assert.equal((await call(s7.client, "wait", { id: "c7" })).exitStatus, 7);
      assert.equal(
        (await call(s7.client, "delete", { id: "c7" })).exitStatus,
        7,
      );

      const dk = await bundle(tmp, "ck", ["sleep", "60"], rootfs);
      const sk = await startShim(dk, "ck");
      shims.push(sk);
      const { pid } = await call(sk.client, "create", {
        id: "ck",
        bundle: dk,
        options: runcOptions(runcRoot),
      });
      await call(sk.client, "start", { id: "ck" });
      const running = await call(sk.client, "state", { id: "ck" });
      assert.equal(running.status, Status.RUNNING);
      const pids = await call(sk.client, "pids", { id: "ck" });
      assert.deepEqual(pids.processes.map((p) => p.pid), [pid]);
      await call(sk.client, "pause", { id: "ck" });
      assert.equal(
        (await call(sk.client, "state", { id: "ck" })).status,
        Status.PAUSED,
      );
      await call(sk.client, "resume", { id: "ck" });
      // containerd's shim words it so, with code Unknown.
      await assert.rejects(
        call(sk.client, "delete", { id: "ck" }),
        (e) =>
          BerthError.is(e, Code.Unknown) &&
          e.message === "cannot delete a running process: unknown",
      );
      await assert.rejects(
        call(sk.client, "exec", { id: "ck", execId: "e1" }),
        (e) => BerthError.is(e, Code.InvalidArgument),
      );
      await assert.rejects(
        call(sk.client, "checkpoint", { id: "ck" }),
        (e) => BerthError.is(e, Code.Unimplemented),
      );
      await assert.rejects(
        call(sk.client, "create", { id: "ck", terminal: true }),
        (e) => BerthError.is(e, Code.AlreadyExists),
      );
      await call(sk.client, "kill", { id: "ck", signal: 9 });
      const waited = await call(sk.client, "wait", { id: "ck" });
      assert.equal(waited.exitStatus, 137);
      await assert.rejects(
        call(sk.client, "kill", { id: "ck", signal: 9 }),
        (e) => BerthError.is(e, Code.NotFound),
      );
      assert.equal(
        (await call(sk.client, "delete", { id: "ck" })).exitStatus,
        137,
      );
      const list = await run("runc", [
        "--root",
        join(runcRoot, NS),
        "list",
        "-q",
      ]);
      assert.equal(list.stdout.trim(), "");
    } finally {
      for (const [i, id] of ["c7", "ck"].entries()) {
        await cleanup(shims[i], runcRoot, id);
      }
      await removeNamespaceCgroups([NS]);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
