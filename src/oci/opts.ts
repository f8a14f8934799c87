/**
 * Options that shape a {@linkcode Spec}: each returns a {@linkcode SpecOpt}
 * applied in order by {@linkcode applyOpts}, with containerd's semantics
 * (and in the order ctr applies them, the result equals ctr's spec).
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";
import { FileType, fileType, lstatx } from "../sys/statx.ts";
import { compareUTF8 } from "../types/utf8_order.ts";
import { currentCapabilities } from "./caps.ts";
import { parseMountFlag } from "./mount_flag.ts";
import {
  DEFAULT_PATH_ENV,
  type Spec,
  type SpecDevice,
  type SpecDeviceRule,
  type SpecLinux,
  type SpecMount,
  type SpecNamespace,
  type SpecOpt,
  type SpecProcess,
  type SpecResources,
} from "./spec.ts";
import { readGroup, readPasswd } from "./user.ts";

/** The container defaults of an OCI image config (its `config` object). */
export interface ImageConfig {
  /** User, as `user`, `uid`, `user:group` or `uid:gid`. */
  User?: string;
  /** Environment, `KEY=value` each. */
  Env?: string[];
  /** Entrypoint. */
  Entrypoint?: string[] | null;
  /** Default arguments. */
  Cmd?: string[] | null;
  /** Working directory. */
  WorkingDir?: string;
}

/** Where to look users and groups up. */
export interface RootfsOptions {
  /**
   * Absolute path of the container's root filesystem; default the spec's
   * root path when absolute.
   */
  rootfs?: string;
}

function proc(spec: Spec): SpecProcess {
  return spec.process ??= { user: { uid: 0, gid: 0 }, cwd: "/" };
}

function linux(spec: Spec): SpecLinux {
  return spec.linux ??= {};
}

function resources(spec: Spec): SpecResources {
  return linux(spec).resources ??= {};
}

/**
 * Merges `overrides` into `defaults`: `KEY=v` replaces KEY or appends,
 * a bare `KEY` removes KEY.
 */
export function replaceOrAppendEnv(
  defaults: readonly string[],
  overrides: readonly string[],
): string[] {
  const key = (e: string) => e.split("=", 1)[0];
  const result: (string | undefined)[] = [...defaults];
  const index = new Map<string, number>();
  defaults.forEach((e, i) => index.set(key(e), i));
  for (const value of overrides) {
    const i = index.get(key(value));
    if (!value.includes("=")) {
      if (i !== undefined) result[i] = undefined;
    } else if (i !== undefined) {
      result[i] = value;
    } else {
      index.set(key(value), result.length);
      result.push(value);
    }
  }
  return result.filter((e): e is string => e !== undefined && e !== "");
}

/** Adds or replaces environment variables (a bare `KEY` unsets KEY). */
export function withEnv(env: readonly string[]): SpecOpt {
  return (spec) => {
    if (env.length === 0) return;
    const p = proc(spec);
    p.env = replaceOrAppendEnv(p.env ?? [], env);
  };
}

/** Sets the argument vector. */
export function withProcessArgs(...args: string[]): SpecOpt {
  return (spec) => {
    proc(spec).args = args;
  };
}

/** Sets the working directory. */
export function withCwd(cwd: string): SpecOpt {
  return (spec) => {
    proc(spec).cwd = cwd;
  };
}

/** Gives the process a terminal (and TERM=xterm). */
export function withTTY(): SpecOpt {
  return (spec) => {
    const p = proc(spec);
    p.terminal = true;
    if (spec.linux) (p.env ??= []).push("TERM=xterm");
  };
}

/** Sets the hostname. */
export function withHostname(hostname: string): SpecOpt {
  return (spec) => {
    spec.hostname = hostname;
  };
}

function rootOf(spec: Spec, options: RootfsOptions): string | undefined {
  if (options.rootfs) return options.rootfs;
  const path = spec.root?.path;
  return path?.startsWith("/") ? path : undefined;
}

function requireRoot(spec: Spec, options: RootfsOptions): string {
  const root = rootOf(spec, options);
  if (!root) {
    throw new BerthError(
      Code.FailedPrecondition,
      "rootfs absolute path is required",
    );
  }
  return root;
}

function ensurePrimaryGid(p: SpecProcess): void {
  const gids = p.user.additionalGids ?? [];
  if (!gids.includes(p.user.gid)) p.user.additionalGids = [p.user.gid, ...gids];
}

const ID = /^\d+$/;
const MAX_ID = 2 ** 31 - 1;

