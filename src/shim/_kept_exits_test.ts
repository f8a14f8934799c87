import assert from "node:assert/strict";
import { KeptExits } from "./_kept_exits.ts";

// Pid reuse is simulated: the exits of "pid 42" stand for different
// processes given pid 42 one after the other.

Deno.test("KeptExits: an exit reaped before a launch began is not its process's", () => {
  const exits = new KeptExits<string>();
  const first = exits.begin();
  exits.keep(42, "first process of pid 42");
  const second = exits.begin();
  assert.equal(exits.claim(42, second), undefined);
  assert.equal(exits.claim(42, first), "first process of pid 42");
  assert.equal(exits.claim(42, first), undefined);
});

Deno.test("KeptExits: a later exit of a pid replaces the earlier process's", () => {
  const exits = new KeptExits<string>();
  const launch = exits.begin();
  exits.keep(42, "earlier");
  exits.keep(42, "later");
  assert.equal(exits.claim(42, launch), "later");
  assert.equal(exits.size, 0);
});

Deno.test("KeptExits: nothing is kept while nothing launches", () => {
  const exits = new KeptExits<string>();
  exits.keep(42, "an orphan's");
  assert.equal(exits.size, 0);
  const launch = exits.begin();
  assert.equal(exits.claim(42, launch), undefined);
});

Deno.test("KeptExits: exits older than every launch in progress are dropped as launches end", () => {
  const exits = new KeptExits<string>();
  const first = exits.begin();
  exits.keep(1, "during first only");
  const second = exits.begin();
  exits.keep(2, "during both");
  exits.end(first);
  assert.equal(exits.size, 1);
  assert.equal(exits.claim(2, second), "during both");
  exits.keep(3, "during second");
  exits.end(second);
  assert.equal(exits.size, 0);
});

Deno.test("KeptExits: a launch's exit is kept however many orphans exit after it", () => {
  const exits = new KeptExits<string>();
  const launch = exits.begin();
  exits.keep(42, "the launch's process");
  // Far past the old cap of 1024, which evicted the oldest exit first.
  for (let pid = 1000; pid < 6000; pid++) exits.keep(pid, "an orphan's");
  assert.equal(exits.claim(42, launch), "the launch's process");
  exits.end(launch);
  assert.equal(exits.size, 0);
});
