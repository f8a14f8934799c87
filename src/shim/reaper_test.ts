import assert from "node:assert/strict";
import { isChildSubreaper, setChildSubreaper } from "../sys/proc.ts";
import { waitForExit } from "./reaper.ts";

/** Starts `script` in sh, which prints a background pid and exits. */
async function orphan(script: string): Promise<number> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `${script} >/dev/null 2>&1 & echo $!`],
    stdout: "piped",
  }).output();
  return parseInt(new TextDecoder().decode(out.stdout), 10);
}

Deno.test("waitForExit: reaps orphans re-parented to the subreaper", async () => {
  setChildSubreaper();
  try {
    assert.ok(isChildSubreaper());
    const ok = await orphan("sleep 0.1");
    const seven = await orphan("(sleep 0.1; exit 7)");
    const killed = await orphan("sleep 30");
    Deno.kill(killed, "SIGKILL");
    assert.equal((await waitForExit(ok, 10)).status, 0);
    assert.equal((await waitForExit(seven, 10)).status, 7);
    assert.equal((await waitForExit(killed, 10)).status, 137);
  } finally {
    // Later tests in this process must not collect orphans.
    setChildSubreaper(false);
  }
});

Deno.test("waitForExit: a pid that is not our child reports 255", async () => {
  assert.equal((await waitForExit(1)).status, 255);
});
