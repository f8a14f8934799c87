/**
 * The metadata database as a garbage-collection graph.
 *
 * Roots: leases that have not expired (and what they hold), content
 * labelled `containerd.io/gc.root`, ingests that have not expired, and the
 * roots other stores add (images, containers). References: a blob's
 * `containerd.io/gc.ref.content*` labels name blobs, its
 * `containerd.io/gc.ref.snapshot.<snapshotter>*` labels name snapshots; an
 * ingest references its expected blob. A `containerd.io/gc.flat` lease holds
 * only what it names, not what that references.
 *
 * @module
 */
import { collect, type GcGraph, type GcNode } from "../gc/mod.ts";
import type { NamespacedContentStore } from "./content.ts";
import type { NamespacedSnapshotStore } from "./snapshots.ts";
import type { MetadataDB } from "./db.ts";
import { LABEL_GC_EXPIRE, LABEL_GC_FLAT } from "./leases.ts";

/** The label that makes a blob or snapshot a root. */
export const LABEL_GC_ROOT = "containerd.io/gc.root";
/** Prefix of labels referencing blobs. */
export const LABEL_GC_REF_CONTENT = "containerd.io/gc.ref.content";
/** Prefix of labels referencing snapshots: `…snapshot.<snapshotter>[.suffix]`. */
export const LABEL_GC_REF_SNAPSHOT = "containerd.io/gc.ref.snapshot.";

/** Node types. */
export const ResourceType = {
  content: "content",
  /** Content held by a flat lease: kept, but its references are not followed. */
  contentFlat: "content-flat",
  ingest: "ingest",
  lease: "lease",
  snapshot: "snapshot",
  snapshotFlat: "snapshot-flat",
} as const;

/** The nodes `labels` reference, in `namespace`. */
export function labelReferences(
  namespace: string,
  labels: Record<string, string>,
): GcNode[] {
  const refs: GcNode[] = [];
  for (const [key, value] of Object.entries(labels)) {
    if (key.startsWith(LABEL_GC_REF_CONTENT)) {
      refs.push({ type: ResourceType.content, namespace, key: value });
    } else if (key.startsWith(LABEL_GC_REF_SNAPSHOT)) {
      const snapshotter = key.slice(LABEL_GC_REF_SNAPSHOT.length).split("/")[0]
        .split(".")[0];
      refs.push({
        type: ResourceType.snapshot,
        namespace,
        key: `${snapshotter}/${value}`,
      });
    }
  }
  return refs;
}

/**
 * Nodes of `type` from a query selecting the namespace and then the key
 * column.
 */
function* rowNodes(
  db: MetadataDB,
  type: string,
  query: string,
): Iterable<GcNode> {
  for (const row of db.sql.prepare(query).all()) {
    const [namespace, key] = Object.values(row) as string[];
    yield { type, namespace, key };
  }
}

/** A store's part of the graph. */
export interface GcSource {
  /** Roots this store contributes. */
  roots(now: number): Iterable<GcNode>;
  /** References of a node of a type this store owns, else nothing. */
  references(node: GcNode): Iterable<GcNode>;
  /** Every collectable node this store owns. */
  all(): Iterable<GcNode>;
  /** Removes nodes this store owns (others are ignored). */
  remove(nodes: readonly GcNode[]): void;
}

function expired(labels: Record<string, string>, now: number): boolean {
  const value = labels[LABEL_GC_EXPIRE];
  if (!value) return false;
  const at = Date.parse(value);
  return !Number.isNaN(at) && at < now;
}

