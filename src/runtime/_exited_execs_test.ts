import assert from "node:assert/strict";
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import { ExitedExecs } from "./_exited_execs.ts";

const STDIO = {
  stdin: "",
  stdout: "/f/out",
  stderr: "/f/err",
  terminal: false,
};
const AT = { seconds: 5n, nanos: 6 } as const;

Deno.test("an exec is answered for only once it started and its exit was told, and until it is forgotten", () => {
  const execs = new ExitedExecs();
  assert.equal(execs.state("/b", "e1"), undefined);
  execs.added("e1", STDIO);
  assert.equal(execs.state("/b", "e1"), undefined);
  // A wait on a process that never started says nothing of it.
  execs.exited("e1", { exitStatus: 0 });
  assert.equal(execs.state("/b", "e1"), undefined);
  execs.started("e1", 42);
  assert.equal(execs.state("/b", "e1"), undefined);
  execs.exited("e1", {
    exitStatus: 3,
    exitedAt: { $typeName: "google.protobuf.Timestamp", ...AT },
  });
  const state = execs.state("/b", "e1");
  assert.deepEqual(
    [
      state?.id,
      state?.execId,
      state?.bundle,
      state?.pid,
      state?.status,
      state?.stdin,
      state?.stdout,
      state?.stderr,
      state?.terminal,
      state?.exitStatus,
      state?.exitedAt?.seconds,
      state?.exitedAt?.nanos,
    ],
    [
      "e1",
      "e1",
      "/b",
      42,
      Status.STOPPED,
      "",
      "/f/out",
      "/f/err",
      false,
      3,
      5n,
      6,
    ],
  );
  assert.equal(execs.state("/b", "e2"), undefined);
  execs.forget("e1");
  assert.equal(execs.state("/b", "e1"), undefined);
  // Added again under the same id: a new process, not yet answered for.
  execs.added("e1", STDIO);
  assert.equal(execs.state("/b", "e1"), undefined);
});
