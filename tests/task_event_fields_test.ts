/**
 * Task events carry the fields containerd 1.6's carry, no more and no fewer
 * (as `ctr events` prints them with containerd: captured from a real one
 * running the same steps). A `/tasks/delete` names no process id.
 */
import assert from "node:assert/strict";
import { watchEvents } from "./_harness.ts";
import { BUSYBOX as IMAGE, ctrExec, withBusybox } from "./_containers.ts";

/** The JSON keys of each task event, as containerd publishes them. */
const CONTAINERD_FIELDS: Record<string, string[]> = {
  "/tasks/create": ["bundle", "container_id", "io", "pid", "rootfs"],
  "/tasks/start": ["container_id", "pid"],
  "/tasks/exec-added": ["container_id", "exec_id"],
  "/tasks/exec-started": ["container_id", "exec_id", "pid"],
  "/tasks/exit": ["container_id", "exit_status", "exited_at", "id", "pid"],
  "/tasks/paused": ["container_id"],
  "/tasks/resumed": ["container_id"],
  "/tasks/delete": ["container_id", "exit_status", "exited_at", "pid"],
};

Deno.test("task events carry containerd's fields", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await using events = await watchEvents(daemon.address);
    const started = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    const exec = await ctrExec(daemon, ["--exec-id", "x", "box", "false"]);
    assert.equal(exec.code, 1, exec.stderr);
    for (const step of [["pause"], ["resume"], ["kill", "-s", "SIGKILL"]]) {
      const r = await daemon.ctr(["tasks", ...step, "box"]);
      assert.equal(r.code, 0, r.stderr);
    }
    await events.waitFor(/\/tasks\/exit [^\n]*"exit_status":137/);
    const rm = await daemon.ctr(["tasks", "rm", "box"]);
    assert.equal(rm.code, 0, rm.stderr);
    await events.waitFor(/\/tasks\/delete /);
    const seen: Record<string, string[]> = {};
    for (
      const [, topic, json] of events.text.matchAll(/ (\/tasks\/\S+) (.*)/g)
    ) {
      seen[topic] = Object.keys(JSON.parse(json)).sort();
    }
    assert.deepEqual(seen, CONTAINERD_FIELDS);
  });
});
