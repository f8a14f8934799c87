import assert from "node:assert/strict";
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import { initRefusal } from "./init_state.ts";

Deno.test("init states refuse as containerd's shim does", () => {
  assert.equal(
    initRefusal("pause", Status.PAUSED),
    "cannot pause a paused container",
  );
  assert.equal(
    initRefusal("pause", Status.PAUSING),
    "cannot pause a paused container",
  );
  assert.equal(
    initRefusal("resume", Status.RUNNING),
    "cannot resume a running process",
  );
  assert.equal(
    initRefusal("exec", Status.STOPPED),
    "cannot exec in a stopped state",
  );
  assert.equal(
    initRefusal("update", Status.STOPPED),
    "cannot update a stopped container",
  );
  assert.equal(
    initRefusal("pause", Status.CREATED),
    "cannot pause task in created state",
  );
  assert.equal(
    initRefusal("start", Status.RUNNING),
    "cannot start a running process",
  );
  assert.equal(
    initRefusal("delete", Status.PAUSED),
    "cannot delete a paused process",
  );
});

Deno.test("init states allow what containerd's shim allows", () => {
  assert.equal(initRefusal("pause", Status.RUNNING), undefined);
  assert.equal(initRefusal("resume", Status.PAUSED), undefined);
  assert.equal(initRefusal("exec", Status.CREATED), undefined);
  assert.equal(initRefusal("exec", Status.RUNNING), undefined);
  assert.equal(initRefusal("update", Status.PAUSED), undefined);
  assert.equal(initRefusal("update", Status.UNKNOWN), undefined);
  assert.equal(initRefusal("start", Status.CREATED), undefined);
  assert.equal(initRefusal("delete", Status.STOPPED), undefined);
  assert.equal(initRefusal("delete", Status.CREATED), undefined);
});
