import assert from "node:assert/strict";
import { join } from "node:path";
import { BerthError, Code, notFound } from "../types/errors.ts";
import { countingTimers } from "../sys/_testing.ts";
import {
  PidsRequestSchema,
  PidsResponseSchema,
  StateRequestSchema,
  StateResponseSchema,
  Task,
} from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { TtrpcClient } from "./client.ts";
import { MESSAGE_LENGTH_MAX } from "./channel.ts";
import {
  type TtrpcCallContext,
  TtrpcServer,
  type TtrpcServiceImpl,
} from "./server.ts";

const TASK = "containerd.task.v2.Task";

async function setup(
  impl: TtrpcServiceImpl<typeof Task> = {},
): Promise<{ server: TtrpcServer; client: TtrpcClient; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ttrpc-" });
  const path = join(dir, "s.sock");
  const server = new TtrpcServer();
  server.registerService(Task, impl);
  server.listen(path);
  const client = await TtrpcClient.connect(path);
  return { server, client, dir };
}

async function teardown(
  s: { server: TtrpcServer; client: TtrpcClient; dir: string },
) {
  await s.client.close();
  await s.server.close();
  await Deno.remove(s.dir, { recursive: true });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("State and Pids round trip with metadata and timeout", async () => {
  let seen: TtrpcCallContext | undefined;
  const s = await setup({
    state: (req, ctx) => {
      seen = ctx;
      return Promise.resolve({ id: req.id, pid: 1234, bundle: "/b" });
    },
    pids: () => Promise.resolve({ processes: [{ pid: 1 }, { pid: 2 }] }),
  });
  try {
    const st = await s.client.call(
      TASK,
      "State",
      StateRequestSchema,
      { id: "c1" },
      StateResponseSchema,
      { metadata: { "containerd-namespace-ttrpc": "ns1" }, timeoutMs: 5000 },
    );
    assert.equal(st.id, "c1");
    assert.equal(st.pid, 1234);
    assert.equal(st.bundle, "/b");
    assert.deepEqual(seen?.metadata, { "containerd-namespace-ttrpc": ["ns1"] });
    assert.equal(seen?.method, "State");
    const pids = await s.client.call(
      TASK,
      "Pids",
      PidsRequestSchema,
      { id: "c1" },
      PidsResponseSchema,
    );
    assert.deepEqual(pids.processes.map((p) => p.pid), [1, 2]);
  } finally {
    await teardown(s);
  }
});

Deno.test("concurrent calls are matched to their replies", async () => {
  const s = await setup({
    state: async (req) => {
      await delay(Number(req.execId)); // later calls answer first
      return { id: req.id };
    },
  });
  try {
    const ids = Array.from({ length: 20 }, (_, i) => i);
    const out = await Promise.all(ids.map((i) =>
      s.client.call(
        TASK,
        "State",
        StateRequestSchema,
        { id: `c${i}`, execId: String(40 - 2 * i) },
        StateResponseSchema,
      )
    ));
    assert.deepEqual(out.map((r) => r.id), ids.map((i) => `c${i}`));
  } finally {
    await teardown(s);
  }
});

Deno.test("errors carry their codes", async () => {
  const s = await setup({
    state: () => Promise.reject(notFound(`container "x"`)),
    pids: () => Promise.reject(new Error("boom")),
  });
  const call = (service: string, method: string) =>
    s.client.call(
      service,
      method,
      StateRequestSchema,
      {},
      StateResponseSchema,
    );
  try {
    await assert.rejects(call(TASK, "State"), (e) => {
      assert.ok(BerthError.is(e, Code.NotFound));
      assert.equal(e.message, `container "x": not found`);
      return true;
    });
    await assert.rejects(call(TASK, "Pids"), (e) => {
      assert.ok(BerthError.is(e, Code.Unknown));
      assert.equal(e.message, "boom");
      return true;
    });
    await assert.rejects(
      call(TASK, "Kill"),
      (e) => BerthError.is(e, Code.Unimplemented) && /Kill/.test(e.message),
    );
    await assert.rejects(
      call("no.Such", "State"),
      (e) => BerthError.is(e, Code.Unimplemented) && /no\.Such/.test(e.message),
    );
  } finally {
    await teardown(s);
  }
});

Deno.test("client deadline fails the call and the server sees its signal", async () => {
  let aborted: Promise<void> | undefined;
  const s = await setup({
    state: (_req, ctx) => {
      aborted = new Promise((r) =>
        ctx.signal.addEventListener("abort", () => r())
      );
      return aborted.then(() => ({}));
    },
  });
  try {
    await assert.rejects(
      s.client.call(
        TASK,
        "State",
        StateRequestSchema,
        {},
        StateResponseSchema,
        {
          timeoutMs: 50,
        },
      ),
      (e) => BerthError.is(e, Code.DeadlineExceeded),
    );
    await aborted;
  } finally {
    await teardown(s);
  }
});

Deno.test("oversized request is refused locally, oversized reply as status", async () => {
  const s = await setup({
    state: () => Promise.resolve({ bundle: "x".repeat(MESSAGE_LENGTH_MAX) }),
    pids: () => Promise.resolve({}),
  });
  try {
    await assert.rejects(
      s.client.call(
        TASK,
        "State",
        StateRequestSchema,
        { id: "x".repeat(MESSAGE_LENGTH_MAX) },
        StateResponseSchema,
      ),
      (e) => BerthError.is(e, Code.ResourceExhausted),
    );
    await assert.rejects(
      s.client.call(TASK, "State", StateRequestSchema, {}, StateResponseSchema),
      (e) => BerthError.is(e, Code.ResourceExhausted),
    );
    // the connection is still usable
    await s.client.call(
      TASK,
      "Pids",
      PidsRequestSchema,
      {},
      PidsResponseSchema,
    );
  } finally {
    await teardown(s);
  }
});

Deno.test("server closing mid-call fails pending calls", async () => {
  let started!: () => void;
  const running = new Promise<void>((r) => started = r);
  const s = await setup({
    state: (_req, ctx) => {
      started();
      return new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => reject(new Error("gone")))
      );
    },
  });
  try {
    const pending = s.client.call(
      TASK,
      "State",
      StateRequestSchema,
      {},
      StateResponseSchema,
    );
    await running;
    await s.server.close();
    await assert.rejects(pending, (e) => BerthError.is(e, Code.Unavailable));
    await assert.rejects(
      s.client.call(TASK, "State", StateRequestSchema, {}, StateResponseSchema),
      (e) => BerthError.is(e, Code.Unavailable),
    );
  } finally {
    await teardown(s);
  }
});

