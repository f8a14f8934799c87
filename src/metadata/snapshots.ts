/**
 * Snapshots as tenants see them: each namespace has its own keys, parents
 * and labels over the backend snapshotters, which hold the bytes under
 * private backend keys (`<namespace>/<sequence>/<key>`).
 *
 * Removing a snapshot drops its record at once; the backend snapshot goes
 * with the next garbage collection ({@linkcode NamespacedSnapshotStore.sweep}).
 *
 * @module
 */
import { fieldsAdaptor, parseFilters } from "../filters/mod.ts";
import type {
  SnapshotInfo,
  SnapshotKind,
  Snapshotter,
  Usage,
} from "../snapshots/mod.ts";
import {
  alreadyExists,
  BerthError,
  Code,
  failedPrecondition,
  invalidArgument,
  type Mount,
  notFound,
  validateLabels,
} from "../types/mod.ts";
import { updateLabels } from "./_labels.ts";
import { type MetadataDB, nextSequence } from "./db.ts";
import type { LeaseStore } from "./leases.ts";
import type { NamespaceStore } from "./namespaces.ts";
import { fromNanosColumn, nanosColumn, timestampNow } from "./_time.ts";
import { nanosOf } from "../types/mod.ts";

interface SnapshotRow {
  key: string;
  backend_key: string;
  parent: string;
  kind: SnapshotKind;
  labels: string;
  created_at: string;
  updated_at: string;
}

const COLUMNS = `key, backend_key, parent, kind, labels, ${
  nanosColumn("created_at")
}, ${nanosColumn("updated_at")}`;

function toInfo(row: SnapshotRow): SnapshotInfo {
  return {
    kind: row.kind,
    name: row.key,
    parent: row.parent,
    labels: JSON.parse(row.labels),
    createdAt: fromNanosColumn(row.created_at),
    updatedAt: fromNanosColumn(row.updated_at),
  };
}

function describe(key: string): string {
  return `snapshot ${key}`;
}

/** Options for {@linkcode NamespacedSnapshotStore}. */
export interface NamespacedSnapshotStoreOptions {
  /** The database. */
  db: MetadataDB;
  /** The backend snapshotters by name (`overlayfs`, `native`). */
  snapshotters: ReadonlyMap<string, Snapshotter>;
  /** Namespaces (created on first use). */
  namespaces: NamespaceStore;
  /** Leases, which hold snapshots created under them. */
  leases: LeaseStore;
}

/** Options of prepare, view and commit. */
export interface SnapshotOptions {
  /** Labels of the new snapshot. */
  labels?: Record<string, string>;
  /** The request's lease. */
  lease?: string;
}

/** Per-namespace snapshots over the backend snapshotters. */
export class NamespacedSnapshotStore {
  readonly #db: MetadataDB;
  readonly #snapshotters: ReadonlyMap<string, Snapshotter>;
  readonly #namespaces: NamespaceStore;
  readonly #leases: LeaseStore;

