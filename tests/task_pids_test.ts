/**
 * `Tasks.ListPids` tells an exec'd process by its exec id, as containerd's
 * shim does: `ctr tasks ps` prints the same INFO column for both.
 */
import assert from "node:assert/strict";
import { BUSYBOX as IMAGE, ctrExec, withBusybox } from "./_containers.ts";

Deno.test("ctr tasks ps shows an exec'd process's exec id, as containerd", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    const exec = await ctrExec(daemon, [
      "-d",
      "--exec-id",
      "ex1",
      "box",
      "sleep",
      "300",
    ]);
    assert.equal(exec.code, 0, exec.stderr);
    const ps = await daemon.ctr(["tasks", "ps", "box"]);
    assert.equal(ps.code, 0, ps.stderr);
    const info = ps.stdout.trim().split("\n").slice(1).map((line) =>
      line.trim().split(/\s+/)[1]
    ).sort();
    assert.deepEqual(info, [
      "&ProcessDetails{ExecID:ex1,XXX_unrecognized:[],}",
      "-",
    ]);
  });
});
