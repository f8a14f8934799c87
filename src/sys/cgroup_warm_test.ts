import assert from "node:assert/strict";
import { warmCgroupAttach } from "./cgroup_warm.ts";

Deno.test("warmCgroupAttach moves no process, and calls while one is under way share it", async () => {
  const before = Deno.readTextFileSync("/proc/self/cgroup");
  const first = warmCgroupAttach();
  assert.equal(warmCgroupAttach(), first);
  await first;
  assert.equal(Deno.readTextFileSync("/proc/self/cgroup"), before);
  // Done: the next call is a new warm-up.
  const next = warmCgroupAttach();
  assert.notEqual(next, first);
  await next;
  assert.equal(Deno.readTextFileSync("/proc/self/cgroup"), before);
});
