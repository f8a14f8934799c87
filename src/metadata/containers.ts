/**
 * Container records: metadata only (no running state). A container names
 * its image, runtime, OCI spec and root filesystem snapshot; it is a
 * garbage-collection root for that snapshot and for what its labels
 * reference.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  fieldsAdaptor,
  FilterSyntaxError,
  parseFilters,
} from "../filters/mod.ts";
import {
  alreadyExists,
  BerthError,
  invalidArgument,
  notFound,
  validateIdentifier,
  validateLabels,
} from "../types/mod.ts";
import { updateLabels } from "./_labels.ts";
import type { MetadataDB } from "./db.ts";
import type { NamespaceStore } from "./namespaces.ts";
import { fromNanosColumn, nanosColumn, timestampNow } from "./_time.ts";
import { nanosOf } from "../types/mod.ts";

/** A protobuf `Any` kept opaque: its type URL and encoded bytes. */
export interface TypedValue {
  /** The type URL (`types.containerd.io/opencontainers/runtime-spec/1/Spec`). */
  typeUrl: string;
  /** The encoded message. */
  value: Uint8Array;
}

/** The runtime a container runs with. */
export interface ContainerRuntime {
  /** Its name (`io.containerd.runc.v2`). */
  name: string;
  /** Options for the runtime, opaque here. */
  options?: TypedValue;
}

/** A container record. */
export interface Container {
  /** Its id (an identifier). */
  id: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** The image it was made from (a name; not checked). */
  image: string;
  /** The runtime it runs with. */
  runtime: ContainerRuntime;
  /** The OCI runtime spec, opaque here. */
  spec?: TypedValue;
  /** The snapshotter of its root filesystem. */
  snapshotter: string;
  /** The key of its root filesystem snapshot. */
  snapshotKey: string;
  /** Extensions by name, opaque here. */
  extensions: Record<string, TypedValue>;
  /** When it was created. */
  createdAt: Date;
  /** When it last changed. */
  updatedAt: Date;
}

/** What a caller gives to create or update a container. */
export type ContainerInput =
  & Pick<Container, "id">
  & Partial<Omit<Container, "id" | "createdAt" | "updatedAt">>;

interface ContainerRow {
  id: string;
  labels: string;
  image: string;
  runtime_name: string;
  runtime_options_type: string | null;
  runtime_options: Uint8Array | null;
  spec_type: string | null;
  spec: Uint8Array | null;
  snapshotter: string;
  snapshot_key: string;
  extensions: string;
  created_at: string;
  updated_at: string;
}

const COLUMNS =
  "id, labels, image, runtime_name, runtime_options_type, runtime_options, spec_type, spec, snapshotter, snapshot_key, extensions, created_at, updated_at";
/** {@linkcode COLUMNS} as read: the timestamps whole. */
const SELECTED = COLUMNS.replace(
  "created_at, updated_at",
  `${nanosColumn("created_at")}, ${nanosColumn("updated_at")}`,
);

function typed(
  typeUrl: string | null,
  value: Uint8Array | null,
): TypedValue | undefined {
  return typeUrl === null
    ? undefined
    : { typeUrl, value: new Uint8Array(value ?? []) };
}

function encodeExtensions(extensions: Record<string, TypedValue>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.entries(extensions).map(([name, ext]) => [
        name,
        {
          typeUrl: ext.typeUrl,
          value: Buffer.from(ext.value).toString("base64"),
        },
      ]),
    ),
  );
}

function decodeExtensions(json: string): Record<string, TypedValue> {
  const stored = JSON.parse(json) as Record<
    string,
    { typeUrl: string; value: string }
  >;
  return Object.fromEntries(
    Object.entries(stored).map(([name, ext]) => [
      name,
      {
        typeUrl: ext.typeUrl,
        value: new Uint8Array(Buffer.from(ext.value, "base64")),
      },
    ]),
  );
}

function toContainer(row: ContainerRow): Container {
  return {
    id: row.id,
    labels: JSON.parse(row.labels),
    image: row.image,
    runtime: {
      name: row.runtime_name,
      options: typed(row.runtime_options_type, row.runtime_options),
    },
    spec: typed(row.spec_type, row.spec),
    snapshotter: row.snapshotter,
    snapshotKey: row.snapshot_key,
    extensions: decodeExtensions(row.extensions),
    createdAt: fromNanosColumn(row.created_at),
    updatedAt: fromNanosColumn(row.updated_at),
  };
}

/** A missing container's NotFound. */
function containerNotFound(namespace: string, id: string): BerthError {
  return notFound(
    `container ${JSON.stringify(id)} in namespace ${JSON.stringify(namespace)}`,
  );
}