Deno.test("connect to a missing socket is Unavailable", async () => {
  await assert.rejects(
    TtrpcClient.connect("/nonexistent/ttrpc.sock"),
    (e) => BerthError.is(e, Code.Unavailable),
  );
});

Deno.test("calls with a deadline that are answered in time arm one timer between them, not one each", async () => {
  const s = await setup({ state: () => Promise.resolve({ pid: 7 }) });
  try {
    const armed = await countingTimers(async () => {
      for (let i = 0; i < 20; i++) {
        const res = await s.client.call(
          TASK,
          "State",
          StateRequestSchema,
          {},
          StateResponseSchema,
          { timeoutMs: 5_000 },
        );
        assert.equal(res.pid, 7);
      }
    });
    // One for the client's calls, one for the server's.
    assert.equal(armed, 2);
  } finally {
    await teardown(s);
  }
});

Deno.test("a call canceled by its signal fails at once; the next call still works", async () => {
  const s = await setup({
    state: () => new Promise(() => {}),
    pids: () => Promise.resolve({}),
  });
  try {
    const abort = new AbortController();
    const pending = s.client.call(
      TASK,
      "State",
      StateRequestSchema,
      {},
      StateResponseSchema,
      { signal: abort.signal, timeoutMs: 60_000 },
    );
    abort.abort();
    await assert.rejects(pending, (e) => BerthError.is(e, Code.Canceled));
    await s.client.call(
      TASK,
      "Pids",
      PidsRequestSchema,
      {},
      PidsResponseSchema,
    );
  } finally {
    await teardown(s);
  }
});
