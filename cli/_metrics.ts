/**
 * A task's cgroup metrics as `ctr tasks metrics` prints them: the `Any`
 * decoded as cgroups v1 or v2 `Metrics`, shown as ctr's table or as Go's
 * indented JSON of the gogo structs (fields in declaration order, named as
 * in the proto, zero values left out).
 *
 * @module
 */
import {
  type DescField,
  type DescMessage,
  fromBinary,
  type Message,
} from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Metric } from "../src/gen/containerd/types/metrics_pb.ts";
import {
  type Metrics as MetricsV1,
  MetricsSchema as MetricsV1Schema,
} from "../src/gen/io/containerd/cgroups/v1/metrics_pb.ts";
import {
  type Metrics as MetricsV2,
  MetricsSchema as MetricsV2Schema,
} from "../src/gen/io/containerd/cgroups/v2/metrics_pb.ts";
import { formatGoTime, goJSON, type GoJSONValue, tabwrite } from "./_format.ts";

/** Decoded metrics of either cgroup version. */
export type CgroupMetrics =
  | { version: 1; schema: typeof MetricsV1Schema; data: MetricsV1 }
  | { version: 2; schema: typeof MetricsV2Schema; data: MetricsV2 };

/** The metrics in `data`, by its type URL (with or without a prefix). */
export function decodeMetrics(data: Any | undefined): CgroupMetrics {
  const name = data?.typeUrl.slice(data.typeUrl.lastIndexOf("/") + 1);
  if (data && name === MetricsV1Schema.typeName) {
    return {
      version: 1,
      schema: MetricsV1Schema,
      data: fromBinary(MetricsV1Schema, data.value),
    };
  }
  if (data && name === MetricsV2Schema.typeName) {
    return {
      version: 2,
      schema: MetricsV2Schema,
      data: fromBinary(MetricsV2Schema, data.value),
    };
  }
  throw new Error(
    "cannot convert metric data to cgroups.Metrics or windows.Statistics",
  );
}

/** A Go `%v` of a slice: `[1 2 3]`. */
const slice = (values: readonly bigint[]) => `[${values.join(" ")}]`;

function v1Rows(m: MetricsV1): [string, string][] {
  const rows: [string, string][] = [];
  if (m.memory) {
    rows.push(
      ["memory.usage_in_bytes", `${m.memory.usage?.usage ?? 0n}`],
      ["memory.limit_in_bytes", `${m.memory.usage?.limit ?? 0n}`],
      ["memory.stat.cache", `${m.memory.totalCache}`],
    );
  }
  if (m.cpu) {
    rows.push(
      ["cpuacct.usage", `${m.cpu.usage?.total ?? 0n}`],
      ["cpuacct.usage_percpu", slice(m.cpu.usage?.perCpu ?? [])],
    );
  }
  if (m.pids) {
    rows.push(
      ["pids.current", `${m.pids.current}`],
      ["pids.limit", `${m.pids.limit}`],
    );
  }
  return rows;
}

function v2Rows(m: MetricsV2): [string, string][] {
  const rows: [string, string][] = [];
  if (m.pids) {
    rows.push(
      ["pids.current", `${m.pids.current}`],
      ["pids.limit", `${m.pids.limit}`],
    );
  }
  if (m.cpu) {
    rows.push(
      ["cpu.usage_usec", `${m.cpu.usageUsec}`],
      ["cpu.user_usec", `${m.cpu.userUsec}`],
      ["cpu.system_usec", `${m.cpu.systemUsec}`],
      ["cpu.nr_periods", `${m.cpu.nrPeriods}`],
      ["cpu.nr_throttled", `${m.cpu.nrThrottled}`],
      ["cpu.throttled_usec", `${m.cpu.throttledUsec}`],
    );
  }
  if (m.memory) {
    rows.push(
      ["memory.usage", `${m.memory.usage}`],
      ["memory.usage_limit", `${m.memory.usageLimit}`],
      ["memory.swap_usage", `${m.memory.swapUsage}`],
      ["memory.swap_limit", `${m.memory.swapLimit}`],
    );
  }
  return rows;
}

/** ctr's metrics table: tabwriter(minwidth 1, tabwidth 8, padding 4). */
export function metricsTable(metric: Metric, metrics: CgroupMetrics): string {
  const ts = metric.timestamp;
  const time = formatGoTime(
    new Date(Number(ts?.seconds ?? 0n) * 1000),
    ts?.nanos ?? 0,
  );
  const rows = metrics.version === 1
    ? v1Rows(metrics.data)
    : v2Rows(metrics.data);
  const text = `ID\tTIMESTAMP\t\n${metric.id}\t${time}\t\n\nMETRIC\tVALUE\t\n` +
    rows.map(([k, v]) => `${k}\t${v}\t\n`).join("");
  return tabwrite(text, { minwidth: 1, tabwidth: 8, padding: 4 });
}

function isZero(value: unknown): boolean {
  return value === undefined || value === 0 || value === 0n ||
    value === false || value === "" ||
    (Array.isArray(value) && value.length === 0) ||
    (value instanceof Uint8Array && value.length === 0);
}

function fieldJSON(field: DescField, value: unknown): GoJSONValue {
  if (field.fieldKind === "message") {
    return messageJSON(field.message, value as Message);
  }
  if (field.fieldKind === "list") {
    const items = value as unknown[];
    return field.listKind === "message"
      ? items.map((item) => messageJSON(field.message, item as Message))
      : items as GoJSONValue[];
  }
  return value as GoJSONValue;
}

/** A gogo-generated struct as Go's `encoding/json` writes it. */
function messageJSON(schema: DescMessage, message: Message): GoJSONValue {
  const out: Record<string, GoJSONValue> = {};
  const record = message as unknown as Record<string, unknown>;
  for (const field of schema.fields) {
    const value = record[field.localName];
    if (isZero(value)) continue;
    out[field.name] = fieldJSON(field, value);
  }
  return out;
}

/** The metrics as `json.MarshalIndent(metrics, "", "  ")`. */
export function metricsJSON(metrics: CgroupMetrics): string {
  return goJSON(
    messageJSON(metrics.schema, metrics.data as unknown as Message),
    "  ",
  );
}