  /** Creates the store; registers its check on namespace deletion. */
  constructor(options: NamespacedSnapshotStoreOptions) {
    this.#db = options.db;
    this.#snapshotters = options.snapshotters;
    this.#namespaces = options.namespaces;
    this.#leases = options.leases;
    this.#namespaces.addContentCheck((namespace) => {
      const row = this.#db.sql.prepare(
        "SELECT snapshotter FROM snapshots WHERE namespace = ? LIMIT 1",
      ).get(namespace) as { snapshotter: string } | undefined;
      return row
        ? `snapshots on ${JSON.stringify(row.snapshotter)} snapshotter`
        : undefined;
    });
  }

  /** The backend snapshotter `name`, or NotFound. */
  snapshotter(name: string): Snapshotter {
    const snapshotter = this.#snapshotters.get(name);
    if (!snapshotter) throw notFound(`snapshotter ${JSON.stringify(name)}`);
    return snapshotter;
  }

  #row(namespace: string, snapshotter: string, key: string) {
    return this.#db.sql.prepare(
      `SELECT ${COLUMNS} FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?`,
    ).get(namespace, snapshotter, key) as SnapshotRow | undefined;
  }

  #require(namespace: string, snapshotter: string, key: string): SnapshotRow {
    if (!key) throw invalidArgument("snapshot key must not be empty");
    const row = this.#row(namespace, snapshotter, key);
    if (!row) throw notFound(`${describe(key)} does not exist`);
    return row;
  }

  /** Information about `key`. */
  stat(namespace: string, snapshotter: string, key: string): SnapshotInfo {
    this.snapshotter(snapshotter);
    return toInfo(this.#require(namespace, snapshotter, key));
  }

  /** Updates labels (`labels`, `labels.KEY`; no paths replaces them all). */
  update(
    namespace: string,
    snapshotter: string,
    update: { name: string; labels: Record<string, string> },
    paths: readonly string[] = [],
  ): SnapshotInfo {
    this.snapshotter(snapshotter);
    validateLabels("info", update.labels);
    return this.#db.transaction(() => {
      const row = this.#require(namespace, snapshotter, update.name);
      const labels = updateLabels(
        JSON.parse(row.labels),
        update.labels,
        paths,
        `snapshot ${JSON.stringify(update.name)}`,
      );
      const now = String(nanosOf(timestampNow()));
      this.#db.sql.prepare(
        "UPDATE snapshots SET labels = ?, updated_at = ? WHERE namespace = ? AND snapshotter = ? AND key = ?",
      ).run(JSON.stringify(labels), now, namespace, snapshotter, update.name);
      return toInfo({
        ...row,
        labels: JSON.stringify(labels),
        updated_at: now,
      });
    });
  }

  /** Snapshots matching any of `filters` (`kind`, `name`, `parent`, `labels`). */
  list(
    namespace: string,
    snapshotter: string,
    filters: readonly string[] = [],
  ): SnapshotInfo[] {
    this.snapshotter(snapshotter);
    const filter = parseFilters(filters);
    const rows = this.#db.sql.prepare(
      `SELECT ${COLUMNS} FROM snapshots WHERE namespace = ? AND snapshotter = ? ORDER BY key`,
    ).all(namespace, snapshotter) as unknown as SnapshotRow[];
    return rows.map(toInfo).filter((info) =>
      filter.match(fieldsAdaptor({
        kind: info.kind,
        name: info.name,
        parent: info.parent,
        labels: info.labels,
      }))
    );
  }

  /** The mounts of an active snapshot or view. */
  async mounts(
    namespace: string,
    snapshotter: string,
    key: string,
  ): Promise<Mount[]> {
    const backend = this.snapshotter(snapshotter);
    const row = this.#require(namespace, snapshotter, key);
    return await backend.mounts(row.backend_key);
  }

  /** Disk usage of `key`. */
  async usage(
    namespace: string,
    snapshotter: string,
    key: string,
  ): Promise<Usage> {
    const backend = this.snapshotter(snapshotter);
    const row = this.#require(namespace, snapshotter, key);
    return await backend.usage(row.backend_key);
  }

  /** Creates an active snapshot on `parent`; returns its mounts. */
  prepare(
    namespace: string,
    snapshotter: string,
    key: string,
    parent: string,
    options: SnapshotOptions = {},
  ): Promise<Mount[]> {
    return this.#create(namespace, snapshotter, "active", key, parent, options);
  }

  /** Creates a read-only view of `parent`; returns its mounts. */
  view(
    namespace: string,
    snapshotter: string,
    key: string,
    parent: string,
    options: SnapshotOptions = {},
  ): Promise<Mount[]> {
    return this.#create(namespace, snapshotter, "view", key, parent, options);
  }

  async #create(
    namespace: string,
    snapshotter: string,
    kind: "active" | "view",
    key: string,
    parent: string,
    options: SnapshotOptions,
  ): Promise<Mount[]> {
    const backend = this.snapshotter(snapshotter);
    if (!key) throw invalidArgument("snapshot key must not be empty");
    const labels = options.labels ?? {};
    validateLabels("info", labels);
    // Reserve the key first, so a concurrent prepare of it fails cleanly.
    const { backendKey, backendParent } = this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      if (this.#row(namespace, snapshotter, key)) {
        throw alreadyExists(`snapshot ${JSON.stringify(key)}`);
      }
      let backendParent = "";
      if (parent) {
        const parentRow = this.#row(namespace, snapshotter, parent);
        if (!parentRow) {
          throw notFound(`parent snapshot ${parent} does not exist`);
        }
        if (parentRow.kind !== "committed") {
          throw invalidArgument(
            `parent snapshot ${parent} is not committed`,
          );
        }
        backendParent = parentRow.backend_key;
      }
      const backendKey = `${namespace}/${
        nextSequence(this.#db, `snapshots/${snapshotter}`)
      }/${key}`;
      const now = nanosOf(timestampNow());
      this.#db.sql.prepare(
        "INSERT INTO snapshots (namespace, snapshotter, key, backend_key, parent, kind, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(
        namespace,
        snapshotter,
        key,
        backendKey,
        parent,
        kind,
        JSON.stringify(labels),
        now,
        now,
      );
      this.#leases.hold(namespace, options.lease, {
        type: `snapshots/${snapshotter}`,
        id: key,
      });
      return { backendKey, backendParent };
    });
    try {
      return kind === "active"
        ? await backend.prepare(backendKey, backendParent || undefined)
        : await backend.view(backendKey, backendParent || undefined);
    } catch (err) {
      this.#db.transaction(() => this.#delete(namespace, snapshotter, key));
      throw err;
    }
  }

  #delete(namespace: string, snapshotter: string, key: string) {
    this.#db.sql.prepare(
      "DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
    ).run(namespace, snapshotter, key);
    this.#db.sql.prepare(
      "DELETE FROM lease_resources WHERE namespace = ? AND type = ? AND id = ?",
    ).run(namespace, `snapshots/${snapshotter}`, key);
  }

  /** Commits active snapshot `key` as `name`. */
  async commit(
    namespace: string,
    snapshotter: string,
    name: string,
    key: string,
    options: SnapshotOptions = {},
  ): Promise<void> {
    const backend = this.snapshotter(snapshotter);
    if (!name) throw invalidArgument("snapshot name must not be empty");
    const labels = options.labels ?? {};
    validateLabels("info", labels);
    const row = this.#require(namespace, snapshotter, key);
    if (row.kind !== "active") {
      throw failedPrecondition(`snapshot ${JSON.stringify(key)} is not active`);
    }
    if (this.#row(namespace, snapshotter, name)) {
      throw alreadyExists(`snapshot ${JSON.stringify(name)}`);
    }
    const backendName = this.#db.transaction(() =>
      `${namespace}/${
        nextSequence(this.#db, `snapshots/${snapshotter}`)
      }/${name}`
    );
    await backend.commit(backendName, row.backend_key);
    this.#db.transaction(() => {
      const now = nanosOf(timestampNow());
      this.#db.sql.prepare(
        "UPDATE snapshots SET key = ?, backend_key = ?, kind = 'committed', labels = ?, created_at = ?, updated_at = ? WHERE namespace = ? AND snapshotter = ? AND key = ?",
      ).run(
        name,
        backendName,
        JSON.stringify(labels),
        now,
        now,
        namespace,
        snapshotter,
        key,
      );
      this.#db.sql.prepare(
        "DELETE FROM lease_resources WHERE namespace = ? AND type = ? AND id = ?",
      ).run(namespace, `snapshots/${snapshotter}`, key);
      this.#leases.hold(namespace, options.lease, {
        type: `snapshots/${snapshotter}`,
        id: name,
      });
    });
  }

  /**
   * Removes `key` from the namespace; FailedPrecondition while it has
   * children. Its bytes go with the next sweep.
   */
  remove(namespace: string, snapshotter: string, key: string): void {
    this.snapshotter(snapshotter);
    this.#db.transaction(() => {
      this.#require(namespace, snapshotter, key);
      const child = this.#db.sql.prepare(
        "SELECT 1 FROM snapshots WHERE namespace = ? AND snapshotter = ? AND parent = ? LIMIT 1",
      ).get(namespace, snapshotter, key);
      if (child) {
        throw failedPrecondition("cannot remove snapshot with child");
      }
      this.#delete(namespace, snapshotter, key);
      this.#db.markDirty();
    });
  }

  /**
   * Removes backend snapshots no record points to, children first; returns
   * how many went.
   */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const [name, backend] of this.#snapshotters) {
      const known = new Set(
        (this.#db.sql.prepare(
          "SELECT backend_key FROM snapshots WHERE snapshotter = ?",
        ).all(name) as { backend_key: string }[]).map((row) => row.backend_key),
      );
      const infos: SnapshotInfo[] = [];
      for await (const info of backend.walk()) infos.push(info);
      const orphans = new Set(
        infos.filter((info) => !known.has(info.name)).map((info) => info.name),
      );
      // Remove leaves first: a parent goes once its children have.
      let progress = true;
      while (orphans.size > 0 && progress) {
        progress = false;
        const parents = new Set(
          infos.filter((info) => orphans.has(info.name) || known.has(info.name))
            .map((info) => info.parent),
        );
        for (const key of [...orphans]) {
          if (parents.has(key)) continue;
          try {
            await backend.remove(key);
            removed++;
          } catch (err) {
            if (!BerthError.is(err, Code.NotFound)) throw err;
          }
          orphans.delete(key);
          infos.splice(infos.findIndex((info) => info.name === key), 1);
          progress = true;
        }
      }
      await backend.cleanup();
    }
    return removed;
  }
}
