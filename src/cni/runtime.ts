/**
 * The runtime side of CNI 1.0 (libcni's job): networks from the conf dir,
 * plugin chains run for ADD, CHECK and DEL with each plugin's result handed
 * to the next as `prevResult`, `runtimeConfig` given only for capabilities
 * the plugin declares, and a result cache on disk so that DEL and CHECK get
 * the configuration and result ADD used even when the conf dir changed.
 *
 * An ADD that fails part-way runs DEL over the whole chain (every plugin's
 * DEL must tolerate what it never added), so a failed ADD leaves no veth,
 * lease or rule behind.
 *
 * @module
 */
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import {
  loadNetworkConfigs,
  type NetworkConfig,
  parseNetworkConfig,
  type PluginConfig,
} from "./config.ts";
import {
  defaultNetworkConflist,
  type DefaultNetworkOptions,
} from "./default_network.ts";
import { execPlugin, findPlugin, PluginError } from "./exec.ts";

/** Options for {@linkcode CniRuntime}. */
export interface CniRuntimeOptions {
  /** Where network configurations are read from. */
  confDir: string;
  /** Where plugins are looked for, in order. */
  binDirs: readonly string[];
  /** Where results are cached. */
  cacheDir: string;
  /** A plugin call's limit. */
  timeoutMs: number;
  /** The network written when the conf dir holds none. */
  defaultNetwork: DefaultNetworkOptions;
}

/** What one attachment passes to the chain. */
export interface RuntimeArgs {
  /** CNI_CONTAINERID. */
  containerId: string;
  /** CNI_NETNS. */
  netns: string;
  /** CNI_IFNAME. */
  ifname: string;
  /** CNI_ARGS pairs. */
  args?: Record<string, string>;
  /** runtimeConfig values by capability (`portMappings`). */
  capabilityArgs?: Record<string, unknown>;
}

/** A CNI result (the spec's JSON). */
export interface CniResult {
  /** The result's version. */
  cniVersion?: string;
  /** Interfaces the chain made. */
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  /** Addresses. */
  ips?: { address: string; gateway?: string; interface?: number }[];
  /** Routes. */
  routes?: { dst: string; gw?: string }[];
  /** DNS. */
  dns?: {
    nameservers?: string[];
    domain?: string;
    search?: string[];
    options?: string[];
  };
}

interface CacheEntry {
  kind: "cniCacheV1";
  networkName: string;
  containerId: string;
  ifName: string;
  netns: string;
  config: string;
  cniArgs?: Record<string, string>;
  capabilityArgs?: Record<string, unknown>;
  result?: CniResult;
}

/**
 * `rt` with the CNI_ARGS and capability arguments its ADD ran with, as
 * cached: DEL and CHECK get what ADD got, as libcni gives them.
 */
function asAdded(rt: RuntimeArgs, entry: CacheEntry | undefined): RuntimeArgs {
  return {
    ...rt,
    args: entry?.cniArgs ?? rt.args,
    capabilityArgs: entry?.capabilityArgs ?? rt.capabilityArgs,
  };
}

/** A network that does not exist, or whose file is broken. */
export class NetworkNotFoundError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NetworkNotFoundError";
  }
}

/** Runs CNI plugin chains. */
export class CniRuntime {
  readonly #options: CniRuntimeOptions;
  readonly #versions = new Map<string, string[]>();

  /** Creates the runtime. */
  constructor(options: CniRuntimeOptions) {
    this.#options = options;
  }

  /** The plugin directories. */
  get binDirs(): readonly string[] {
    return this.#options.binDirs;
  }

  /**
   * Writes the default network's conflist when the conf dir holds no
   * configuration file at all (never over a user's files).
   */
  ensureDefaultNetwork(): void {
    const { confDir, defaultNetwork } = this.#options;
    const { networks, errors } = loadNetworkConfigs(confDir);
    if (networks.length > 0 || errors.length > 0) return;
    fs.mkdirSync(confDir, { recursive: true, mode: 0o755 });
    const path = join(confDir, `10-${defaultNetwork.name}.conflist`);
    const temp = `${path}.tmp-${Deno.pid}`;
    fs.writeFileSync(temp, defaultNetworkConflist(defaultNetwork));
    fs.renameSync(temp, path);
  }

