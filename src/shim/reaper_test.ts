import assert from "node:assert/strict";
import { isChildSubreaper, setChildSubreaper } from "../sys/proc.ts";
import {
  beginLaunch,
  reapOrphans,
  spawnCommand,
  waitForExit,
} from "./reaper.ts";
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
 * An orphan (re-parented to us) killed by SIGKILL; returns once it has
 * exited, before it is reaped.
 */
async function killedOrphan(): Promise<number> {
  const pid = await orphan("sleep 30");
  Deno.kill(pid, "SIGKILL");
  while (!isZombie(pid)) { /* microseconds */ }
  return pid;
}

/** Reaps the exited orphans at once, as on a SIGCHLD. */
function reapNow(): void {
  reapOrphans()();
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
      using launching = beginLaunch();
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
      // Reaped once the command was collected, kept for the launch.
      assert.equal((await launching.waitForExit(left)).status, 137);
    });
    assert.equal(armed, 0);
  } finally {
    stop();
    setChildSubreaper(false);
  }
});

Deno.test("waitForExit: an exit reaped with nobody waiting is not handed to a later waiter of its pid (pid reuse)", async () => {
  setChildSubreaper();
  let stop = () => {};
  try {
    const orphaned = await killedOrphan();
    // Reaped while nothing was launching: a true orphan's exit.
    stop = reapOrphans();
    assert.throws(() => Deno.readTextFileSync(`/proc/${orphaned}/stat`));
    // A later process given the same pid is not reported killed: a
    // pid that is not (or no longer) our child reports 255.
    await serving(async () => {
      assert.equal((await waitForExit(orphaned)).status, 255);
    });
  } finally {
    stop();
    setChildSubreaper(false);
  }
});

Deno.test("beginLaunch: an exit reaped during a launch is told to it, never to a launch begun after it", async () => {
  setChildSubreaper();
  try {
    const first = beginLaunch();
    // As runc exec's process: it exits, and is reaped, before its pid is
    // read from the pid file.
    const early = await killedOrphan();
    reapNow();
    const second = beginLaunch();
    // A process of the second launch given the same pid is still running:
    // the exit reaped before it began is not its own.
    assert.equal((await second.waitForExit(early)).status, 255);
    assert.equal((await first.waitForExit(early)).status, 137);
    second[Symbol.dispose]();
    first[Symbol.dispose]();
  } finally {
    setChildSubreaper(false);
  }
});

Deno.test("beginLaunch: an exit reaped while nothing launched is dropped", async () => {
  setChildSubreaper();
  try {
    const orphaned = await killedOrphan();
    reapNow();
    using launching = beginLaunch();
    assert.equal((await launching.waitForExit(orphaned)).status, 255);
  } finally {
    setChildSubreaper(false);
  }
});

Deno.test("beginLaunch: a launch's exit is kept however many orphans exit before its pid is read", async () => {
  setChildSubreaper();
  try {
    using launching = beginLaunch();
    const exec = await killedOrphan();
    reapNow();
    // Past the 1024 exits once kept, whose cap dropped the oldest: the
    // launch's own (it was then told 255).
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        "for i in $(seq 1100); do sleep 30 >/dev/null 2>&1 & echo $!; done",
      ],
      stdout: "piped",
    }).output();
    const others = new TextDecoder().decode(out.stdout).trim().split("\n")
      .map(Number);
    for (const pid of others) Deno.kill(pid, "SIGKILL");
    while (!others.every(isZombie)) { /* microseconds */ }
    reapNow();
    assert.equal((await launching.waitForExit(exec)).status, 137);
  } finally {
    setChildSubreaper(false);
  }
});
