/**
 * One snapshotter of the daemon, in the client's namespace: the
 * `Snapshots` service by snapshotter name, in the shape berth's image
 * helpers unpack into, with mounts as plain {@linkcode Mount} values.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { Snapshots } from "../gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount } from "../types/mount.ts";
import type { CoreClient as Client } from "./core.ts";
import { isNotFound } from "./errors.ts";

/**
 * A unique suffix for snapshot keys and lease ids, as containerd's
 * clients make them: `NANOS-XXXX`.
 *
 * @example
 * ```ts
 * import { uniquePart } from "@berth/berth/client";
 * console.log(`extract-${uniquePart()}`);
 * ```
 */
export function uniquePart(): string {
  const nanos = (Date.now() % 1000) * 1_000_000 +
    Math.floor((performance.now() % 1) * 1_000_000);
  return `${nanos}-${randomBytes(3).toString("base64url")}`;
}

/**
 * The snapshotter containerd and berth use when none is named.
 *
 * @example
 * ```ts
 * import { DEFAULT_SNAPSHOTTER } from "@berth/berth/client";
 * console.log(DEFAULT_SNAPSHOTTER); // "overlayfs"
 * ```
 */
export const DEFAULT_SNAPSHOTTER = "overlayfs";

/**
 * Mounts from the wire as plain values.
 *
 * @example
 * ```ts
 * import { mountsFromWire } from "@berth/berth/client";
 * console.log(mountsFromWire([{ type: "bind", source: "/a", options: ["rbind"] }]));
 * ```
 */
export function mountsFromWire(
  mounts: readonly { type: string; source: string; options: string[] }[],
): Mount[] {
  return mounts.map(({ type, source, options }) => ({
    type,
    source,
    options: [...options],
  }));
}

/**
 * Options of making and committing snapshots.
 *
 * @example
 * ```ts
 * import { Client, type SnapshotOptions } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const options: SnapshotOptions = { labels: { "containerd.io/gc.root": "now" } };
 * await client.snapshotter().prepare("scratch", "", options);
 * ```
 */
export interface SnapshotOptions {
  /** Labels of the snapshot. */
  labels?: Record<string, string>;
}

/**
 * Information about a snapshot.
 *
 * @example
 * ```ts
 * import { Client, type SnapshotInfo } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const info: SnapshotInfo = await client.snapshotter().stat("scratch");
 * ```
 */
export interface SnapshotInfo {
  /** Its key or name. */
  name: string;
  /** The committed snapshot it is based on ("" for none). */
  parent: string;
  /** `active`, `committed` or `view`. */
  kind: "active" | "committed" | "view" | "unknown";
  /** Its labels. */
  labels: Record<string, string>;
}

const KINDS = ["unknown", "view", "active", "committed"] as const;

/**
 * A snapshotter by name, through the client's context.
 *
 * @example
 * ```ts
 * import { Client, Snapshotter } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const snapshots = new Snapshotter(client, "overlayfs");
 * const mounts = await snapshots.prepare("my-rootfs", "sha256:…");
 * ```
 */
export class Snapshotter {
  /** The snapshotter's name. */
  readonly name: string;
  readonly #client: Client;

  /** `name` ("" for the default) of the daemon behind `client`. */
  constructor(client: Client, name = "") {
    this.#client = client;
    this.name = name || DEFAULT_SNAPSHOTTER;
  }

  get #service() {
    return this.#client.service(Snapshots);
  }

  /** The snapshot's information; NotFoundError when there is none. */
  async stat(key: string): Promise<SnapshotInfo> {
    const { info } = await this.#service.stat({ snapshotter: this.name, key });
    return {
      name: info?.name ?? key,
      parent: info?.parent ?? "",
      kind: KINDS[info?.kind ?? 0] ?? "unknown",
      labels: info?.labels ?? {},
    };
  }

  /** Whether snapshot `key` exists. */
  async exists(key: string): Promise<boolean> {
    try {
      await this.stat(key);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Makes active snapshot `key` on `parent`; returns its mounts. */
  async prepare(
    key: string,
    parent = "",
    options: SnapshotOptions = {},
  ): Promise<Mount[]> {
    const { mounts } = await this.#service.prepare({
      snapshotter: this.name,
      key,
      parent,
      labels: options.labels ?? {},
    });
    return mountsFromWire(mounts);
  }

  /** Makes read-only view `key` of `parent`; returns its mounts. */
  async view(
    key: string,
    parent: string,
    options: SnapshotOptions = {},
  ): Promise<Mount[]> {
    const { mounts } = await this.#service.view({
      snapshotter: this.name,
      key,
      parent,
      labels: options.labels ?? {},
    });
    return mountsFromWire(mounts);
  }

  /** The mounts of active snapshot or view `key`. */
  async mounts(key: string): Promise<Mount[]> {
    const { mounts } = await this.#service.mounts({
      snapshotter: this.name,
      key,
    });
    return mountsFromWire(mounts);
  }

  /** Commits active snapshot `key` as `name`. */
  async commit(
    name: string,
    key: string,
    options: SnapshotOptions = {},
  ): Promise<void> {
    await this.#service.commit({
      snapshotter: this.name,
      name,
      key,
      labels: options.labels ?? {},
    });
  }

  /** Removes snapshot `key`. */
  async remove(key: string): Promise<void> {
    await this.#service.remove({ snapshotter: this.name, key });
  }
}
