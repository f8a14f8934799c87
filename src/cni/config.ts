/**
 * CNI network configurations: `.conflist` files, and single-plugin `.conf`
 * / `.json` files wrapped as a one-plugin list, loaded from a directory in
 * file-name order (the first file naming a network wins, as in libcni).
 *
 * @module
 */
import * as fs from "node:fs";
import { join } from "node:path";

/** One plugin's configuration in a chain. */
export interface PluginConfig {
  /** The plugin binary's name. */
  type: string;
  /** Capabilities it declares (`portMappings: true`). */
  capabilities?: Record<string, boolean>;
  /** Everything else, passed through. */
  [key: string]: unknown;
}

/** A network: a named chain of plugins. */
export interface NetworkConfig {
  /** The network's name. */
  name: string;
  /** The spec version the chain speaks. */
  cniVersion: string;
  /** The chain, in ADD order. */
  plugins: PluginConfig[];
  /** The file it came from. */
  source: string;
  /** The list as JSON (what the result cache keeps). */
  bytes: string;
}

/** A file of the directory that is not a valid network configuration. */
export interface ConfigFileError {
  /** The file. */
  source: string;
  /** Why. */
  message: string;
}

/** What a directory holds. */
export interface LoadedConfigs {
  /** Valid networks, by file-name order, names unique. */
  networks: NetworkConfig[];
  /** Files that failed to parse or validate. */
  errors: ConfigFileError[];
}

const EXTENSIONS = [".conflist", ".conf", ".json"];

/**
 * Parses one file's text as a network configuration.
 *
 * @throws {Error} naming what is wrong.
 */
export function parseNetworkConfig(
  text: string,
  source: string,
): NetworkConfig {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("not a JSON object");
  }
  let list: Record<string, unknown>;
  if (source.endsWith(".conflist")) {
    list = raw;
  } else {
    if (Array.isArray(raw.plugins)) {
      throw new Error(
        "a .conf file holds one plugin; use .conflist for a chain",
      );
    }
    const { name, cniVersion, ...plugin } = raw;
    list = { name, cniVersion, plugins: [plugin] };
  }
  if (typeof list.name !== "string" || list.name === "") {
    throw new Error('missing "name"');
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(list.name)) {
    throw new Error(`invalid network name ${JSON.stringify(list.name)}`);
  }
  if (typeof list.cniVersion !== "string" || list.cniVersion === "") {
    throw new Error('missing "cniVersion"');
  }
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new Error('"plugins" must be a non-empty list');
  }
  for (const [i, plugin] of list.plugins.entries()) {
    if (typeof plugin?.type !== "string" || !/^[\w.-]+$/.test(plugin.type)) {
      throw new Error(`plugin ${i}: missing or invalid "type"`);
    }
  }
  return {
    name: list.name,
    cniVersion: list.cniVersion,
    plugins: list.plugins as PluginConfig[],
    source,
    bytes: JSON.stringify(list),
  };
}

/** Loads every network configuration in `dir` (missing dir: none). */
export function loadNetworkConfigs(dir: string): LoadedConfigs {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((name) =>
      EXTENSIONS.some((ext) => name.endsWith(ext))
    ).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      return { networks: [], errors: [] };
    }
    throw err;
  }
  const networks: NetworkConfig[] = [];
  const errors: ConfigFileError[] = [];
  for (const name of names) {
    const source = join(dir, name);
    try {
      const network = parseNetworkConfig(
        fs.readFileSync(source, "utf8"),
        source,
      );
      if (!networks.some((n) => n.name === network.name)) {
        networks.push(network);
      }
    } catch (err) {
      errors.push({ source, message: (err as Error).message });
    }
  }
  return { networks, errors };
}

/** The capabilities the chain declares, sorted. */
export function capabilitiesOf(network: NetworkConfig): string[] {
  const names = new Set<string>();
  for (const plugin of network.plugins) {
    for (const [name, on] of Object.entries(plugin.capabilities ?? {})) {
      if (on) names.add(name);
    }
  }
  return [...names].sort();
}
