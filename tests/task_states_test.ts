/**
 * What a task refuses in each state of its processes, worded and coded as
 * containerd's shim does (messages from containerd 1.6, checked with the
 * real `ctr` against it): a pause of a paused task, a resume of a running
 * one, an exec in a paused or stopped one, an update of a stopped one, a
 * start or delete of a running process — refused before runc is asked, so
 * nothing half-made is left; and an exec id that is invalid or unknown.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Client, ClientError, Code } from "../src/client/mod.ts";
import {
  BUSYBOX as IMAGE,
  ctrExec,
  settles,
  withBusybox,
} from "./_containers.ts";

/** The message of the Unknown error `call` fails with. */
async function refusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(() => undefined, (e) => e);
  // The library's typed errors carry the gRPC code and message.
  assert.ok(err instanceof ClientError, "refused");
  assert.equal(err.code, Code.Unknown, err.message);
  return err.message;
}

Deno.test("tasks refuse what containerd refuses in each state, in its words", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    const ctr = async (args: string[]) => {
      const r = await daemon.ctr(args);
      return r.code === 0 ? "ok" : r.stderr.trim();
    };
    const exec = async (id: string, ...args: string[]) => {
      const sleeper = args.length ? ["sleep", "600"] : ["true"];
      const r = await ctrExec(daemon, [
        ...args,
        "--exec-id",
        id,
        "box",
        ...sleeper,
      ]);
      return r.code === 0 ? "ok" : r.stderr.trim();
    };
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const box = { containerId: "box" };

    assert.equal(
      await ctr(["tasks", "resume", "box"]),
      "ctr: cannot resume a running process: unknown",
    );
    // Exec ids are checked, and looked up, in containerd's words too.
    assert.equal(
      await exec("bad id"),
      'ctr: invalid exec id bad id: identifier "bad id" must match ' +
        "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument",
    );
    assert.equal(
      await ctr(["tasks", "kill", "--exec-id", "nope", "box"]),
      "ctr: process does not exist nope: not found",
    );
    assert.equal(
      await refusal(tasks.start(box)),
      "cannot start a running process: unknown",
    );
    assert.equal(
      await refusal(tasks.delete(box)),
      "cannot delete a running process: unknown",
    );
    assert.equal(await exec("long", "-d"), "ok");
    const long = { ...box, execId: "long" };
    assert.equal(
      await refusal(tasks.start(long)),
      "cannot start a running process: unknown",
    );
    assert.equal(
      await refusal(tasks.deleteProcess(long)),
      "cannot delete a running process: unknown",
    );

    assert.equal(await ctr(["tasks", "pause", "box"]), "ok");
    assert.equal(
      await ctr(["tasks", "pause", "box"]),
      "ctr: cannot pause a paused container: unknown",
    );
    // Refused at Exec, not first accepted and then failed by runc.
    assert.equal(
      await exec("in-paused"),
      "ctr: cannot exec in a paused state: unknown",
    );
    assert.equal(
      await refusal(tasks.delete(box)),
      "cannot delete a paused process: unknown",
    );
    assert.equal(await ctr(["tasks", "resume", "box"]), "ok");
    assert.equal(await exec("in-running"), "ok");

    assert.equal(await ctr(["tasks", "kill", "-s", "SIGKILL", "box"]), "ok");
    const running = await settles(async () =>
      (await daemon.ctr(["tasks", "ls"])).stdout.includes("STOPPED")
        ? []
        : ["box still running"]
    );
    assert.deepEqual(running, []);
    assert.equal(
      await ctr(["tasks", "pause", "box"]),
      "ctr: cannot pause a stopped container: unknown",
    );
    assert.equal(
      await ctr(["tasks", "resume", "box"]),
      "ctr: cannot resume a stopped container: unknown",
    );
    assert.equal(
      await exec("in-stopped"),
      "ctr: cannot exec in a stopped state: unknown",
    );
    assert.equal(
      await refusal(tasks.start(box)),
      "cannot start a stopped process: unknown",
    );
    const resources = create(AnySchema, {
      typeUrl:
        "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
      value: new TextEncoder().encode("{}"),
    });
    assert.equal(
      await refusal(tasks.update({ ...box, resources })),
      "cannot update a stopped container: unknown",
    );
    assert.equal(await ctr(["tasks", "rm", "box"]), "ok");
    // A task call for a container that does not exist names the container.
    const missing = await tasks.get({ containerId: "nope" }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(missing instanceof ClientError);
    assert.equal(missing.code, Code.NotFound);
    assert.equal(
      missing.message,
      `container "nope" in namespace "${daemon.namespace}": not found`,
    );
    // (ctr also logs the error before printing it.)
    assert.equal(
      (await ctr(["tasks", "rm", "box"])).split("\n").at(-1),
      "ctr: no running task found: task box not found: not found",
    );
  });
});
