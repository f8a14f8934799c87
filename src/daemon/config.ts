/**
 * The daemon's configuration: TOML on disk, merged over embedded defaults.
 *
 * A missing file means the defaults; a present file may set any subset.
 * Wrong types and unknown keys are errors that name the key, so a typo never
 * silently falls back to a default.
 *
 * @module
 */
import { parse, stringify } from "smol-toml";
import { parseDuration } from "../types/mod.ts";

/** Every setting of the daemon. */
export interface Config {
  /** Config format version. */
  version: number;
  /** Persistent data: content, metadata, snapshots. */
  root: string;
  /** Runtime state: sockets, bundles, FIFOs. */
  state: string;
  /** The API socket. */
  grpc: {
    /** Path of the UNIX socket. */
    address: string;
    /** Owner uid of the socket. */
    uid: number;
    /** Owner gid of the socket. */
    gid: number;
    /** Largest request message accepted, in bytes (larger: ResourceExhausted). */
    max_recv_message_size: number;
    /** Largest response message sent, in bytes (larger: ResourceExhausted). */
    max_send_message_size: number;
  };
  /**
   * Garbage collection of unreferenced content, snapshots and leases, on
   * containerd's schedule: the settings and defaults of its
   * `[plugins."io.containerd.gc.v1.scheduler"]`.
   */
  gc: {
    /** The largest share of real time collections may take (0 to 0.5). */
    pause_threshold: number;
    /** Deletions that make a collection run at once; 0: at the next check. */
    deletion_threshold: number;
    /** Mutations that make the next check collect; 0: never. */
    mutation_threshold: number;
    /** How long after a request to collect (Go duration). */
    schedule_delay: string;
    /** How long after start the first collection runs (Go duration). */
    startup_delay: string;
  };
  /** Talking to registries (server-side pulls and pushes). */
  registry: {
    /** containerd-style hosts directory (`<host>/hosts.toml`, CAs). */
    config_path: string;
    /** Layers fetched at once by a pull. */
    max_concurrent_downloads: number;
  };
  /**
   * Runtimes by the name containers ask for (`io.containerd.runc.v2`);
   * a name not listed uses the default runtime's settings.
   */
  runtimes: Record<string, RuntimeConfig>;
  /** Network namespaces and CNI. */
  network: {
    /** Where named netns files go; "" for `STATE/netns`. */
    netns_dir: string;
    /** CNI network configurations (`.conflist`, `.conf`). */
    cni_conf_dir: string;
    /** Where CNI plugins are looked for, in order. */
    cni_bin_dirs: string[];
    /** CNI result cache; "" for `ROOT/cni`. */
    cni_cache_dir: string;
    /** A CNI plugin call's limit (Go duration). */
    plugin_timeout: string;
    /** The network attachments join when they name none. */
    default_network: string;
    /** The default network's bridge, when berth writes its conflist. */
    default_bridge: string;
    /** The default network's IPv4 subnet, when berth writes its conflist. */
    default_subnet: string;
  };
  /** Diagnostics. */
  debug: {
    /** Log level: trace, debug, info, warn or error. */
    level: string;
  };
}

/** How one runtime runs its containers. */
export interface RuntimeConfig {
  /**
   * A containerd runtime v2 shim binary (e.g. `containerd-shim-runc-v2`);
   * "" for berth's own shim.
   */
  shim: string;
  /** The OCI runtime the shim runs (runc, or crun). */
  runc_binary: string;
  /** The OCI runtime's state root; "" for `STATE/runc`. */
  runc_root: string;
  /**
   * Which containers that name no group (label or annotation
   * `io.containerd.runc.v2.group`) share one of berth's shims:
   * `"namespace"` (all of a namespace) or `"container"` (none).
   */
  shim_group: string;
  /** The most containers one shim serves; the next starts a fresh shim. */
  shim_max_tasks: number;
  /**
   * How long a group's shim left without containers waits for the group's
   * next one before it exits (Go duration; "0": it exits at once).
   */
  shim_linger: string;
}

/** The values `shim_group` may take. */
const SHIM_GROUPS = ["namespace", "container"];

/** The runtime every container gets unless configured otherwise. */
export const DEFAULT_RUNTIME = "io.containerd.runc.v2";

function defaultRuntime(): RuntimeConfig {
  return {
    shim: "",
    runc_binary: "runc",
    runc_root: "",
    shim_group: "namespace",
    shim_max_tasks: 64,
    shim_linger: "2s",
  };
}

/** Tables whose keys are names the user chooses, each from a template. */
const NAMED_TABLES: Record<string, () => Table> = {
  runtimes: () => defaultRuntime() as unknown as Table,
};

