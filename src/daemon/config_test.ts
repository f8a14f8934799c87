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
