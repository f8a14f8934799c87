/**
 * An OCI runtime spec as JSON in the field order Go's `encoding/json`
 * writes the runtime-spec structs (and map keys sorted), so that a
 * container berth's client creates reads back (`ctr containers info`)
 * exactly like one the real ctr creates.
 *
 * @module
 */
import type { Spec, SpecProcess } from "../oci/spec.ts";

/** The struct fields of each spec object, by its path, in Go's order. */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  "": [
    "ociVersion",
    "process",
    "root",
    "hostname",
    "mounts",
    "hooks",
    "annotations",
    "linux",
  ],
  "process": [
    "terminal",
    "consoleSize",
    "user",
    "args",
    "commandLine",
    "env",
    "cwd",
    "capabilities",
    "rlimits",
    "noNewPrivileges",
    "apparmorProfile",
    "oomScoreAdj",
    "selinuxLabel",
  ],
  "process.consoleSize": ["height", "width"],
  "process.user": ["uid", "gid", "umask", "additionalGids", "username"],
  "process.capabilities": [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
  ],
  "process.rlimits[]": ["type", "hard", "soft"],
  "root": ["path", "readonly"],
  "mounts[]": ["destination", "type", "source", "options"],
  "linux": [
    "uidMappings",
    "gidMappings",
    "sysctl",
    "resources",
    "cgroupsPath",
    "namespaces",
    "devices",
    "seccomp",
    "rootfsPropagation",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "intelRdt",
    "personality",
  ],
  "linux.resources": [
    "devices",
    "memory",
    "cpu",
    "pids",
    "blockIO",
    "hugepageLimits",
    "network",
    "rdma",
    "unified",
  ],
  "linux.resources.devices[]": ["allow", "type", "major", "minor", "access"],
  "linux.resources.memory": [
    "limit",
    "reservation",
    "swap",
    "kernel",
    "kernelTCP",
    "swappiness",
    "disableOOMKiller",
    "useHierarchy",
  ],
  "linux.resources.cpu": [
    "shares",
    "quota",
    "period",
    "realtimeRuntime",
    "realtimePeriod",
    "cpus",
    "mems",
  ],
  "linux.namespaces[]": ["type", "path"],
  "linux.devices[]": [
    "path",
    "type",
    "major",
    "minor",
    "fileMode",
    "uid",
    "gid",
  ],
};

/** Go maps in the spec: their keys are written sorted. */
const MAPS = new Set([
  "annotations",
  "linux.sysctl",
  "linux.resources.unified",
]);

type Json = unknown;

function ordered(value: Json, path: string): Json {
  if (Array.isArray(value)) {
    return value.map((v) => ordered(v, `${path}[]`));
  }
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, Json>;
  let keys = Object.keys(object);
  if (MAPS.has(path)) keys = keys.sort();
  const fields = FIELDS[path];
  if (fields) {
    // Fields unknown here keep their place after the known ones.
    keys = [
      ...fields.filter((k) => k in object),
      ...keys.filter((k) => !fields.includes(k)),
    ];
  }
  const out: Record<string, Json> = {};
  for (const key of keys) {
    if (object[key] === undefined) continue;
    out[key] = ordered(object[key], path ? `${path}.${key}` : key);
  }
  return out;
}

/**
 * `spec` as JSON with Go's field order.
 *
 * @example
 * ```ts
 * import { specJSON } from "./spec_json.ts";
 * import { defaultSpec } from "../oci/spec.ts";
 * console.log(specJSON(defaultSpec({ id: "c1", namespace: "default" })));
 * ```
 */
export function specJSON(spec: Spec): string {
  return JSON.stringify(ordered(spec, ""));
}

/**
 * A process spec (an exec's) as JSON with Go's field order.
 *
 * @example
 * ```ts
 * import { processJSON } from "./spec_json.ts";
 * console.log(processJSON({ args: ["sh"], cwd: "/", user: { uid: 0, gid: 0 } }));
 * ```
 */
export function processJSON(process: SpecProcess): string {
  return JSON.stringify(ordered(process, "process"));
}
