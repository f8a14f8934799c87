/**
 * The default OCI runtime spec of a Linux container, as containerd writes it
 * before any option is applied, and the machinery to apply options.
 *
 * @module
 */

/** The OCI runtime spec version berth writes (containerd 1.6's). */
export const OCI_VERSION = "1.0.2-dev";

/** The PATH given to a process whose image sets no environment. */
export const DEFAULT_PATH_ENV =
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The capabilities a default (unprivileged) container keeps. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Paths hidden from a default container. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];

/** Paths a default container sees read-only. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** The user a process runs as. */
export interface SpecUser {
  /** User id. */
  uid: number;
  /** Primary group id. */
  gid: number;
  /** Supplementary group ids (the primary one included). */
  additionalGids?: number[];
  /** Umask. */
  umask?: number;
  /** User name (Windows only). */
  username?: string;
}

/** Capability sets of a process. */
export interface SpecCapabilities {
  /** Bounding set. */
  bounding?: string[];
  /** Effective set. */
  effective?: string[];
  /** Inheritable set. */
  inheritable?: string[];
  /** Permitted set. */
  permitted?: string[];
  /** Ambient set. */
  ambient?: string[];
}

/** A resource limit (setrlimit). */
export interface SpecRlimit {
  /** Resource name, e.g. "RLIMIT_NOFILE". */
  type: string;
  /** Hard limit. */
  hard: number;
  /** Soft limit. */
  soft: number;
}

/** The container's process. */
export interface SpecProcess {
  /** Whether the process gets a terminal. */
  terminal?: boolean;
  /** Terminal size. */
  consoleSize?: { height: number; width: number };
  /** The user it runs as. */
  user: SpecUser;
  /** Argument vector. */
  args?: string[];
  /** Environment, `KEY=value` each. */
  env?: string[];
  /** Working directory inside the container. */
  cwd: string;
  /** Capabilities. */
  capabilities?: SpecCapabilities;
  /** Resource limits. */
  rlimits?: SpecRlimit[];
  /** Sets PR_SET_NO_NEW_PRIVS. */
  noNewPrivileges?: boolean;
  /** AppArmor profile. */
  apparmorProfile?: string;
  /** SELinux label. */
  selinuxLabel?: string;
}

/** A mount inside the container. */
export interface SpecMount {
  /** Mount point inside the container. */
  destination: string;
  /** Filesystem type ("bind" for bind mounts). */
  type?: string;
  /** Source device, path or pseudo-filesystem name. */
  source?: string;
  /** Mount options. */
  options?: string[];
}

/** A Linux namespace the container gets (new unless `path` is set). */
export interface SpecNamespace {
  /** Namespace type: pid, ipc, uts, mount, network, user, cgroup. */
  type: string;
  /** Path of an existing namespace to join. */
  path?: string;
}

/** A device cgroup rule. */
export interface SpecDeviceRule {
  /** Allow or deny. */
  allow: boolean;
  /** Device type: "a", "b" or "c" (all when unset). */
  type?: string;
  /** Major number (all when unset). */
  major?: number;
  /** Minor number (all when unset). */
  minor?: number;
  /** Access: some of "rwm". */
  access?: string;
}

/** A device node created in the container. */
export interface SpecDevice {
  /** Path inside the container. */
  path: string;
  /** Device type: "c", "b", "u" or "p". */
  type: string;
  /** Major number. */
  major: number;
  /** Minor number. */
  minor: number;
  /** File mode. */
  fileMode?: number;
  /** Owner uid. */
  uid?: number;
  /** Owner gid. */
  gid?: number;
}

/** Cgroup resource limits. */
export interface SpecResources {
  /** Device access rules, in order. */
  devices?: SpecDeviceRule[];
  /** Memory limits. */
  memory?: { limit?: number; reservation?: number; swap?: number };
  /** CPU limits. */
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    cpus?: string;
    mems?: string;
  };
  /** Process-number limit. */
  pids?: { limit: number };
}

/** The Linux section. */
export interface SpecLinux {
  /** Cgroup limits. */
  resources?: SpecResources;
  /** Cgroup path. */
  cgroupsPath?: string;
  /** Namespaces. */
  namespaces?: SpecNamespace[];
  /** Device nodes to create. */
  devices?: SpecDevice[];
  /** Seccomp profile (opaque here). */
  seccomp?: unknown;
  /** Root filesystem mount propagation. */
  rootfsPropagation?: string;
  /** Paths masked over. */
  maskedPaths?: string[];
  /** Paths remounted read-only. */
  readonlyPaths?: string[];
}

/** An OCI runtime spec (the parts berth writes). */
export interface Spec {
  /** Spec version. */
  ociVersion: string;
  /** The process. */
  process?: SpecProcess;
  /** Root filesystem. */
  root?: { path: string; readonly?: boolean };
  /** Hostname (UTS namespace). */
  hostname?: string;
  /** Mounts, in order. */
  mounts?: SpecMount[];
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Linux section. */
  linux?: SpecLinux;
}

/** Options for {@linkcode defaultSpec}. */
export interface DefaultSpecOptions {
  /** Container id (the last element of the cgroups path). */
  id: string;
  /** Namespace (the first element of the cgroups path). */
  namespace: string;
  /** Hostname; unset (the runtime's default) unless given, like containerd. */
  hostname?: string;
}

/** The mounts every container gets, in order. */
export function defaultMounts(): SpecMount[] {
  return [
    {
      destination: "/proc",
      type: "proc",
      source: "proc",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5",
      ],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/run",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
  ];
}

/**
 * The default spec of Linux container `id` in `namespace`: root user, cwd
 * "/", the default capabilities, RLIMIT_NOFILE 1024, no new privileges,
 * root "rootfs", the default mounts, masked and read-only paths, new pid,
 * ipc, uts, mount and network namespaces, cgroups path `/NAMESPACE/ID` and
 * a deny-all device rule. No args and no env: those come from the image
 * config ({@linkcode withImageConfig} falls back to PATH) or from options.
 */
export function defaultSpec(options: DefaultSpecOptions): Spec {
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      user: { uid: 0, gid: 0 },
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs" },
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      cgroupsPath: `/${options.namespace}/${options.id}`,
      namespaces: ["pid", "ipc", "uts", "mount", "network"].map((type) => ({
        type,
      })),
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (options.hostname) spec.hostname = options.hostname;
  return spec;
}

/** An option: changes a spec in place (may read files, hence async). */
export type SpecOpt = (spec: Spec) => void | Promise<void>;

/** Applies `opts` to `spec` in order; returns `spec`. */
export async function applyOpts(spec: Spec, ...opts: SpecOpt[]): Promise<Spec> {
  for (const opt of opts) await opt(spec);
  return spec;
}

/** {@linkcode defaultSpec} with `opts` applied in order. */
export function generateSpec(
  options: DefaultSpecOptions,
  ...opts: SpecOpt[]
): Promise<Spec> {
  return applyOpts(defaultSpec(options), ...opts);
}
