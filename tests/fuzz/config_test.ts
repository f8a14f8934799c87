/** Fuzzing the daemon config (src/daemon/config.ts) and hosts.toml (src/remotes/hosts.ts). */
import fc from "fast-check";
import { stringify } from "smol-toml";
import {
  ConfigError,
  defaultConfig,
  parseConfig,
} from "../../src/daemon/config.ts";
import { parseHostsFile } from "../../src/remotes/hosts.ts";
import { fuzzParameters, parsesOrFailsClearly } from "./_fuzz.ts";

/** Any TOML value, nested a little. */
const tomlValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.array(tie("value"), { maxLength: 3 }),
    tie("table"),
  ),
  table: fc.dictionary(
    fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom(
        "server",
        "host",
        "capabilities",
        "ca",
        "client",
        "skip_verify",
        "header",
        "override_path",
        "grpc",
        "gc",
        "runtimes",
        "registry",
        "network",
      ),
    ),
    tie("value"),
    { maxKeys: 4, noNullPrototype: true },
  ),
})).table;

/** The default config with random settings changed, added or retyped. */
const configText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  tomlValue.map((table) => stringify(table)),
  fc.tuple(
    fc.constantFrom(...Object.keys(defaultConfig())),
    tomlValue,
  ).map(([section, table]) => stringify({ [section]: table })),
);

Deno.test("fuzz: the daemon config parses or fails with a ConfigError", () => {
  fc.assert(
    fc.property(configText, (text) => {
      parsesOrFailsClearly(() => parseConfig(text, "fuzz.toml"), [ConfigError]);
    }),
    fuzzParameters(2000),
  );
});

const hostsText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  tomlValue.map((table) => stringify(table)),
  fc.tuple(
    fc.option(fc.webUrl()),
    fc.dictionary(
      fc.oneof(fc.webUrl(), fc.string({ maxLength: 12 })),
      tomlValue,
      { maxKeys: 3, noNullPrototype: true },
    ),
    tomlValue,
  ).map(([server, hosts, top]) =>
    stringify({ ...top, ...(server ? { server } : {}), host: hosts })
  ),
);

Deno.test("fuzz: hosts.toml parses or fails with InvalidArgument", () => {
  fc.assert(
    fc.property(hostsText, (text) => {
      parsesOrFailsClearly(() =>
        parseHostsFile(text, { baseDir: "/etc/berth/certs.d/example.com" })
      );
    }),
    fuzzParameters(2000),
  );
});
