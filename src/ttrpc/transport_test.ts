import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { Task } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { BerthError, Code } from "../types/errors.ts";
import { TtrpcClient } from "./client.ts";
import { TtrpcServer } from "./server.ts";
import { ttrpcTransport } from "./transport.ts";

Deno.test("a connect client over the ttrpc transport calls, times out and fails typed", async () => {
  const dir = await Deno.makeTempDir();
  const server = new TtrpcServer();
  server.registerService(Task, {
    state: (r) =>
      r.id === "c1"
        ? Promise.resolve({ id: r.id, pid: 42, execId: r.execId })
        : Promise.reject(new BerthError(Code.NotFound, `task ${r.id}`)),
    wait: () => new Promise(() => {}),
  });
  server.listen(`${dir}/s.sock`);
  const connection = await TtrpcClient.connect(`${dir}/s.sock`);
  try {
    const task = createClient(Task, ttrpcTransport(connection));
    const state = await task.state({ id: "c1", execId: "e1" });
    assert.equal(state.pid, 42);
    assert.equal(state.execId, "e1");
    await assert.rejects(
      task.state({ id: "nope" }),
      (e) => BerthError.is(e, Code.NotFound) && /task nope/.test(e.message),
    );
    await assert.rejects(
      task.wait({ id: "c1" }, { timeoutMs: 50 }),
      (e) => BerthError.is(e, Code.DeadlineExceeded),
    );
  } finally {
    await connection.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