/** Leases, content and ingests as graph sources. */
export function contentGcSource(db: MetadataDB): GcSource {
  const sql = db.sql;
  return {
    *roots(now) {
      const leases = sql.prepare("SELECT namespace, id, labels FROM leases")
        .all() as { namespace: string; id: string; labels: string }[];
      for (const lease of leases) {
        const labels = JSON.parse(lease.labels) as Record<string, string>;
        if (expired(labels, now)) continue;
        const flat = LABEL_GC_FLAT in labels;
        yield {
          type: ResourceType.lease,
          namespace: lease.namespace,
          key: lease.id,
        };
        const resources = sql.prepare(
          "SELECT type, id FROM lease_resources WHERE namespace = ? AND lease = ?",
        ).all(lease.namespace, lease.id) as { type: string; id: string }[];
        for (const resource of resources) {
          const [kind, snapshotter] = resource.type.split("/");
          if (kind === "content") {
            yield {
              type: flat ? ResourceType.contentFlat : ResourceType.content,
              namespace: lease.namespace,
              key: resource.id,
            };
          } else if (kind === "ingests") {
            yield {
              type: ResourceType.ingest,
              namespace: lease.namespace,
              key: resource.id,
            };
          } else if (kind === "snapshots") {
            yield {
              type: flat ? ResourceType.snapshotFlat : ResourceType.snapshot,
              namespace: lease.namespace,
              key: `${snapshotter}/${resource.id}`,
            };
          }
        }
      }
      const ingests = sql.prepare(
        "SELECT namespace, ref FROM ingests WHERE expires_at IS NOT NULL AND expires_at >= ?",
      ).all(now) as { namespace: string; ref: string }[];
      for (const ingest of ingests) {
        yield {
          type: ResourceType.ingest,
          namespace: ingest.namespace,
          key: ingest.ref,
        };
      }
      const rootContent = sql.prepare(
        "SELECT namespace, digest FROM content WHERE json_extract(labels, '$.\"containerd.io/gc.root\"') IS NOT NULL",
      ).all() as { namespace: string; digest: string }[];
      for (const content of rootContent) {
        yield {
          type: ResourceType.content,
          namespace: content.namespace,
          key: content.digest,
        };
      }
    },
    *references(node) {
      if (node.type === ResourceType.content) {
        const row = sql.prepare(
          "SELECT labels FROM content WHERE namespace = ? AND digest = ?",
        ).get(node.namespace, node.key) as { labels: string } | undefined;
        if (row) yield* labelReferences(node.namespace, JSON.parse(row.labels));
      } else if (node.type === ResourceType.ingest) {
        const row = sql.prepare(
          "SELECT expected FROM ingests WHERE namespace = ? AND ref = ?",
        ).get(node.namespace, node.key) as { expected: string } | undefined;
        if (row?.expected) {
          yield {
            type: ResourceType.content,
            namespace: node.namespace,
            key: row.expected,
          };
        }
      }
    },
    *all() {
      yield* rowNodes(
        db,
        ResourceType.lease,
        "SELECT namespace, id FROM leases",
      );
      yield* rowNodes(
        db,
        ResourceType.content,
        "SELECT namespace, digest FROM content",
      );
      yield* rowNodes(
        db,
        ResourceType.ingest,
        "SELECT namespace, ref FROM ingests",
      );
    },
    remove(nodes) {
      const statements = {
        [ResourceType.lease]: sql.prepare(
          "DELETE FROM leases WHERE namespace = ? AND id = ?",
        ),
        [ResourceType.content]: sql.prepare(
          "DELETE FROM content WHERE namespace = ? AND digest = ?",
        ),
        [ResourceType.ingest]: sql.prepare(
          "DELETE FROM ingests WHERE namespace = ? AND ref = ?",
        ),
      } as Record<string, ReturnType<typeof sql.prepare>>;
      for (const node of nodes) {
        statements[node.type]?.run(node.namespace, node.key);
      }
    },
  };
}

/** Snapshots as a graph source: parents and label references. */
export function snapshotGcSource(db: MetadataDB): GcSource {
  const sql = db.sql;
  const split = (key: string) => {
    const at = key.indexOf("/");
    return [key.slice(0, at), key.slice(at + 1)];
  };
  return {
    *roots() {
      const rows = sql.prepare(
        "SELECT namespace, snapshotter, key FROM snapshots WHERE json_extract(labels, '$.\"containerd.io/gc.root\"') IS NOT NULL",
      ).all() as { namespace: string; snapshotter: string; key: string }[];
      for (const row of rows) {
        yield {
          type: ResourceType.snapshot,
          namespace: row.namespace,
          key: `${row.snapshotter}/${row.key}`,
        };
      }
    },
    *references(node) {
      if (
        node.type !== ResourceType.snapshot &&
        node.type !== ResourceType.snapshotFlat
      ) return;
      const [snapshotter, key] = split(node.key);
      const row = sql.prepare(
        "SELECT parent, labels FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
      ).get(node.namespace, snapshotter, key) as
        | { parent: string; labels: string }
        | undefined;
      if (!row) return;
      if (row.parent) {
        yield { ...node, key: `${snapshotter}/${row.parent}` };
      }
      if (node.type === ResourceType.snapshot) {
        yield* labelReferences(node.namespace, JSON.parse(row.labels));
      }
    },
    *all() {
      const rows = sql.prepare(
        "SELECT namespace, snapshotter, key FROM snapshots",
      ).all() as { namespace: string; snapshotter: string; key: string }[];
      for (const row of rows) {
        yield {
          type: ResourceType.snapshot,
          namespace: row.namespace,
          key: `${row.snapshotter}/${row.key}`,
        };
      }
    },
    remove(nodes) {
      const statement = sql.prepare(
        "DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
      );
      for (const node of nodes) {
        if (node.type !== ResourceType.snapshot) continue;
        const [snapshotter, key] = split(node.key);
        statement.run(node.namespace, snapshotter, key);
      }
    },
  };
}

