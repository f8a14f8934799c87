import assert from "node:assert/strict";
import {
  ConfigError,
  defaultConfig,
  formatConfig,
  parseConfig,
} from "./config.ts";

Deno.test("parseConfig overlays a subset on the defaults", () => {
  const config = parseConfig('root = "/tmp/r"\n[grpc]\ngid = 5\n');
  assert.equal(config.root, "/tmp/r");
  assert.equal(config.grpc.gid, 5);
  assert.equal(config.grpc.address, defaultConfig().grpc.address);
});

Deno.test("parseConfig names unknown keys and wrong types", () => {
  assert.throws(() => parseConfig("rooot = 1"), /unknown setting rooot/);
  assert.throws(() => parseConfig("[grpc]\ngid = 'x'"), /grpc.gid must be/);
  assert.throws(() => parseConfig("grpc = 1"), /grpc must be a table/);
  assert.throws(() => parseConfig("= broken"), ConfigError);
});

Deno.test("formatConfig round-trips the defaults", () => {
  const text = formatConfig(defaultConfig());
  assert.deepEqual(parseConfig(text), defaultConfig());
  for (const key of ["root", "state", "address", "gid", "level"]) {
    assert.match(text, new RegExp(`^${key} = `, "m"));
  }
});

Deno.test("shim grouping settings: defaults, a runtime's own, and bad values named", () => {
  const runtime = defaultConfig().runtimes["io.containerd.runc.v2"];
  assert.equal(runtime.shim_group, "namespace");
  assert.equal(runtime.shim_max_tasks, 64);
  assert.equal(runtime.shim_linger, "2s");
  const custom = parseConfig(
    '[runtimes.mine]\nshim_group = "container"\nshim_max_tasks = 8\nshim_linger = "0"\n',
  ).runtimes.mine;
  assert.equal(custom.shim_group, "container");
  assert.equal(custom.shim_max_tasks, 8);
  assert.equal(custom.shim_linger, "0");
  const bad = (text: string, message: RegExp) =>
    assert.throws(() => parseConfig(`[runtimes.mine]\n${text}\n`), message);
  bad('shim_group = "pod"', /runtimes\.mine\.shim_group must be one of/);
  bad("shim_max_tasks = 0", /runtimes\.mine\.shim_max_tasks must be/);
  bad("shim_max_tasks = 1.5", /runtimes\.mine\.shim_max_tasks must be/);
  bad('shim_linger = "soon"', /runtimes\.mine\.shim_linger/);
});

Deno.test("parseConfig refuses a download concurrency below 1 or fractional (found by fuzzing)", () => {
  for (const value of ["0", "-1", "0.5"]) {
    assert.throws(
      () => parseConfig(`[registry]\nmax_concurrent_downloads = ${value}\n`),
      /registry\.max_concurrent_downloads must be a whole number from 1/,
    );
  }
  assert.equal(
    parseConfig("[registry]\nmax_concurrent_downloads = 8\n").registry
      .max_concurrent_downloads,
    8,
  );
});
