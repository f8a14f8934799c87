/**
 * Namespaces: the tenants. Everything else in the metadata store lives in
 * one, and a namespace can only be deleted once it holds nothing.
 *
 * @module
 */
import {
  alreadyExists,
  failedPrecondition,
  notFound,
  validateIdentifier,
  validateLabels,
} from "../types/mod.ts";
import { updateLabels } from "./_labels.ts";
import type { MetadataDB } from "./db.ts";
import { timestampNow } from "./_time.ts";
import { nanosOf } from "../types/mod.ts";

/** A namespace and its labels. */
export interface Namespace {
  /** The namespace's name (an identifier). */
  name: string;
  /** Its labels. */
  labels: Record<string, string>;
}

/**
 * Reports what kind of object a namespace still holds (`"images"`,
 * `"blobs"` …), or undefined when it holds none of that kind.
 */
export type NamespaceContentCheck = (namespace: string) => string | undefined;

/** Namespace records in the metadata database. */
export class NamespaceStore {
  readonly #db: MetadataDB;
  readonly #checks: NamespaceContentCheck[] = [];

  /** Creates the store over `db`. */
  constructor(db: MetadataDB) {
    this.#db = db;
  }

  /** Adds a check that {@linkcode NamespaceStore.delete} consults. */
  addContentCheck(check: NamespaceContentCheck): void {
    this.#checks.push(check);
  }

  /**
   * The namespace `name` with its labels; as in containerd, one that does
   * not exist yet has no labels (namespaces come into being on use).
   */
  get(name: string): Namespace {
    return this.#find(name) ?? { name, labels: {} };
  }

  #find(name: string): Namespace | undefined {
    const row = this.#db.sql.prepare(
      "SELECT name, labels FROM namespaces WHERE name = ?",
    ).get(name) as { name: string; labels: string } | undefined;
    return row && { name: row.name, labels: JSON.parse(row.labels) };
  }

  /** Every namespace, by name. */
  list(): Namespace[] {
    const rows = this.#db.sql.prepare(
      "SELECT name, labels FROM namespaces ORDER BY name",
    ).all() as { name: string; labels: string }[];
    return rows.map((row) => ({
      name: row.name,
      labels: JSON.parse(row.labels),
    }));
  }

  /** Creates a namespace; AlreadyExists when it does. */
  create(namespace: Namespace): Namespace {
    validateIdentifier(namespace.name);
    validateLabels("namespace", namespace.labels);
    return this.#db.transaction(() => {
      const result = this.#db.sql.prepare(
        "INSERT INTO namespaces (name, labels, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ).run(
        namespace.name,
        JSON.stringify(namespace.labels),
        nanosOf(timestampNow()),
      );
      if (result.changes === 0) {
        throw alreadyExists(`namespace ${JSON.stringify(namespace.name)}`);
      }
      return { name: namespace.name, labels: { ...namespace.labels } };
    });
  }

  /**
   * Creates `name` unless it exists: objects created in a namespace bring
   * it into being, as in containerd.
   */
  ensure(name: string): void {
    validateIdentifier(name);
    this.#db.sql.prepare(
      "INSERT INTO namespaces (name, labels, created_at) VALUES (?, '{}', ?) ON CONFLICT DO NOTHING",
    ).run(name, nanosOf(timestampNow()));
  }

  /**
   * Updates labels. With `paths` (`labels.KEY`), only those keys change (an
   * empty value removes the key); without, the labels are replaced. As in
   * containerd, setting or clearing a label creates a missing namespace.
   */
  update(namespace: Namespace, paths: readonly string[] = []): Namespace {
    validateIdentifier(namespace.name);
    validateLabels("namespace", namespace.labels);
    return this.#db.transaction(() => {
      const current = this.#find(namespace.name);
      const labels = updateLabels(
        current?.labels ?? {},
        namespace.labels,
        paths,
      );
      if (current || paths.length > 0 || Object.keys(labels).length > 0) {
        this.#db.sql.prepare(
          "INSERT INTO namespaces (name, labels, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET labels = excluded.labels",
        ).run(namespace.name, JSON.stringify(labels), nanosOf(timestampNow()));
      }
      return { name: namespace.name, labels };
    });
  }

  /** Deletes an empty namespace; FailedPrecondition when it holds objects. */
  delete(name: string): void {
    this.#db.transaction(() => {
      if (!this.#find(name)) {
        throw notFound(`namespace ${JSON.stringify(name)}`);
      }
      const held = this.#checks.map((check) => check(name)).filter((kind) =>
        kind !== undefined
      );
      if (held.length > 0) {
        throw failedPrecondition(
          `namespace ${JSON.stringify(name)} must be empty, but it still has ${
            held.join(", ")
          }`,
        );
      }
      this.#db.sql.prepare("DELETE FROM namespaces WHERE name = ?").run(name);
    });
  }
}
