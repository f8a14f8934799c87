/**
 * Per-registry endpoint configuration, read from a containerd-style hosts
 * directory (`HOSTS_DIR/<host>/hosts.toml`, the `certs.d` layout): mirrors
 * in file order, then the server, each with capabilities, CAs, client
 * certificates, `skip_verify` and extra headers.
 *
 * ```toml
 * server = "https://registry.example.com"
 *
 * [host."https://mirror.example.com"]
 *   capabilities = ["pull", "resolve"]
 *   ca = "mirror-ca.pem"
 *   [host."https://mirror.example.com".header]
 *     x-custom = "1"
 * ```
 *
 * Without a file, a host gets one endpoint: `https://HOST/v2`
 * (`registry-1.docker.io` for `docker.io`), or `http://` for loopback hosts
 * (127.0.0.0/8, ::1, localhost) as containerd does, or for every host when
 * plain HTTP is asked for.
 *
 * @module
 */
import { join } from "node:path";
import { parse } from "smol-toml";
import { invalidArgument } from "../types/mod.ts";

/** What an endpoint may be used for. */
export type HostCapability = "pull" | "resolve" | "push";

/** Every capability: what the server of a registry gets by default. */
export const ALL_CAPABILITIES: readonly HostCapability[] = [
  "pull",
  "resolve",
  "push",
];

/** One endpoint to try for a registry. */
export interface RegistryHost {
  /** `http` or `https`. */
  scheme: "http" | "https";
  /** `host[:port]` to connect to. */
  host: string;
  /** The API root path: `/v2`, or a mirror's own prefix. */
  path: string;
  /** What the endpoint may be used for. */
  capabilities: HostCapability[];
  /** Extra request headers, in order. */
  headers: [string, string][];
  /** Files of extra CA certificates (PEM). */
  caCerts: string[];
  /** Client certificate files (PEM) with their keys (same file when absent). */
  clientCerts: { cert: string; key?: string }[];
  /** Skip TLS verification of the server's certificate. */
  skipVerify: boolean;
}

/** Options for {@linkcode loadRegistryHosts}. */
export interface HostsOptions {
  /** The hosts directory (`/etc/containerd/certs.d`); none by default. */
  hostsDir?: string;
  /**
   * Scheme of the default endpoint: true for `http` everywhere; false for
   * `https` everywhere; unset for `http` on loopback hosts only.
   */
  plainHttp?: boolean;
  /** Skip TLS verification where the host's file does not say otherwise. */
  skipVerify?: boolean;
}

/**
 * An endpoint as a `hosts.toml` states it: `host` and `scheme` are empty
 * for "the default server", `skipVerify` unset when the file says nothing.
 */
export interface HostsFileEntry
  extends Omit<RegistryHost, "skipVerify" | "scheme"> {
  scheme: "http" | "https" | "";
  skipVerify?: boolean;
}

/** True for `localhost` and loopback addresses, with or without a port. */
export function isLocalhost(host: string): boolean {
  let name = host;
  if (name.startsWith("[")) {
    const end = name.indexOf("]");
    name = end > 0 ? name.slice(1, end) : name;
  } else if (name.split(":").length === 2) {
    name = name.slice(0, name.indexOf(":"));
  }
  name = name.toLowerCase();
  if (name === "localhost") return true;
  const v4 = name.replace(/^::ffff:/, "");
  const octets = v4.split(".");
  if (
    octets.length === 4 &&
    octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)
  ) {
    return octets[0] === "127";
  }
  return name === "::1" || /^(?:0{1,4}:){7}0{0,3}1$/.test(name);
}

/** containerd's directory name for `host:port`: `host_port_`. */
export function hostDirectory(host: string): string {
  const colon = host.lastIndexOf(":");
  return colon > 0 ? `${host.slice(0, colon)}_${host.slice(colon + 1)}_` : host;
}

