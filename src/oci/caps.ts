/**
 * Linux capability names by number, and the effective set of this process
 * (what a privileged container gets).
 *
 * @module
 */

/** Capability names indexed by capability number (Linux 5.9+). */
export const KNOWN_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** Names of the capabilities set in `bits`, in number order; unknown bits are skipped. */
export function capabilitiesFromBitmap(bits: bigint): string[] {
  const names: string[] = [];
  for (let i = 0; i < 64; i++) {
    if ((bits >> BigInt(i)) & 1n && i < KNOWN_CAPABILITIES.length) {
      names.push(KNOWN_CAPABILITIES[i]);
    }
  }
  return names;
}

/** Options for {@linkcode currentCapabilities}. */
export interface CurrentCapabilitiesOptions {
  /** Text of a /proc/PID/status file (default: this process's). */
  status?: string;
}

/** The effective capabilities of this process (CapEff of /proc/self/status). */
export async function currentCapabilities(
  options: CurrentCapabilitiesOptions = {},
): Promise<string[]> {
  const status = options.status ??
    await Deno.readTextFile("/proc/self/status");
  const line = status.split("\n").find((l) => l.startsWith("CapEff:"));
  if (!line) return [];
  return capabilitiesFromBitmap(BigInt(`0x${line.slice(7).trim()}`));
}