/** The embedded defaults. */
export function defaultConfig(): Config {
  return {
    version: 2,
    root: "/var/lib/berth",
    state: "/run/berth",
    grpc: {
      address: "/run/berth/berth.sock",
      uid: 0,
      gid: 0,
      // containerd's defaults.
      max_recv_message_size: 16 << 20,
      max_send_message_size: 16 << 20,
    },
    gc: {
      pause_threshold: 0.02,
      deletion_threshold: 0,
      mutation_threshold: 100,
      schedule_delay: "0ms",
      startup_delay: "100ms",
    },
    registry: {
      config_path: "/etc/berth/certs.d",
      max_concurrent_downloads: 3,
    },
    runtimes: { [DEFAULT_RUNTIME]: defaultRuntime() },
    network: {
      netns_dir: "",
      cni_conf_dir: "/etc/cni/net.d",
      cni_bin_dirs: ["/usr/lib/cni", "/opt/cni/bin"],
      cni_cache_dir: "",
      plugin_timeout: "60s",
      default_network: "berth",
      default_bridge: "berth0",
      default_subnet: "10.222.0.0/16",
    },
    debug: { level: "info" },
  };
}

/** Where the daemon reads its config unless told otherwise. */
export const DEFAULT_CONFIG_PATH = "/etc/berth/config.toml";

/** A config file that does not parse or has a wrong setting. */
export class ConfigError extends Error {
  /** Creates the error for the file at `path`. */
  constructor(path: string, message: string) {
    super(`config ${path}: ${message}`);
    this.name = "ConfigError";
  }
}

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Overlays `source` on `target` key by key, checking types against it. */
function merge(target: Table, source: Table, path: string, file: string) {
  for (const [key, value] of Object.entries(source)) {
    const name = path ? `${path}.${key}` : key;
    if (!(key in target) && NAMED_TABLES[path]) {
      target[key] = NAMED_TABLES[path]();
    }
    if (!(key in target)) {
      throw new ConfigError(file, `unknown setting ${name}`);
    }
    const current = target[key];
    if (isTable(current)) {
      if (!isTable(value)) {
        throw new ConfigError(file, `${name} must be a table`);
      }
      merge(current, value, name, file);
    } else if (typeof current !== typeof value) {
      throw new ConfigError(file, `${name} must be a ${typeof current}`);
    } else {
      target[key] = value;
    }
  }
}

/** Parses TOML text over the defaults. `file` names it in errors. */
export function parseConfig(text: string, file = "<config>"): Config {
  let parsed: Table;
  try {
    parsed = parse(text) as Table;
  } catch (err) {
    throw new ConfigError(file, (err as Error).message);
  }
  const config = defaultConfig();
  merge(config as unknown as Table, parsed, "", file);
  for (
    const key of ["max_recv_message_size", "max_send_message_size"] as const
  ) {
    const value = config.grpc[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigError(file, `grpc.${key} must be a positive integer`);
    }
  }
  try {
    parseDuration(config.network.plugin_timeout);
  } catch (err) {
    throw new ConfigError(
      file,
      `network.plugin_timeout: ${(err as Error).message}`,
    );
  }
  const downloads = config.registry.max_concurrent_downloads;
  if (!Number.isSafeInteger(downloads) || downloads < 1) {
    throw new ConfigError(
      file,
      "registry.max_concurrent_downloads must be a whole number from 1",
    );
  }
  if (!config.network.cni_bin_dirs.every((dir) => typeof dir === "string")) {
    throw new ConfigError(file, "network.cni_bin_dirs must be strings");
  }
  for (const key of ["schedule_delay", "startup_delay"] as const) {
    try {
      parseDuration(config.gc[key]);
    } catch (err) {
      throw new ConfigError(file, `gc.${key}: ${(err as Error).message}`);
    }
  }
  for (const [name, runtime] of Object.entries(config.runtimes)) {
    if (!SHIM_GROUPS.includes(runtime.shim_group)) {
      throw new ConfigError(
        file,
        `runtimes.${name}.shim_group must be one of ${SHIM_GROUPS.join(", ")}`,
      );
    }
    try {
      parseDuration(runtime.shim_linger);
    } catch (err) {
      throw new ConfigError(
        file,
        `runtimes.${name}.shim_linger: ${(err as Error).message}`,
      );
    }
    if (
      !Number.isInteger(runtime.shim_max_tasks) || runtime.shim_max_tasks < 1
    ) {
      throw new ConfigError(
        file,
        `runtimes.${name}.shim_max_tasks must be a whole number from 1`,
      );
    }
  }
  return config;
}

/** Reads the config at `path`; a missing file gives the defaults. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return defaultConfig();
    throw new ConfigError(path, (err as Error).message);
  }
  return parseConfig(text, path);
}

/** The defaults as TOML, for `berth config default`. */
export function formatConfig(config: Config): string {
  return stringify(config) + "\n";
}
