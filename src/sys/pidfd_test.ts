import assert from "node:assert/strict";
import { ProcessSet } from "./pidfd.ts";

Deno.test("ProcessSet ends once every process it pinned has exited", async () => {
  const a = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const b = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const set = new ProcessSet([a.pid, b.pid]);
  assert.equal(set.size, 2);
  let done = false;
  const ended = set.ended().then((all) => {
    done = true;
    return all;
  });
  a.kill("SIGKILL");
  await a.status;
  assert.ok(!done, "ended before b exited");
  b.kill("SIGKILL");
  await b.status;
  assert.equal(await ended, true);
});

Deno.test("ProcessSet skips processes already gone and stops on abort", async () => {
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const running = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const set = new ProcessSet([gone.pid, running.pid]);
  assert.equal(set.size, 1);
  const abort = new AbortController();
  const ended = set.ended(abort.signal);
  abort.abort();
  assert.equal(await ended, false);
  running.kill("SIGKILL");
  await running.status;
});