/** The directories looked at for `host`, in order. */
export function hostPaths(root: string, host: string): string[] {
  const paths: string[] = [];
  const mapped = hostDirectory(host);
  if (mapped !== host) paths.push(join(root, mapped));
  paths.push(join(root, host), join(root, "_default"));
  return paths;
}

/**
 * The endpoints to try for registry `domain` (a reference's domain), in
 * order: mirrors first, then the server.
 */
export async function loadRegistryHosts(
  domain: string,
  options: HostsOptions = {},
): Promise<RegistryHost[]> {
  let entries: HostsFileEntry[] | undefined;
  if (options.hostsDir) {
    const dir = await findHostDir(options.hostsDir, domain);
    if (dir) entries = await loadHostDir(dir);
  }
  entries ??= [defaultEntry()];
  return entries.map((entry, i) => {
    const last = i === entries.length - 1;
    if (last && entry.host === "") fillDefault(entry, domain, options);
    return {
      ...entry,
      scheme: entry.scheme || "https",
      skipVerify: entry.skipVerify ?? options.skipVerify ?? false,
    };
  });
}

function defaultEntry(): HostsFileEntry {
  return {
    scheme: "",
    host: "",
    path: "/v2",
    capabilities: [...ALL_CAPABILITIES],
    headers: [],
    caCerts: [],
    clientCerts: [],
  };
}

function fillDefault(
  entry: HostsFileEntry,
  domain: string,
  options: HostsOptions,
): void {
  entry.path = "/v2";
  entry.capabilities = [...ALL_CAPABILITIES];
  if (domain === "docker.io") {
    entry.host = "registry-1.docker.io";
    entry.scheme = options.plainHttp ? "http" : "https";
  } else if (isLocalhost(domain) && options.plainHttp !== false) {
    entry.host = domain;
    entry.scheme = "http";
    entry.skipVerify ??= true;
  } else {
    entry.host = domain;
    entry.scheme = options.plainHttp ? "http" : "https";
  }
}