/** Labels as stored: an empty value means no label, as in containerd. */
function storedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).filter(([, value]) => value !== ""),
  );
}

/** Prefixes the message of a validation error with `context`. */
function withContext(context: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof BerthError) err.message = `${context}: ${err.message}`;
    throw err;
  }
}

/** Checks a container as containerd does. */
function validateContainer(container: ContainerInput): void {
  withContext("container.ID", () => validateIdentifier(container.id));
  for (const name of Object.keys(container.extensions ?? {})) {
    if (name === "") {
      throw invalidArgument(
        "container.Extension keys must not be zero-length",
      );
    }
  }
  validateLabels("containers", container.labels ?? {});
  if (!container.runtime?.name) {
    throw invalidArgument("container.Runtime.Name must be set");
  }
  if (!container.spec) throw invalidArgument("container.Spec must be set");
  if (container.snapshotKey && !container.snapshotter) {
    throw invalidArgument(
      "container.Snapshotter must be set if container.SnapshotKey is set",
    );
  }
}

function knownKey(namespace: string, id: string): string {
  return `${namespace}\0${id}`;
}

/** Container records in the metadata database. */
export class ContainerStore {
  readonly #db: MetadataDB;
  readonly #namespaces: NamespaceStore;
  /**
   * Containers `mustExist` found, until deleted: a `ctr tasks exec` checks
   * its container five times, each a SQLite read of ~30 µs in the daemon.
   * Only `delete` removes a record (this store is its database's one
   * writer), and it forgets the key before it deletes.
   */
  readonly #known = new Set<string>();

  /** Creates the store; registers its check on namespace deletion. */
  constructor(db: MetadataDB, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
    namespaces.addContentCheck((namespace) =>
      this.#any(namespace) ? "containers" : undefined
    );
  }