/** Images as roots: each keeps its target and what its labels reference. */
export function imageGcSource(db: MetadataDB): GcSource {
  return {
    *roots() {
      const rows = db.sql.prepare(
        "SELECT namespace, labels, target FROM images",
      ).all() as { namespace: string; labels: string; target: string }[];
      for (const row of rows) {
        const target = JSON.parse(row.target) as { digest: string };
        yield {
          type: ResourceType.content,
          namespace: row.namespace,
          key: target.digest,
        };
        yield* labelReferences(row.namespace, JSON.parse(row.labels));
      }
    },
    references: () => [],
    all: () => [],
    remove: () => {},
  };
}

/**
 * Containers as roots: each keeps its snapshot (`snapshotter/snapshot_key`,
 * whenever it names a snapshotter) and what its labels reference.
 */
export function containerGcSource(db: MetadataDB): GcSource {
  return {
    *roots() {
      const rows = db.sql.prepare(
        "SELECT namespace, labels, snapshotter, snapshot_key FROM containers",
      ).all() as {
        namespace: string;
        labels: string;
        snapshotter: string;
        snapshot_key: string;
      }[];
      for (const row of rows) {
        if (row.snapshotter) {
          yield {
            type: ResourceType.snapshot,
            namespace: row.namespace,
            key: `${row.snapshotter}/${row.snapshot_key}`,
          };
        }
        yield* labelReferences(row.namespace, JSON.parse(row.labels));
      }
    },
    references: () => [],
    all: () => [],
    remove: () => {},
  };
}

/** Flat node types stand for the same resource as their full types. */
function identity(node: GcNode): string {
  const type = node.type === ResourceType.contentFlat
    ? ResourceType.content
    : node.type === ResourceType.snapshotFlat
    ? ResourceType.snapshot
    : node.type;
  return `${type}\u0000${node.namespace}\u0000${node.key}`;
}

/** The whole graph over several sources, marked and swept in one transaction. */
export function metadataGraph(
  sources: readonly GcSource[],
  now: number,
): GcGraph {
  return {
    identity,
    *roots() {
      for (const source of sources) yield* source.roots(now);
    },
    *references(node) {
      for (const source of sources) yield* source.references(node);
    },
    *all() {
      for (const source of sources) yield* source.all();
    },
    remove(nodes) {
      for (const source of sources) source.remove(nodes);
    },
  };
}

/** What one collection removed. */
export interface CollectionResult {
  /** Records removed from the database. */
  records: GcNode[];
  /** Blobs removed from disk. */
  blobs: string[];
  /** Backend snapshots removed. */
  snapshots: number;
}

/** Options for {@linkcode collectGarbage}. */
export interface CollectGarbageOptions {
  /** The database. */
  db: MetadataDB;
  /** Every store's part of the graph. */
  sources: readonly GcSource[];
  /** The content store, swept after the records. */
  content: NamespacedContentStore;
  /** The snapshot store, swept after the records. */
  snapshots?: NamespacedSnapshotStore;
}

/** One full collection: mark and sweep the records, then sweep the disk. */
export async function collectGarbage(
  options: CollectGarbageOptions,
): Promise<CollectionResult> {
  const records = options.db.collection(() =>
    collect(metadataGraph(options.sources, Date.now()))
  );
  const blobs = await options.content.sweep();
  const snapshots = await options.snapshots?.sweep() ?? 0;
  return { records, blobs, snapshots };
}