async function findHostDir(
  root: string,
  host: string,
): Promise<string | undefined> {
  for (const path of hostPaths(root, host)) {
    try {
      const info = await Deno.stat(path);
      if (info.isDirectory) return path;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return undefined;
}

/** Reads `dir/hosts.toml`, or Docker-style cert files when there is none. */
async function loadHostDir(dir: string): Promise<HostsFileEntry[]> {
  const file = join(dir, "hosts.toml");
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (text !== undefined && text.trim() !== "") {
    return parseHostsFile(text, { baseDir: dir, source: file });
  }
  return [await loadCertFiles(dir)];
}

/**
 * Docker's `certs.d` layout: `*.crt` are CAs, `*.cert` client certificates
 * with their `*.key`.
 */
async function loadCertFiles(dir: string): Promise<HostsFileEntry> {
  const entry = defaultEntry();
  const names: string[] = [];
  for await (const item of Deno.readDir(dir)) {
    if (item.isFile || item.isSymlink) names.push(item.name);
  }
  names.sort();
  for (const name of names) {
    if (name.endsWith(".crt")) entry.caCerts.push(join(dir, name));
    if (name.endsWith(".cert")) {
      const key = name.slice(0, -".cert".length) + ".key";
      entry.clientCerts.push({
        cert: join(dir, name),
        key: names.includes(key) ? join(dir, key) : undefined,
      });
    }
  }
  return entry;
}

/** Options for {@linkcode parseHostsFile}. */
export interface ParseHostsOptions {
  /** Relative certificate paths are resolved against this directory. */
  baseDir: string;
  /** The file's name, for error messages. */
  source?: string;
}

/**
 * Parses a `hosts.toml`: the `[host."…"]` endpoints in file order, then the
 * server (with an empty `host` when `server` is not set, meaning "the
 * default server for the registry").
 */
export function parseHostsFile(
  text: string,
  options: ParseHostsOptions,
): HostsFileEntry[] {
  const source = options.source ?? "hosts.toml";
  const fail = (reason: string) =>
    invalidArgument(`hosts file ${JSON.stringify(source)}: ${reason}`);
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw fail(`failed to parse TOML: ${(err as Error).message}`);
  }
  const entries: HostsFileEntry[] = [];
  const hosts = doc.host ?? {};
  if (!isTable(hosts)) throw fail("`host` must be a table");
  for (const [server, config] of Object.entries(hosts)) {
    if (!isTable(config)) {
      throw fail(`host ${JSON.stringify(server)}: not a table`);
    }
    entries.push(parseEntry(server, config, options.baseDir, fail));
  }
  const server = doc.server ?? "";
  if (typeof server !== "string") throw fail("`server` must be a string");
  entries.push(parseEntry(server, doc, options.baseDir, fail));
  return entries;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

function parseEntry(
  server: string,
  config: Record<string, unknown>,
  baseDir: string,
  fail: (reason: string) => Error,
): HostsFileEntry {
  const entry = defaultEntry();
  const where = server ? `host ${JSON.stringify(server)}` : "server";
  const overridePath = config.override_path === true;
  if (server) {
    const withScheme = /^https?:\/\//i.test(server)
      ? server
      : `https://${server}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw fail(`${where}: not a valid URL`);
    }
    if (url.search || url.hash || url.username || url.password) {
      throw fail(`${where}: must not have credentials, query or fragment`);
    }
    entry.scheme = url.protocol === "http:" ? "http" : "https";
    entry.host = url.host;
    let path = url.pathname.replace(/\/+$/, "");
    if (!overridePath && !path.endsWith("/v2")) path += "/v2";
    entry.path = path;
  }
  if (config.capabilities !== undefined) {
    const caps = stringList(
      config.capabilities,
      `${where}: capabilities`,
      fail,
    );
    entry.capabilities = [];
    for (const cap of caps) {
      const lower = cap.toLowerCase();
      if (lower !== "pull" && lower !== "resolve" && lower !== "push") {
        throw fail(`${where}: unknown capability ${JSON.stringify(cap)}`);
      }
      if (!entry.capabilities.includes(lower)) entry.capabilities.push(lower);
    }
  }
  if (config.skip_verify !== undefined) {
    if (typeof config.skip_verify !== "boolean") {
      throw fail(`${where}: skip_verify must be a boolean`);
    }
    entry.skipVerify = config.skip_verify;
  }
  if (config.ca !== undefined) {
    entry.caCerts = stringList(config.ca, `${where}: ca`, fail).map((p) =>
      absolute(p, baseDir)
    );
  }
  if (config.client !== undefined) {
    const list = typeof config.client === "string"
      ? [config.client]
      : config.client;
    if (!Array.isArray(list)) throw fail(`${where}: invalid type for client`);
    for (const item of list) {
      if (typeof item === "string") {
        entry.clientCerts.push({ cert: absolute(item, baseDir) });
      } else if (
        Array.isArray(item) && item.length === 2 &&
        item.every((s) => typeof s === "string")
      ) {
        entry.clientCerts.push({
          cert: absolute(item[0], baseDir),
          key: absolute(item[1], baseDir),
        });
      } else {
        throw fail(`${where}: invalid client pair ${JSON.stringify(item)}`);
      }
    }
  }
  if (config.header !== undefined) {
    if (!isTable(config.header)) throw fail(`${where}: header must be a table`);
    for (const [key, value] of Object.entries(config.header)) {
      for (const v of stringList(value, `${where}: header ${key}`, fail)) {
        entry.headers.push([key, v]);
      }
    }
  }
  return entry;
}

function stringList(
  value: unknown,
  what: string,
  fail: (reason: string) => Error,
): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
    return value;
  }
  throw fail(`${what} must be a string or a list of strings`);
}

function absolute(path: string, baseDir: string): string {
  return path.startsWith("/") ? path : join(baseDir, path);
}

/** True when `host` may be used for every capability in `needed`. */
export function hasCapabilities(
  host: RegistryHost,
  needed: readonly HostCapability[],
): boolean {
  return needed.every((cap) => host.capabilities.includes(cap));
}
