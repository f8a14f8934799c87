/**
 * A container's cgroup statistics as containerd reports them: runc's
 * `events --stats` data turned into `io.containerd.cgroups.v1.Metrics` on a
 * cgroup v1 host, or `io.containerd.cgroups.v2.Metrics` on a unified one.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as v1 from "../gen/io/containerd/cgroups/v1/metrics_pb.ts";
import * as v2 from "../gen/io/containerd/cgroups/v2/metrics_pb.ts";
import type { RuncMemoryEntry, RuncStats } from "./runc.ts";

/** A packed metrics message, typed by its bare name as containerd does. */
export interface PackedMetrics {
  /** `io.containerd.cgroups.v1.Metrics` or `...v2.Metrics`. */
  typeUrl: string;
  /** The encoded message. */
  value: Uint8Array;
}

/** True on a cgroup v2 (unified) host. */
export function isUnifiedCgroup(): boolean {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return true;
  } catch {
    return false;
  }
}

/** Packs runc's `stats` as the host's cgroup metrics message. */
export function packMetrics(
  stats: RuncStats,
  unified: boolean = isUnifiedCgroup(),
): PackedMetrics {
  return unified
    ? pack(v2.MetricsSchema, v2Metrics(stats))
    : pack(v1.MetricsSchema, v1Metrics(stats));
}

function pack<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): PackedMetrics {
  return { typeUrl: schema.typeName, value: toBinary(schema, message) };
}

/** `memory.stat` names that differ from the v1 message's field names. */
const V1_MEMORY_STAT_NAMES: Record<string, string> = {
  pg_pg_in: "pgpgin",
  pg_pg_out: "pgpgout",
  pg_fault: "pgfault",
  pg_maj_fault: "pgmajfault",
  hierarchical_swap_limit: "hierarchical_memsw_limit",
};

/** The v1 metrics of `stats`. */
export function v1Metrics(stats: RuncStats): v1.Metrics {
  const raw = stats.memory?.raw ?? {};
  const memory: Record<string, unknown> = {};
  for (const field of v1.MemoryStatSchema.fields) {
    if (field.fieldKind !== "scalar") continue;
    const name = field.name.replace(/^total_/, "");
    const statName = V1_MEMORY_STAT_NAMES[name] ?? name;
    const key = field.name.startsWith("total_")
      ? `total_${statName}`
      : statName;
    memory[field.localName] = big(raw[key]);
  }
  const entry = (e: RuncMemoryEntry | undefined) => ({
    limit: big(e?.limit),
    usage: big(e?.usage),
    max: big(e?.max),
    failcnt: big(e?.failcnt),
  });
  const blkio = (name: string) =>
    (stats.blkio?.[name] ?? []).map((e) => ({
      op: e.op ?? "",
      major: big(e.major),
      minor: big(e.minor),
      value: big(e.value),
    }));
  return create(v1.MetricsSchema, {
    hugetlb: Object.entries(stats.hugetlb ?? {}).map(([pagesize, h]) => ({
      pagesize,
      usage: big(h.usage),
      max: big(h.max),
      failcnt: big(h.failcnt),
    })),
    pids: {
      current: big(stats.pids?.current),
      limit: big(stats.pids?.limit),
    },
    cpu: {
      usage: {
        total: big(stats.cpu?.usage?.total),
        kernel: big(stats.cpu?.usage?.kernel),
        user: big(stats.cpu?.usage?.user),
        perCpu: (stats.cpu?.usage?.percpu ?? []).map(big),
      },
      throttling: {
        periods: big(stats.cpu?.throttling?.periods),
        throttledPeriods: big(stats.cpu?.throttling?.throttled_periods),
        throttledTime: big(stats.cpu?.throttling?.throttled_time),
      },
    },
    memory: {
      ...memory,
      usage: entry(stats.memory?.usage),
      swap: entry(stats.memory?.swap),
      kernel: entry(stats.memory?.kernel),
      kernelTcp: entry(stats.memory?.kernelTCP),
    },
    blkio: {
      ioServiceBytesRecursive: blkio("ioServiceBytesRecursive"),
      ioServicedRecursive: blkio("ioServicedRecursive"),
      ioQueuedRecursive: blkio("ioQueueRecursive"),
      ioServiceTimeRecursive: blkio("ioServiceTimeRecursive"),
      ioWaitTimeRecursive: blkio("ioWaitTimeRecursive"),
      ioMergedRecursive: blkio("ioMergedRecursive"),
      ioTimeRecursive: blkio("ioTimeRecursive"),
      sectorsRecursive: blkio("sectorsRecursive"),
    },
  });
}

/** The v2 metrics of `stats` (runc reports CPU time in nanoseconds). */
export function v2Metrics(stats: RuncStats): v2.Metrics {
  const raw = stats.memory?.raw ?? {};
  const memory: Record<string, unknown> = {};
  for (const field of v2.MemoryStatSchema.fields) {
    if (field.fieldKind === "scalar") {
      memory[field.localName] = big(raw[field.name]);
    }
  }
  const cpu = stats.cpu;
  const usec = (ns: number | undefined) => big(Math.floor((ns ?? 0) / 1000));
  return create(v2.MetricsSchema, {
    pids: {
      current: big(stats.pids?.current),
      limit: big(stats.pids?.limit),
    },
    cpu: {
      usageUsec: usec(cpu?.usage?.total),
      userUsec: usec(cpu?.usage?.user),
      systemUsec: usec(cpu?.usage?.kernel),
      nrPeriods: big(cpu?.throttling?.periods),
      nrThrottled: big(cpu?.throttling?.throttled_periods),
      throttledUsec: usec(cpu?.throttling?.throttled_time),
    },
    memory: {
      ...memory,
      usage: big(stats.memory?.usage?.usage),
      usageLimit: big(stats.memory?.usage?.limit),
      swapUsage: big(stats.memory?.swap?.usage),
      swapLimit: big(stats.memory?.swap?.limit),
    },
    io: {
      usage: ioUsage(stats),
    },
  });
}

/** v2 per-device I/O from runc's per-operation entries. */
function ioUsage(stats: RuncStats) {
  const devices = new Map<string, {
    major: bigint;
    minor: bigint;
    rbytes: bigint;
    wbytes: bigint;
    rios: bigint;
    wios: bigint;
  }>();
  const add = (
    name: string,
    read: "rbytes" | "rios",
    write: "wbytes" | "wios",
  ) => {
    for (const e of stats.blkio?.[name] ?? []) {
      const key = `${e.major}:${e.minor}`;
      const device = devices.get(key) ?? {
        major: big(e.major),
        minor: big(e.minor),
        rbytes: 0n,
        wbytes: 0n,
        rios: 0n,
        wios: 0n,
      };
      const op = (e.op ?? "").toLowerCase();
      if (op === "read") device[read] += big(e.value);
      if (op === "write") device[write] += big(e.value);
      devices.set(key, device);
    }
  };
  add("ioServiceBytesRecursive", "rbytes", "wbytes");
  add("ioServicedRecursive", "rios", "wios");
  return [...devices.values()];
}

function big(value: number | undefined): bigint {
  return BigInt(Math.max(0, Math.trunc(value ?? 0)));
}
