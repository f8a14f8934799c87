/**
 * Named network namespace records: which file holds each tenant's netns,
 * its labels and the container that owns it. The files themselves are
 * `src/netns/`'s business.
 *
 * @module
 */
import {
  alreadyExists,
  notFound,
  validateIdentifier,
  validateLabels,
} from "../types/mod.ts";
import { updateLabels } from "./_labels.ts";
import type { MetadataDB } from "./db.ts";
import type { NamespaceStore } from "./namespaces.ts";

/** A named network namespace record. */
export interface NetnsRecord {
  /** Its name (an identifier), unique in its tenant namespace. */
  name: string;
  /** The bind-mounted file. */
  path: string;
  /** The container that owns it; "" for none. */
  owner: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** When it was created. */
  createdAt: Date;
  /** When its labels last changed. */
  updatedAt: Date;
}

interface NetnsRow {
  name: string;
  path: string;
  owner: string;
  labels: string;
  created_at: number;
  updated_at: number;
}

function toRecord(row: NetnsRow): NetnsRecord {
  return {
    name: row.name,
    path: row.path,
    owner: row.owner,
    labels: JSON.parse(row.labels),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

const COLUMNS = "name, path, owner, labels, created_at, updated_at";

/** Network namespace records in the metadata database. */
export class NetnsStore {
  readonly #db: MetadataDB;
  readonly #namespaces: NamespaceStore;

  /** Creates the store over `db`; a tenant with netns cannot be deleted. */
  constructor(db: MetadataDB, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
    namespaces.addContentCheck((namespace) =>
      this.list(namespace).length > 0 ? "network namespaces" : undefined
    );
  }

  /** The netns `name` of `namespace`, or NotFound. */
  get(namespace: string, name: string): NetnsRecord {
    const row = this.#db.sql.prepare(
      `SELECT ${COLUMNS} FROM netns WHERE namespace = ? AND name = ?`,
    ).get(namespace, name) as NetnsRow | undefined;
    if (!row) throw notFound(`network namespace ${JSON.stringify(name)}`);
    return toRecord(row);
  }

  /** Every netns of `namespace`, by name. */
  list(namespace: string): NetnsRecord[] {
    return (this.#db.sql.prepare(
      `SELECT ${COLUMNS} FROM netns WHERE namespace = ? ORDER BY name`,
    ).all(namespace) as unknown as NetnsRow[]).map(toRecord);
  }

  /** Every netns of every tenant, for reconciliation at start. */
  listAll(): (NetnsRecord & { namespace: string })[] {
    return (this.#db.sql.prepare(
      `SELECT namespace, ${COLUMNS} FROM netns ORDER BY namespace, name`,
    ).all() as unknown as (NetnsRow & { namespace: string })[]).map((row) => ({
      namespace: row.namespace,
      ...toRecord(row),
    }));
  }

  /**
   * Records a netns; AlreadyExists when the name is taken. `create` runs
   * inside the transaction after the checks (it makes the file), so a
   * failure there records nothing.
   */
  create(
    namespace: string,
    record: Pick<NetnsRecord, "name" | "path" | "owner" | "labels">,
    create: () => void = () => {},
  ): NetnsRecord {
    validateIdentifier(record.name);
    validateLabels("network namespace", record.labels);
    return this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      const now = Date.now();
      const result = this.#db.sql.prepare(
        `INSERT INTO netns (namespace, name, path, owner, labels, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(
        namespace,
        record.name,
        record.path,
        record.owner,
        JSON.stringify(record.labels),
        now,
        now,
      );
      if (result.changes === 0) {
        throw alreadyExists(`network namespace ${JSON.stringify(record.name)}`);
      }
      create();
      return this.get(namespace, record.name);
    });
  }

  /** Updates labels with containerd's field paths (see `updateLabels`). */
  updateLabels(
    namespace: string,
    name: string,
    labels: Record<string, string>,
    paths: readonly string[],
  ): NetnsRecord {
    validateLabels("network namespace", labels);
    return this.#db.transaction(() => {
      const current = this.get(namespace, name);
      const next = updateLabels(
        current.labels,
        labels,
        paths,
        `network namespace ${JSON.stringify(name)}`,
      );
      this.#db.sql.prepare(
        "UPDATE netns SET labels = ?, updated_at = ? WHERE namespace = ? AND name = ?",
      ).run(JSON.stringify(next), Date.now(), namespace, name);
      return this.get(namespace, name);
    });
  }

  /** Forgets a netns record; NotFound when absent. */
  delete(namespace: string, name: string): void {
    const result = this.#db.sql.prepare(
      "DELETE FROM netns WHERE namespace = ? AND name = ?",
    ).run(namespace, name);
    if (result.changes === 0) {
      throw notFound(`network namespace ${JSON.stringify(name)}`);
    }
  }
}
