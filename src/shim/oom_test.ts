import assert from "node:assert/strict";
import { countingTimers } from "../sys/_testing.ts";
import { OomWatcher } from "./oom.ts";

/**
 * A memory cgroup of its own, limited to 16 MiB without swap, on whichever
 * hierarchy holds this host's memory controller; removed by `remove`.
 */
function limitedCgroup(): { procs: string; remove: () => void } {
  const name = `berth-oom-test-${Deno.pid}`;
  const v1 = Deno.readTextFileSync("/proc/self/cgroup").split("\n")
    .some((line) => line.split(":")[1]?.split(",").includes("memory"));
  const dir = v1 ? `/sys/fs/cgroup/memory/${name}` : `/sys/fs/cgroup/${name}`;
  Deno.mkdirSync(dir);
  const limit = String(16 << 20);
  const settings = v1
    ? [["memory.limit_in_bytes", limit], ["memory.memsw.limit_in_bytes", limit]]
    : [["memory.max", limit], ["memory.swap.max", "0"]];
  for (const [file, value] of settings) {
    try {
      Deno.writeTextFileSync(`${dir}/${file}`, value);
    } catch (err) {
      // No swap accounting here: the memory limit alone holds.
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return { procs: `${dir}/cgroup.procs`, remove: () => Deno.removeSync(dir) };
}

Deno.test("OomWatcher tells of an OOM kill in the cgroup when it happens, no timer polls", async () => {
  const cgroup = limitedCgroup();
  let watcher: OomWatcher | undefined;
  try {
    // The shell joins the cgroup, says so, and on a line from us becomes a
    // program that outgrows it.
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        `echo $$ > ${cgroup.procs} && echo in && read go && ` +
        `exec python3 -c 'b = bytearray(256 << 20)'`,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.equal((await lines.read()).value, "in\n");
    const killed = Promise.withResolvers<void>();
    let told = 0;
    const armed = await countingTimers(async () => {
      watcher = OomWatcher.start(child.pid, () => {
        told++;
        killed.resolve();
      });
      assert.ok(watcher, "the cgroup's OOM counter is readable");
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
      await killed.promise;
      assert.equal((await child.status).signal, "SIGKILL");
    });
    await lines.cancel();
    assert.equal(told, 1);
    assert.equal(armed, 0);
  } finally {
    watcher?.stop();
    cgroup.remove();
  }
});
