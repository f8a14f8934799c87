import assert from "node:assert/strict";
import { isChildSubreaper, setChildSubreaper } from "../sys/proc.ts";
import { reapOrphans, spawnCommand, waitForExit } from "./reaper.ts";
import { countingTimers } from "../sys/_testing.ts";

/** Starts `script` in sh, which prints a background pid and exits. */
async function orphan(script: string): Promise<number> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `${script} >/dev/null 2>&1 & echo $!`],
    stdout: "piped",
  }).output();
  return parseInt(new TextDecoder().decode(out.stdout), 10);
}

/** Whether process `pid` is a zombie (exited, not yet reaped). */
function isZombie(pid: number): boolean {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

/**
 * Runs `fn` with a listener open, as the shim waits for exits while it
 * serves: `deno test` does not count a signal listener as pending work.
 */
async function serving(fn: () => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept().catch(() => {});
  try {
    await fn();
  } finally {
    listener.close();
    await accepting;
  }
}

Deno.test("waitForExit: reaps orphans re-parented to the subreaper", async () => {
  setChildSubreaper();
  try {
    assert.ok(isChildSubreaper());
    const ok = await orphan("sleep 0.1");
    const seven = await orphan("(sleep 0.1; exit 7)");
    const killed = await orphan("sleep 30");
    Deno.kill(killed, "SIGKILL");
    await serving(async () => {
      assert.equal((await waitForExit(ok)).status, 0);
      assert.equal((await waitForExit(seven)).status, 7);
      assert.equal((await waitForExit(killed)).status, 137);
    });
  } finally {
    // Later tests in this process must not collect orphans.
    setChildSubreaper(false);
  }
});

Deno.test("waitForExit: a pid that is not our child reports 255", async () => {
  assert.equal((await waitForExit(1)).status, 255);
});

Deno.test("waitForExit: exits are told on SIGCHLD alone, no timer polls", async () => {
  setChildSubreaper();
  let sleeping;
  try {
    sleeping = await orphan("sleep 30");
  } finally {
    setChildSubreaper(false);
  }
  const armed = await countingTimers(() =>
    serving(async () => {
      const exited = waitForExit(sleeping);
      Deno.kill(sleeping, "SIGKILL");
      assert.equal((await exited).status, 137);
    })
  );
  assert.equal(armed, 0);
});

Deno.test("reapOrphans: an exit behind a command's not yet collected is reaped once it is, with no timer", async () => {
  setChildSubreaper();
  let stop = () => {};
  try {
    const armed = await countingTimers(async () => {
      // The command is the older child: the first one a look finds.
      const command = spawnCommand(
        new Deno.Command("sleep", { args: ["30"], stdout: "null" }),
      );
      const left = await orphan("sleep 30");
      command.kill("SIGKILL");
      Deno.kill(left, "SIGKILL");
      // Both exit before Deno or the reaper can look (no await meanwhile).
      while (!isZombie(command.pid) || !isZombie(left)) { /* microseconds */ }
      stop = reapOrphans();
      assert.equal((await command.status).signal, "SIGKILL");
      // Reaped once the command was collected, kept for a late waiter.
      assert.equal((await waitForExit(left)).status, 137);
    });
    assert.equal(armed, 0);
  } finally {
    stop();
    setChildSubreaper(false);
  }
});
