/**
 * Leases: named, namespaced holds on resources. While a lease lives (and
 * has not passed its `containerd.io/gc.expire`), what it holds survives
 * garbage collection. Anything created by a request carrying a lease is
 * added to it.
 *
 * @module
 */
import { fieldsAdaptor, parseFilters } from "../filters/mod.ts";
import {
  alreadyExists,
  BerthError,
  Code,
  invalidArgument,
  notFound,
  validateLabels,
} from "../types/mod.ts";
import type { MetadataDB } from "./db.ts";
import type { NamespaceStore } from "./namespaces.ts";
import { validateDigest } from "../content/mod.ts";
import { fromNanosColumn, nanosColumn, timestampNow } from "./_time.ts";
import { nanosOf } from "../types/mod.ts";

/** A lease and its labels. */
export interface Lease {
  /** Its id. */
  id: string;
  /** When it was created. */
  createdAt: Date;
  /** Its labels (`containerd.io/gc.expire`, `containerd.io/gc.flat` …). */
  labels: Record<string, string>;
}

/** One resource held by a lease. */
export interface LeaseResource {
  /** The resource's key: a digest, an ingest ref, a snapshot key. */
  id: string;
  /** `content`, `ingests` or `snapshots/<snapshotter>`. */
  type: string;
}

/** The label giving a lease (or ingest) its expiry, RFC 3339. */
export const LABEL_GC_EXPIRE = "containerd.io/gc.expire";
/** The label that makes a lease hold only its direct resources. */
export const LABEL_GC_FLAT = "containerd.io/gc.flat";

/** Longest lease id accepted. Ids are keys only, never paths. */
const MAX_LEASE_ID = 256;

interface LeaseRow {
  id: string;
  labels: string;
  created_at: string;
}

function toLease(row: LeaseRow): Lease {
  return {
    id: row.id,
    createdAt: fromNanosColumn(row.created_at),
    labels: JSON.parse(row.labels),
  };
}

/** Checks a resource's type and id as containerd does. */
function validateResource(resource: LeaseResource): void {
  const [kind, ...rest] = resource.type.split("/");
  switch (kind) {
    case "content":
    case "ingests":
      if (rest.length > 0) {
        throw invalidArgument(`invalid resource type ${resource.type}`);
      }
      if (kind === "content") {
        try {
          validateDigest(resource.id);
        } catch (err) {
          throw invalidArgument(
            `invalid content resource id ${resource.id}: ${
              (err as Error).message
            }`,
          );
        }
      }
      return;
    case "snapshots":
      if (rest.length !== 1 || rest[0] === "") {
        throw invalidArgument(
          `invalid snapshot resource type ${resource.type}`,
        );
      }
      return;
    default:
      throw new BerthError(
        Code.Unimplemented,
        `resource type ${resource.type} not supported yet`,
      );
  }
}

/** Lease records in the metadata database. */
export class LeaseStore {
  readonly #db: MetadataDB;
  readonly #namespaces: NamespaceStore;

  /** Creates the store over `db`. */
  constructor(db: MetadataDB, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
  }

  /** Creates a lease; AlreadyExists when the id is taken in `namespace`. */
  create(
    namespace: string,
    lease: { id: string; labels?: Record<string, string> },
  ): Lease {
    if (!lease.id) throw invalidArgument("lease id must be provided");
    if (
      lease.id.length > MAX_LEASE_ID ||
      [...lease.id].some((c) => c.charCodeAt(0) < 0x20)
    ) {
      throw invalidArgument(
        `lease id ${JSON.stringify(lease.id)} is not valid`,
      );
    }
    const labels = lease.labels ?? {};
    validateLabels("lease", labels);
    return this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      const createdAt = timestampNow();
      const result = this.#db.sql.prepare(
        "INSERT INTO leases (namespace, id, labels, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      ).run(namespace, lease.id, JSON.stringify(labels), nanosOf(createdAt));
      if (result.changes === 0) {
        throw alreadyExists(`lease ${JSON.stringify(lease.id)}`);
      }
      return { id: lease.id, createdAt, labels };
    });
  }

  /** The lease `id`, or NotFound. */
  get(namespace: string, id: string): Lease {
    const row = this.#db.sql.prepare(
      `SELECT id, labels, ${
        nanosColumn("created_at")
      } FROM leases WHERE namespace = ? AND id = ?`,
    ).get(namespace, id) as LeaseRow | undefined;
    if (!row) throw notFound(`lease ${JSON.stringify(id)}`);
    return toLease(row);
  }

  /** Deletes a lease; what it held is collectable afterwards. */
  delete(namespace: string, id: string): void {
    this.#db.transaction(() => {
      const result = this.#db.sql.prepare(
        "DELETE FROM leases WHERE namespace = ? AND id = ?",
      ).run(namespace, id);
      if (result.changes === 0) throw notFound(`lease ${JSON.stringify(id)}`);
      this.#db.markDirty();
    });
  }

  /** Leases of `namespace` matching any of `filters` (fields `id`, `labels`). */
  list(namespace: string, filters: readonly string[] = []): Lease[] {
    const filter = parseFilters(filters);
    const rows = this.#db.sql.prepare(
      `SELECT id, labels, ${
        nanosColumn("created_at")
      } FROM leases WHERE namespace = ? ORDER BY id`,
    ).all(namespace) as unknown as LeaseRow[];
    return rows.map(toLease).filter((lease) =>
      filter.match(fieldsAdaptor({ id: lease.id, labels: lease.labels }))
    );
  }

  /** Adds a resource to lease `id`. */
  addResource(namespace: string, id: string, resource: LeaseResource): void {
    validateResource(resource);
    this.#db.transaction(() => {
      this.get(namespace, id);
      this.#db.sql.prepare(
        "INSERT INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      ).run(namespace, id, resource.type, resource.id);
    });
  }

  /** Removes a resource from lease `id`. */
  deleteResource(namespace: string, id: string, resource: LeaseResource): void {
    validateResource(resource);
    this.#db.transaction(() => {
      this.get(namespace, id);
      this.#db.sql.prepare(
        "DELETE FROM lease_resources WHERE namespace = ? AND lease = ? AND type = ? AND id = ?",
      ).run(namespace, id, resource.type, resource.id);
      this.#db.markDirty();
    });
  }

  /** Resources held by lease `id`. */
  listResources(namespace: string, id: string): LeaseResource[] {
    this.get(namespace, id);
    return this.#db.sql.prepare(
      "SELECT id, type FROM lease_resources WHERE namespace = ? AND lease = ? ORDER BY type, id",
    ).all(namespace, id) as unknown as LeaseResource[];
  }

  /**
   * Adds a resource to the request's lease, if it has one; NotFound when the
   * lease does not exist. For stores creating resources in a transaction.
   */
  hold(
    namespace: string,
    lease: string | undefined,
    resource: LeaseResource,
  ): void {
    if (lease === undefined) return;
    const exists = this.#db.sql.prepare(
      "SELECT 1 FROM leases WHERE namespace = ? AND id = ?",
    ).get(namespace, lease);
    if (!exists) throw notFound("lease does not exist");
    this.#db.sql.prepare(
      "INSERT INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ).run(namespace, lease, resource.type, resource.id);
  }

  /** Removes a resource from the request's lease, if it has one. */
  release(
    namespace: string,
    lease: string | undefined,
    resource: LeaseResource,
  ): void {
    if (lease === undefined) return;
    this.#db.sql.prepare(
      "DELETE FROM lease_resources WHERE namespace = ? AND lease = ? AND type = ? AND id = ?",
    ).run(namespace, lease, resource.type, resource.id);
  }
}
