import assert from "node:assert/strict";
import { setListenBacklog } from "./backlog.ts";

/** Connects `count` clients at once; resolves with how many were refused. */
async function refusedOf(path: string, count: number): Promise<number> {
  const outcomes = await Promise.allSettled(
    Array.from(
      { length: count },
      () => Deno.connect({ transport: "unix", path }),
    ),
  );
  for (const outcome of outcomes) {
    if (outcome.status === "fulfilled") outcome.value.close();
  }
  return outcomes.filter((o) => o.status === "rejected").length;
}

Deno.test("setListenBacklog: the queue of a Deno listener takes the new backlog", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-backlog-" });
  try {
    // Nothing accepts: the queue alone holds the connections.
    const small = Deno.listen({ transport: "unix", path: `${dir}/small.sock` });
    const large = Deno.listen({ transport: "unix", path: `${dir}/large.sock` });
    try {
      setListenBacklog(`${dir}/small.sock`, 8);
      setListenBacklog(`${dir}/large.sock`, 4096);
      assert.ok(await refusedOf(`${dir}/small.sock`, 100) > 0);
      assert.equal(await refusedOf(`${dir}/large.sock`, 100), 0);
    } finally {
      small.close();
      large.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setListenBacklog: a path this process does not listen on is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-backlog-" });
  try {
    assert.throws(
      () => setListenBacklog(`${dir}/none.sock`, 4096),
      /no socket of this process listens on/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setListenBacklog: a path with spaces in it is found", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth backlog " });
  try {
    const path = `${dir}/a  socket.sock`;
    const listener = Deno.listen({ transport: "unix", path });
    try {
      setListenBacklog(path, 8);
      assert.ok(await refusedOf(path, 100) > 0);
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
