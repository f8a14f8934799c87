import assert from "node:assert/strict";
import { startDaemon } from "../../tests/_harness.ts";

Deno.test("leases create, ls and rm print like ctr", async () => {
  await using daemon = await startDaemon();
  const created = await daemon.berth([
    "leases",
    "create",
    "--id",
    "l1",
    "a=b",
    "c",
  ]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, "l1\n");
  const plain = await daemon.berth([
    "leases",
    "create",
    "--id",
    "l2",
    "-x",
    "0",
  ]);
  assert.equal(plain.stdout, "l2\n");
  assert.equal(
    (await daemon.ctr(["leases", "create", "--id", "l3", "--expires", "1h"]))
      .code,
    0,
  );

  const ls = await daemon.berth(["leases", "ls"]);
  const ctrLs = await daemon.ctr(["leases", "ls"]);
  assert.equal(ls.stdout, ctrLs.stdout);
  const lines = ls.stdout.split("\n");
  assert.match(lines[0], /^ID CREATED AT +LABELS +$/);
  // The default expiry is a day away, written as ctr writes it.
  const expire = lines[1].match(/containerd\.io\/gc\.expire=(\S+)/)![1];
  const inADay = new Date(expire).getTime() - Date.now();
  assert.ok(inADay > 23.9 * 3600_000 && inADay <= 24 * 3600_000, expire);
  assert.match(lines[1], /^l1 +\S+ +a=b,c=,containerd\.io\/gc\.expire=/);
  assert.match(lines[2], /^l2 +\S+ +- +$/);

  assert.equal(
    (await daemon.berth(["leases", "ls", "-q"])).stdout,
    "l1\nl2\nl3\n",
  );
  const json = JSON.parse(
    (await daemon.berth(["leases", "ls", "--json"])).stdout,
  );
  assert.deepEqual(json[1].labels, {});
  assert.equal(json[1].id, "l2");
  assert.equal(
    (await daemon.berth(["leases", "ls", "id==l2"])).stdout.split("\n").length,
    3,
  );

  const rm = await daemon.berth(["leases", "rm", "--sync", "l1", "l2"]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, "l1\nl2\n");
  const missing = await daemon.berth(["leases", "rm", "l1"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found/);
  assert.equal((await daemon.berth(["leases", "ls", "-q"])).stdout, "l3\n");
});
