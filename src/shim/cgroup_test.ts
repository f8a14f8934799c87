import assert from "node:assert/strict";
import { dirname, join } from "../types/path.ts";
import { cgroupDirOf, joinCgroup, primeMigration } from "./cgroup.ts";

const ownCgroups = () => Deno.readTextFileSync("/proc/self/cgroup");

Deno.test("a prime moves this process into the cgroup it is in", async () => {
  const before = ownCgroups();
  assert.equal(await primeMigration(), true, "the move was made");
  assert.equal(ownCgroups(), before);
});

Deno.test("a prime writes this process's pid to its own cgroup.procs", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = cgroupDirOf(Deno.pid, "freezer", root)!;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "cgroup.procs"), "");
    assert.equal(await primeMigration(root), true);
    assert.equal(
      await Deno.readTextFile(join(dir, "cgroup.procs")),
      `${Deno.pid}\n`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a prime without the hierarchy does nothing and creates nothing", async () => {
  const root = await Deno.makeTempDir();
  try {
    assert.equal(await primeMigration(root), false);
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a prime asked for during a join is made after it", async () => {
  // v1-shaped: one hierarchy, the shim's cgroup `/shims/a` in it. The join's
  // write waits on a FIFO until the test reads it: a prime that did not wait
  // for the join would have written its file by then.
  const root = await Deno.makeTempDir();
  try {
    const target = join(root, "freezer", "shims", "a");
    await Deno.mkdir(target, { recursive: true });
    const joinProcs = join(target, "cgroup.procs");
    assert.ok(
      (await new Deno.Command("mkfifo", { args: [joinProcs] }).output())
        .success,
    );
    const primeProcs = join(
      cgroupDirOf(Deno.pid, "freezer", root)!,
      "cgroup.procs",
    );
    await Deno.mkdir(dirname(primeProcs), { recursive: true });
    await Deno.writeTextFile(primeProcs, "");
    const order: string[] = [];
    const joined = joinCgroup("/shims/a", Deno.pid, root).then(() =>
      order.push("join")
    );
    const primed = primeMigration(root).then(() => order.push("prime"));
    // The prime is queued behind the join: nothing of it is written while
    // the join waits (the join cannot finish before this read).
    assert.equal(await Deno.readTextFile(joinProcs), `${Deno.pid}\n`);
    await Promise.all([joined, primed]);
    assert.deepEqual(order, ["join", "prime"]);
    assert.equal(await Deno.readTextFile(primeProcs), `${Deno.pid}\n`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("primes asked for while one is under way are that one", async () => {
  // The prime's cgroup.procs is a FIFO: its write waits for the test's read.
  const root = await Deno.makeTempDir();
  try {
    const procs = join(cgroupDirOf(Deno.pid, "freezer", root)!, "cgroup.procs");
    await Deno.mkdir(dirname(procs), { recursive: true });
    assert.ok(
      (await new Deno.Command("mkfifo", { args: [procs] }).output()).success,
    );
    const first = primeMigration(root);
    await new Promise((resolve) => setTimeout(resolve, 0)); // it has begun
    const second = primeMigration(root);
    assert.strictEqual(second, first);
    assert.equal(await Deno.readTextFile(procs), `${Deno.pid}\n`);
    assert.equal(await first, true);
    // Done: the next is another move (it waits for a reader again).
    const third = primeMigration(root);
    assert.notStrictEqual(third, first);
    assert.equal(await Deno.readTextFile(procs), `${Deno.pid}\n`);
    assert.equal(await third, true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