  #any(namespace: string): boolean {
    return this.#db.sql.prepare(
      "SELECT 1 FROM containers WHERE namespace = ? LIMIT 1",
    ).get(namespace) !== undefined;
  }

  #row(namespace: string, id: string): ContainerRow | undefined {
    return this.#db.sql.prepare(
      `SELECT ${SELECTED} FROM containers WHERE namespace = ? AND id = ?`,
    ).get(namespace, id) as ContainerRow | undefined;
  }

  /** The container `id`, or NotFound. */
  get(namespace: string, id: string): Container {
    const row = this.#row(namespace, id);
    if (!row) throw containerNotFound(namespace, id);
    return toContainer(row);
  }

  /**
   * Throws NotFound, as {@linkcode ContainerStore.get} does, unless
   * container `id` exists; its record is not read (a task call checks
   * its container on every call, and needs nothing of it).
   */
  mustExist(namespace: string, id: string): void {
    const key = knownKey(namespace, id);
    if (this.#known.has(key)) return;
    const row = this.#db.sql.prepare(
      "SELECT 1 FROM containers WHERE namespace = ? AND id = ?",
    ).get(namespace, id);
    if (!row) throw containerNotFound(namespace, id);
    this.#known.add(key);
  }

  /**
   * Containers matching any of `filters` (`id`, `image`, `runtime.name`,
   * `labels`), by id. A syntax error is InvalidArgument, its message
   * suffixed twice as containerd's is.
   */
  list(namespace: string, filters: readonly string[] = []): Container[] {
    let filter;
    try {
      filter = parseFilters(filters);
    } catch (err) {
      if (!(err instanceof FilterSyntaxError)) throw err;
      throw invalidArgument(`${err.message}: invalid argument`);
    }
    const rows = this.#db.sql.prepare(
      `SELECT ${SELECTED} FROM containers WHERE namespace = ? ORDER BY id`,
    ).all(namespace) as unknown as ContainerRow[];
    return rows.map(toContainer).filter((container) =>
      filter.match(fieldsAdaptor({
        id: container.id || undefined,
        image: container.image || undefined,
        runtime: { name: container.runtime.name || undefined },
        labels: container.labels,
      }))
    );
  }

  #write(namespace: string, container: Container, insert: boolean): number {
    const values = [
      JSON.stringify(storedLabels(container.labels)),
      container.image,
      container.runtime.name,
      container.runtime.options?.typeUrl ?? null,
      container.runtime.options?.value ?? null,
      container.spec?.typeUrl ?? null,
      container.spec?.value ?? null,
      container.snapshotter,
      container.snapshotKey,
      encodeExtensions(container.extensions),
      nanosOf(container.createdAt),
      nanosOf(container.updatedAt),
    ];
    const result = insert
      ? this.#db.sql.prepare(
        `INSERT INTO containers (namespace, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(namespace, container.id, ...values)
      : this.#db.sql.prepare(
        "UPDATE containers SET labels = ?, image = ?, runtime_name = ?, runtime_options_type = ?, runtime_options = ?, spec_type = ?, spec = ?, snapshotter = ?, snapshot_key = ?, extensions = ?, created_at = ?, updated_at = ? WHERE namespace = ? AND id = ?",
      ).run(...values, namespace, container.id);
    return Number(result.changes);
  }

  /** Creates a container; AlreadyExists when the id is taken. */
  create(namespace: string, input: ContainerInput): Container {
    withContext(
      "create container failed validation",
      () => validateContainer(input),
    );
    const now = timestampNow();
    const container: Container = {
      id: input.id,
      labels: storedLabels(input.labels ?? {}),
      image: input.image ?? "",
      runtime: { name: input.runtime!.name, options: input.runtime!.options },
      spec: input.spec,
      snapshotter: input.snapshotter ?? "",
      snapshotKey: input.snapshotKey ?? "",
      extensions: { ...input.extensions ?? {} },
      createdAt: now,
      updatedAt: now,
    };
    return this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      if (this.#write(namespace, container, true) === 0) {
        throw alreadyExists(`container ${JSON.stringify(input.id)}`);
      }
      return container;
    });
  }

  /**
   * Updates a container. Paths: `labels`, `labels.KEY`, `spec`,
   * `extensions`, `extensions.KEY`, `image`, `snapshotkey`. None updates all
   * of those, and then the snapshotter and runtime name must not change
   * (they are immutable).
   */
  update(
    namespace: string,
    input: ContainerInput,
    paths: readonly string[] = [],
  ): Container {
    if (!input.id) throw invalidArgument("must specify a container id");
    return this.#db.transaction(() => {
      const row = this.#row(namespace, input.id);
      if (!row) {
        throw notFound(
          this.#any(namespace)
            ? `container ${JSON.stringify(input.id)}`
            : `cannot update container ${
              JSON.stringify(input.id)
            } in namespace ${JSON.stringify(namespace)}`,
        );
      }
      const updated = toContainer(row);
      let fieldPaths = paths;
      if (fieldPaths.length === 0) {
        fieldPaths = ["labels", "spec", "extensions", "image", "snapshotkey"];
        if (updated.snapshotter !== (input.snapshotter ?? "")) {
          throw invalidArgument("container.Snapshotter field is immutable");
        }
        if (updated.runtime.name !== (input.runtime?.name ?? "")) {
          throw invalidArgument("container.Runtime.Name field is immutable");
        }
      }
      for (const path of fieldPaths) {
        if (path === "labels" || path.startsWith("labels.")) {
          updated.labels = updateLabels(updated.labels, input.labels ?? {}, [
            path,
          ]);
        } else if (path.startsWith("extensions.")) {
          const name = path.slice("extensions.".length);
          const extension = input.extensions?.[name];
          if (extension) updated.extensions[name] = extension;
          else delete updated.extensions[name];
        } else if (path === "extensions") {
          updated.extensions = { ...input.extensions ?? {} };
        } else if (path === "spec") {
          updated.spec = input.spec;
        } else if (path === "image") {
          updated.image = input.image ?? "";
        } else if (path === "snapshotkey") {
          updated.snapshotKey = input.snapshotKey ?? "";
        } else {
          throw invalidArgument(
            `cannot update ${JSON.stringify(path)} field on ${
              JSON.stringify(input.id)
            }`,
          );
        }
      }
      withContext("update failed validation", () => validateContainer(updated));
      updated.labels = storedLabels(updated.labels);
      updated.updatedAt = timestampNow();
      this.#write(namespace, updated, false);
      return updated;
    });
  }

  /** Deletes a container; what it held is collectable afterwards. */
  delete(namespace: string, id: string): void {
    // Forgotten first: a delete that fails leaves only a cache miss.
    this.#known.delete(knownKey(namespace, id));
    this.#db.transaction(() => {
      const result = this.#db.sql.prepare(
        "DELETE FROM containers WHERE namespace = ? AND id = ?",
      ).run(namespace, id);
      if (Number(result.changes) > 0) return this.#db.markDirty();
      throw notFound(
        this.#any(namespace)
          ? `container ${id}`
          : `cannot delete container ${JSON.stringify(id)} in namespace ${
            JSON.stringify(namespace)
          }`,
      );
    });
  }
}