  /** Every valid network, and the files that are not. */
  networks(): ReturnType<typeof loadNetworkConfigs> {
    this.ensureDefaultNetwork();
    return loadNetworkConfigs(this.#options.confDir);
  }

  /**
   * Network `name`.
   *
   * @throws {NetworkNotFoundError} naming broken files when there are any.
   */
  network(name: string): NetworkConfig {
    const { networks, errors } = this.networks();
    const found = networks.find((n) => n.name === name);
    if (found) return found;
    const broken = errors.map((e) => `${e.source}: ${e.message}`);
    throw new NetworkNotFoundError(
      `network ${JSON.stringify(name)} not found in ${this.#options.confDir}${
        broken.length ? ` (invalid files: ${broken.join("; ")})` : ""
      }`,
    );
  }

  /**
   * Checks that every plugin of the chain is installed and speaks the
   * chain's version (asked once per binary with VERSION).
   *
   * @throws {PluginNotFoundError | PluginError}
   */
  async preflight(network: NetworkConfig): Promise<void> {
    for (const plugin of network.plugins) {
      const path = findPlugin(plugin.type, this.#options.binDirs);
      const versions = await this.pluginVersions(path);
      if (!versions.includes(network.cniVersion)) {
        throw new PluginError(
          plugin.type,
          "VERSION",
          1,
          `does not support CNI version ${network.cniVersion} (supports ${
            versions.join(", ")
          })`,
        );
      }
    }
  }

  /** The spec versions the plugin at `path` supports (its VERSION answer). */
  async pluginVersions(path: string): Promise<string[]> {
    const known = this.#versions.get(path);
    if (known) return known;
    const answer = await execPlugin({
      path,
      binDirs: this.#options.binDirs,
      args: { command: "VERSION" },
      config: { cniVersion: "1.0.0" },
      timeoutMs: this.#options.timeoutMs,
    }) as { supportedVersions?: string[] } | undefined;
    const versions = answer?.supportedVersions ?? [];
    this.#versions.set(path, versions);
    return versions;
  }

  #cachePath(network: string, rt: RuntimeArgs): string {
    return join(
      this.#options.cacheDir,
      "results",
      `${network}-${rt.containerId}-${rt.ifname}`,
    );
  }

  #writeCache(path: string, entry: CacheEntry): void {
    fs.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temp = `${path}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(entry), { mode: 0o600 });
    fs.renameSync(temp, path);
  }

  #readCache(path: string): CacheEntry | undefined {
    try {
      return JSON.parse(fs.readFileSync(path, "utf8")) as CacheEntry;
    } catch {
      return undefined;
    }
  }

  /** One plugin's stdin: its config with name, version, prevResult, runtimeConfig. */
  #pluginConfig(
    network: NetworkConfig,
    plugin: PluginConfig,
    rt: RuntimeArgs,
    prevResult: CniResult | undefined,
  ): Record<string, unknown> {
    const config: Record<string, unknown> = {
      ...plugin,
      name: network.name,
      cniVersion: network.cniVersion,
    };
    if (prevResult) config.prevResult = prevResult;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [capability, on] of Object.entries(plugin.capabilities ?? {})) {
      const value = rt.capabilityArgs?.[capability];
      if (on && value !== undefined) runtimeConfig[capability] = value;
    }
    if (Object.keys(runtimeConfig).length) {
      config.runtimeConfig = runtimeConfig;
    }
    return config;
  }

  async #run(
    network: NetworkConfig,
    plugin: PluginConfig,
    command: "ADD" | "DEL" | "CHECK",
    rt: RuntimeArgs,
    prevResult: CniResult | undefined,
  ): Promise<unknown> {
    return await execPlugin({
      path: findPlugin(plugin.type, this.#options.binDirs),
      binDirs: this.#options.binDirs,
      args: {
        command,
        containerId: rt.containerId,
        netns: rt.netns,
        ifname: rt.ifname,
        args: rt.args,
      },
      config: this.#pluginConfig(network, plugin, rt, prevResult),
      timeoutMs: this.#options.timeoutMs,
    });
  }

  /**
   * ADD: runs the chain and caches its result. On failure the chain's DEL
   * runs and the cache entry goes, then the ADD's error is thrown.
   */
  async add(network: NetworkConfig, rt: RuntimeArgs): Promise<CniResult> {
    await this.preflight(network);
    const cache = this.#cachePath(network.name, rt);
    const entry: CacheEntry = {
      kind: "cniCacheV1",
      networkName: network.name,
      containerId: rt.containerId,
      ifName: rt.ifname,
      netns: rt.netns,
      config: network.bytes,
      cniArgs: rt.args,
      capabilityArgs: rt.capabilityArgs,
    };
    // Written first: a crash during ADD leaves what DEL needs.
    this.#writeCache(cache, entry);
    let result: CniResult | undefined;
    try {
      for (const plugin of network.plugins) {
        result = (await this.#run(network, plugin, "ADD", rt, result)) as
          | CniResult
          | undefined ?? result;
      }
    } catch (err) {
      await this.#delChain(network, rt, result).catch(() => {});
      fs.rmSync(cache, { force: true });
      throw err;
    }
    this.#writeCache(cache, { ...entry, result });
    return result ?? {};
  }

  async #delChain(
    network: NetworkConfig,
    rt: RuntimeArgs,
    result: CniResult | undefined,
  ): Promise<void> {
    const errors: string[] = [];
    for (const plugin of [...network.plugins].reverse()) {
      try {
        await this.#run(network, plugin, "DEL", rt, result);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new Error(errors.join("; "));
  }

  /**
   * DEL: runs the chain in reverse with the cached configuration and
   * result (the current configuration when nothing is cached), then drops
   * the cache entry. Every plugin runs even when one fails.
   */
  async del(networkName: string, rt: RuntimeArgs): Promise<void> {
    const cache = this.#cachePath(networkName, rt);
    const entry = this.#readCache(cache);
    const network = entry
      ? parseNetworkConfig(entry.config, `${cache}.conflist`)
      : this.network(networkName);
    await this.#delChain(network, asAdded(rt, entry), entry?.result);
    fs.rmSync(cache, { force: true });
  }

  /** CHECK: runs the chain with the cached configuration, arguments and result. */
  async check(networkName: string, rt: RuntimeArgs): Promise<void> {
    const entry = this.#readCache(this.#cachePath(networkName, rt));
    if (!entry?.result) {
      throw new NetworkNotFoundError(
        `no cached result for ${networkName}/${rt.containerId}/${rt.ifname}`,
      );
    }
    const network = parseNetworkConfig(entry.config, "cached.conflist");
    const args = asAdded(rt, entry);
    for (const plugin of network.plugins) {
      await this.#run(network, plugin, "CHECK", args, entry.result);
    }
  }
}
