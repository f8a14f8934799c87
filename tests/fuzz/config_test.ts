/** Fuzzing the daemon config (src/daemon/config.ts) and hosts.toml (src/remotes/hosts.ts). */
import fc from "fast-check";
import { stringify } from "smol-toml";
import {
  ConfigError,
  defaultConfig,
  parseConfig,
} from "../../src/daemon/config.ts";
import { parseHostsFile } from "../../src/remotes/hosts.ts";
import { parseDuration } from "../../src/types/mod.ts";
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

/** Values a setting may be given: right, wrong type, out of range. */
const settingValue = fc.oneof(
  fc.constantFrom("", "1s", "-1s", "1.5h", "0", "2", "abc", "namespace", "pod"),
  fc.integer({ min: -2, max: 70 }),
  fc.constantFrom(0, -1, 0.5, 1e20, 16777216),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }),
);

/** The default config with some of its own settings changed. */
const editedConfig = fc.array(
  fc.tuple(
    fc.constantFrom(
      ...leafPaths(defaultConfig() as unknown as Record<string, unknown>),
      "runtimes.custom.shim_linger",
      "runtimes.custom.shim_max_tasks",
    ),
    settingValue,
  ),
  { minLength: 1, maxLength: 4 },
).map((edits) => {
  const config: Record<string, unknown> = {};
  for (const [path, value] of edits) {
    const keys = path.split(".");
    let table = config;
    for (const key of keys.slice(0, -1)) {
      table = (table[key] ??= {}) as Record<string, unknown>;
    }
    table[keys.at(-1)!] = value;
  }
  return stringify(config);
});

/** Dotted paths of every setting (a runtime's name is one key). */
function leafPaths(table: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(table).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    if (key.includes(".")) {
      return leafPaths(value as Record<string, unknown>, prefix);
    }
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? leafPaths(value as Record<string, unknown>, path)
      : [path];
  });
}

Deno.test("fuzz: the daemon config parses or fails with a ConfigError", () => {
  fc.assert(
    fc.property(fc.oneof(configText, editedConfig), (text) => {
      const config = parsesOrFailsClearly(
        () => parseConfig(text, "fuzz.toml"),
        [ConfigError],
      );
      if (!config) return;
      // What the daemon derives at start from an accepted config holds.
      for (const runtime of Object.values(config.runtimes)) {
        parseDuration(runtime.shim_linger);
      }
      const downloads = config.registry.max_concurrent_downloads;
      if (!Number.isSafeInteger(downloads) || downloads < 1) {
        throw new Error(`accepted max_concurrent_downloads ${downloads}`);
      }
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