function numericId(s: string): number | undefined {
  if (!ID.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

async function userByName(root: string, name: string) {
  const users = await readPasswd(root);
  if (!users) {
    throw new BerthError(Code.NotFound, `${root}/etc/passwd`);
  }
  const user = users.find((u) => u.name === name);
  if (!user) {
    throw new BerthError(Code.NotFound, `user ${JSON.stringify(name)}`);
  }
  return user;
}

async function gidByName(root: string, name: string): Promise<number> {
  const groups = await readGroup(root);
  if (!groups) throw new BerthError(Code.NotFound, `${root}/etc/group`);
  const group = groups.find((g) => g.name === name);
  if (!group) {
    throw new BerthError(Code.NotFound, `group ${JSON.stringify(name)}`);
  }
  return group.gid;
}

/**
 * Sets the user from `user`, `uid`, `user:group`, `uid:gid` (or mixed):
 * names are looked up in the rootfs's /etc/passwd and /etc/group (an error
 * when missing); a bare uid takes its primary group from /etc/passwd, else
 * 0. Supplementary groups are reset to the primary group.
 */
export function withUser(user: string, options: RootfsOptions = {}): SpecOpt {
  return async (spec) => {
    const p = proc(spec);
    delete p.user.additionalGids;
    try {
      const parts = user.split(":");
      if (parts.length === 1) {
        const uid = numericId(user);
        if (uid === undefined) {
          const entry = await userByName(requireRoot(spec, options), user);
          p.user.uid = entry.uid;
          p.user.gid = entry.gid;
          return;
        }
        const root = rootOf(spec, options);
        const entry = root
          ? (await readPasswd(root))?.find((u) => u.uid === uid)
          : undefined;
        p.user.uid = uid;
        p.user.gid = entry?.gid ?? 0;
        return;
      }
      if (parts.length !== 2) {
        throw new BerthError(
          Code.InvalidArgument,
          `invalid USER value ${user}`,
        );
      }
      let uid = numericId(parts[0]);
      let gid = numericId(parts[1]);
      if (uid === undefined || gid === undefined) {
        const root = requireRoot(spec, options);
        uid ??= (await userByName(root, parts[0])).uid;
        gid ??= await gidByName(root, parts[1]);
      }
      p.user.uid = uid;
      p.user.gid = gid;
    } finally {
      ensurePrimaryGid(p);
    }
  };
}

/**
 * Sets the supplementary groups of `user` (a name or uid): the groups of
 * the rootfs's /etc/group listing it as a member, plus the primary group.
 * Without a rootfs, or without the files, only the primary group.
 */
export function withAdditionalGids(
  user: string,
  options: RootfsOptions = {},
): SpecOpt {
  return async (spec) => {
    const p = proc(spec);
    delete p.user.additionalGids;
    try {
      const root = rootOf(spec, options);
      if (!root) return;
      let name = user;
      const uid = numericId(user);
      if (uid !== undefined) {
        const entry = (await readPasswd(root))?.find((u) => u.uid === uid);
        if (!entry) return;
        name = entry.name;
      }
      const groups = await readGroup(root);
      const gids = (groups ?? [])
        .filter((g) => g.name !== name && g.members.includes(name))
        .map((g) => g.gid);
      p.user.additionalGids = gids;
    } finally {
      ensurePrimaryGid(p);
    }
  };
}

/**
 * Applies an image's defaults: env (PATH when it has none; variables
 * already set win), entrypoint + cmd as args, working dir ("/" when
 * unset), and its user with supplementary groups, resolved in the rootfs.
 */
export function withImageConfig(
  config: ImageConfig,
  options: RootfsOptions = {},
): SpecOpt {
  return async (spec) => {
    const p = proc(spec);
    const defaults = config.Env?.length ? config.Env : [DEFAULT_PATH_ENV];
    p.env = replaceOrAppendEnv(defaults, p.env ?? []);
    const args = [...config.Entrypoint ?? [], ...config.Cmd ?? []];
    if (args.length > 0) p.args = args;
    else delete p.args;
    p.cwd = config.WorkingDir || "/";
    if (config.User) {
      await withUser(config.User, options)(spec);
      await withAdditionalGids(String(p.user.uid), options)(spec);
    } else {
      await withAdditionalGids("root", options)(spec);
    }
  };
}

/**
 * Appends mounts; strings are parsed as ctr's `--mount` values
 * (`type=bind,src=/a,dst=/b,options=rbind:ro`).
 */
export function withMounts(mounts: readonly (SpecMount | string)[]): SpecOpt {
  const parsed = mounts.map((m) =>
    typeof m === "string" ? parseMountFlag(m) : m
  );
  return (spec) => {
    (spec.mounts ??= []).push(...parsed.map((m) => structuredClone(m)));
  };
}

/** Removes the mounts at `destinations`. */
export function withoutMounts(...destinations: string[]): SpecOpt {
  return (spec) => {
    const clean = (d: string) => d.replace(/\/+$/, "") || "/";
    spec.mounts = spec.mounts?.filter((m) =>
      !destinations.includes(clean(m.destination))
    );
  };
}

/** Shares the host's namespace of `type` (drops it from the spec). */
export function withHostNamespace(type: string): SpecOpt {
  return (spec) => {
    const l = linux(spec);
    const i = l.namespaces?.findIndex((n) => n.type === type) ?? -1;
    if (i >= 0) l.namespaces!.splice(i, 1);
  };
}

/** Adds or replaces a namespace (with `path`, joins an existing one). */
export function withLinuxNamespace(ns: SpecNamespace): SpecOpt {
  return (spec) => {
    const list = linux(spec).namespaces ??= [];
    const i = list.findIndex((n) => n.type === ns.type);
    if (i >= 0) list[i] = { ...ns };
    else list.push({ ...ns });
  };
}

function hostFile(path: string): SpecOpt {
  return (spec) => {
    (spec.mounts ??= []).push({
      destination: path,
      type: "bind",
      source: path,
      options: ["rbind", "ro"],
    });
  };
}

/** Bind-mounts the host's /etc/hosts read-only. */
export function withHostHostsFile(): SpecOpt {
  return hostFile("/etc/hosts");
}

/** Bind-mounts the host's /etc/resolv.conf read-only. */
export function withHostResolvconf(): SpecOpt {
  return hostFile("/etc/resolv.conf");
}

/** Options for {@linkcode withHostNetwork}. */
export interface HostNetworkOptions {
  /** HOSTNAME put in the environment (default: the host's hostname). */
  hostname?: string;
}

/**
 * What ctr's `--net-host` does: the host's network namespace, its
 * /etc/hosts and /etc/resolv.conf, and HOSTNAME in the environment.
 */
export function withHostNetwork(options: HostNetworkOptions = {}): SpecOpt {
  return async (spec) => {
    await applyAll(
      spec,
      withHostNamespace("network"),
      withHostHostsFile(),
      withHostResolvconf(),
      withEnv([`HOSTNAME=${options.hostname ?? Deno.hostname()}`]),
    );
  };
}

async function applyAll(spec: Spec, ...opts: SpecOpt[]): Promise<void> {
  for (const opt of opts) await opt(spec);
}

/** Sets the cgroup memory limit in bytes. */
export function withMemoryLimit(bytes: number): SpecOpt {
  return (spec) => {
    (resources(spec).memory ??= {}).limit = bytes;
  };
}

/** Sets the CFS quota and period (microseconds). */
export function withCPUCFS(quota: number, period: number): SpecOpt {
  return (spec) => {
    const cpu = resources(spec).cpu ??= {};
    cpu.quota = quota;
    cpu.period = period;
  };
}

/** Limits to `cpus` CPUs (ctr's `--cpus`): quota cpus×100000 per 100000 µs. */
export function withCPUs(cpus: number): SpecOpt {
  if (!(cpus > 0)) {
    throw new BerthError(Code.InvalidArgument, `cpus ${cpus}: must be > 0`);
  }
  return withCPUCFS(Math.trunc(cpus * 100000), 100000);
}

/** Sets the CPU shares (relative weight). */
export function withCPUShares(shares: number): SpecOpt {
  return (spec) => {
    (resources(spec).cpu ??= {}).shares = shares;
  };
}

/** Sets the cgroup path. */
export function withCgroup(path: string): SpecOpt {
  return (spec) => {
    linux(spec).cgroupsPath = path;
  };
}

/** Makes the root filesystem read-only. */
export function withReadonlyRootfs(): SpecOpt {
  return (spec) => {
    (spec.root ??= { path: "rootfs" }).readonly = true;
  };
}

/** Sets the root filesystem path. */
export function withRootfsPath(path: string): SpecOpt {
  return (spec) => {
    (spec.root ??= { path }).path = path;
  };
}

/** Allows gaining privileges (clears no-new-privileges). */
export function withNewPrivileges(): SpecOpt {
  return (spec) => {
    proc(spec).noNewPrivileges = false;
  };
}

/** Sets the bounding, effective and permitted capabilities. */
export function withCapabilities(caps: readonly string[]): SpecOpt {
  return (spec) => {
    const p = proc(spec);
    p.capabilities = {
      ...p.capabilities,
      bounding: [...caps],
      effective: [...caps],
      permitted: [...caps],
    };
  };
}

/** Adds capabilities to the bounding, effective and permitted sets. */
export function withAddedCapabilities(caps: readonly string[]): SpecOpt {
  return (spec) => {
    const c = proc(spec).capabilities ??= {};
    for (const set of ["bounding", "effective", "permitted"] as const) {
      const list = c[set] ??= [];
      for (const cap of caps) if (!list.includes(cap)) list.push(cap);
    }
  };
}

/** Removes capabilities from the bounding, effective and permitted sets. */
export function withDroppedCapabilities(caps: readonly string[]): SpecOpt {
  return (spec) => {
    const c = proc(spec).capabilities ??= {};
    for (const set of ["bounding", "effective", "permitted"] as const) {
      const kept = (c[set] ?? []).filter((x) => !caps.includes(x));
      if (kept.length > 0) c[set] = kept;
      else delete c[set];
    }
  };
}

/** Adds annotations. */
export function withAnnotations(annotations: Record<string, string>): SpecOpt {
  return (spec) => {
    if (Object.keys(annotations).length === 0) return;
    Object.assign(spec.annotations ??= {}, annotations);
  };
}

function writable(type: string): SpecOpt {
  return (spec) => {
    for (const m of spec.mounts ?? []) {
      if (m.type === type && m.options) {
        m.options = m.options.map((o) => o === "ro" ? "rw" : o);
      }
    }
  };
}

/**
 * A privileged container (ctr's `--privileged` also adds
 * {@linkcode withAllDevicesAllowed} and {@linkcode withHostDevices}): this process's effective
 * capabilities, no masked or read-only paths, writable sysfs and cgroupfs,
 * no SELinux label, AppArmor profile or seccomp filter.
 */
export function withPrivileged(): SpecOpt {
  return async (spec) => {
    await withCapabilities(await currentCapabilities())(spec);
    const l = linux(spec);
    delete l.maskedPaths;
    delete l.readonlyPaths;
    delete l.seccomp;
    await writable("sysfs")(spec);
    await writable("cgroup")(spec);
    const p = proc(spec);
    delete p.selinuxLabel;
    delete p.apparmorProfile;
  };
}

/** Directories of `/dev` that hold no devices a container should get. */
const SKIPPED_DEV_DIRS = new Set([
  "pts",
  "shm",
  "fd",
  "mqueue",
  ".lxc",
  ".lxd-mounts",
  ".udev",
]);

/**
 * Adds every character and block device under the host's `/dev` to the
 * container (ctr's `--privileged` does), as containerd lists them: sorted
 * by name, subdirectories followed but not `pts`, `shm`, `fd`, `mqueue`,
 * nor the console.
 */
export function withHostDevices(dir = "/dev"): SpecOpt {
  return async (spec) => {
    (linux(spec).devices ??= []).push(...await hostDevices(dir));
  };
}

async function hostDevices(dir: string): Promise<SpecDevice[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => compareUTF8(a.name, b.name));
  const devices: SpecDevice[] = [];
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      if (!SKIPPED_DEV_DIRS.has(entry.name)) {
        devices.push(...await hostDevices(path));
      }
      continue;
    }
    if (entry.name === "console") continue;
    let stat;
    try {
      stat = lstatx(path);
    } catch {
      continue; // gone meanwhile
    }
    const type = fileType(stat.mode);
    const isDevice = type === FileType.S_IFCHR || type === FileType.S_IFBLK;
    if (!isDevice || stat.rdevMajor === 0) continue;
    devices.push({
      path,
      type: type === FileType.S_IFBLK ? "b" : "c",
      major: stat.rdevMajor,
      minor: stat.rdevMinor,
      fileMode: stat.mode & 0o7777,
      uid: stat.uid,
      gid: stat.gid,
    });
  }
  return devices;
}

/** Replaces the device rules with one allowing every device. */
export function withAllDevicesAllowed(): SpecOpt {
  return (spec) => {
    resources(spec).devices = [{ allow: true, access: "rwm" }];
  };
}

/**
 * Allows the devices every container needs (null, zero, full, tty, random,
 * urandom, console, pts, ptmx), as ctr does for each container.
 */
export function withDefaultUnixDevices(): SpecOpt {
  const rule = (major: number, minor?: number): SpecDeviceRule =>
    minor === undefined
      ? { allow: true, type: "c", major, access: "rwm" }
      : { allow: true, type: "c", major, minor, access: "rwm" };
  return (spec) => {
    (resources(spec).devices ??= []).push(
      rule(1, 3),
      rule(1, 8),
      rule(1, 7),
      rule(5, 0),
      rule(1, 5),
      rule(1, 9),
      rule(5, 1),
      rule(136),
      rule(5, 2),
    );
  };
}
