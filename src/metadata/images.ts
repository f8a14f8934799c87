/**
 * Image records: a name in a namespace pointing at a target descriptor (a
 * manifest or an index), with labels. Images are garbage-collection roots:
 * their target and what their labels reference stay.
 *
 * @module
 */
import { validateDigest } from "../content/mod.ts";
import { fieldsAdaptor, parseFilters } from "../filters/mod.ts";
import {
  alreadyExists,
  type Descriptor,
  invalidArgument,
  notFound,
  validateLabels,
} from "../types/mod.ts";
import { updateLabels } from "./_labels.ts";
import type { MetadataDB } from "./db.ts";
import type { NamespaceStore } from "./namespaces.ts";
import { fromNanosColumn, nanosColumn, timestampNow } from "./_time.ts";
import { nanosOf } from "../types/mod.ts";

/** The images table's timestamps, read whole. */
const TIMES = `${nanosColumn("created_at")}, ${nanosColumn("updated_at")}`;

/** An image record. */
export interface Image {
  /** Its name, usually a reference (`docker.io/library/busybox:latest`). */
  name: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** The manifest or index it names. */
  target: Descriptor;
  /** When it was created. */
  createdAt: Date;
  /** When it last changed. */
  updatedAt: Date;
}

/** What a caller gives to create or update an image. */
export type ImageInput = Pick<Image, "name" | "target"> & {
  labels?: Record<string, string>;
};

interface ImageRow {
  name: string;
  labels: string;
  target: string;
  created_at: string;
  updated_at: string;
}

function toImage(row: ImageRow): Image {
  return {
    name: row.name,
    labels: JSON.parse(row.labels),
    target: JSON.parse(row.target),
    createdAt: fromNanosColumn(row.created_at),
    updatedAt: fromNanosColumn(row.updated_at),
  };
}

/** Checks an image as containerd does. */
function validateImage(image: ImageInput): void {
  if (!image.name) throw invalidArgument("image name must not be empty");
  validateLabels("image", image.labels ?? {});
  try {
    validateDigest(image.target?.digest ?? "");
  } catch (err) {
    throw invalidArgument(
      `Target.Digest ${JSON.stringify(image.target?.digest ?? "")} invalid: ${
        (err as Error).message
      }`,
    );
  }
  if (!(image.target.size > 0)) {
    throw invalidArgument("Target.Size must be greater than zero");
  }
  if (!image.target.mediaType) {
    throw invalidArgument("Target.MediaType must be set");
  }
}

/** Image records in the metadata database. */
export class ImageStore {
  readonly #db: MetadataDB;
  readonly #namespaces: NamespaceStore;

  /** Creates the store; registers its check on namespace deletion. */
  constructor(db: MetadataDB, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
    namespaces.addContentCheck((namespace) =>
      db.sql.prepare("SELECT 1 FROM images WHERE namespace = ? LIMIT 1")
          .get(namespace)
        ? "images"
        : undefined
    );
  }

  #row(namespace: string, name: string): ImageRow | undefined {
    return this.#db.sql.prepare(
      `SELECT name, labels, target, ${TIMES} FROM images WHERE namespace = ? AND name = ?`,
    ).get(namespace, name) as ImageRow | undefined;
  }

  /** The image `name`, or NotFound. */
  get(namespace: string, name: string): Image {
    const row = this.#row(namespace, name);
    if (!row) throw notFound(`image ${JSON.stringify(name)}`);
    return toImage(row);
  }

  /**
   * Images matching any of `filters` (`name`, `target.digest`,
   * `target.mediatype`, `labels`).
   */
  list(namespace: string, filters: readonly string[] = []): Image[] {
    const filter = parseFilters(filters);
    const rows = this.#db.sql.prepare(
      `SELECT name, labels, target, ${TIMES} FROM images WHERE namespace = ? ORDER BY name`,
    ).all(namespace) as unknown as ImageRow[];
    return rows.map(toImage).filter((image) =>
      filter.match(fieldsAdaptor({
        name: image.name || undefined,
        target: {
          digest: image.target.digest || undefined,
          mediatype: image.target.mediaType || undefined,
        },
        labels: image.labels,
      }))
    );
  }

  /** Creates an image; AlreadyExists when the name is taken. */
  create(namespace: string, input: ImageInput): Image {
    validateImage(input);
    return this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      const now = timestampNow();
      const result = this.#db.sql.prepare(
        "INSERT INTO images (namespace, name, labels, target, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      ).run(
        namespace,
        input.name,
        JSON.stringify(input.labels ?? {}),
        JSON.stringify(input.target),
        nanosOf(now),
        nanosOf(now),
      );
      if (result.changes === 0) {
        throw alreadyExists(`image ${JSON.stringify(input.name)}`);
      }
      return this.get(namespace, input.name);
    });
  }

  /**
   * Updates an image. Paths: `labels`, `labels.KEY`, `target`,
   * `annotations`, `annotations.KEY`; none replaces labels and target.
   */
  update(
    namespace: string,
    input: ImageInput,
    paths: readonly string[] = [],
  ): Image {
    if (!input.name) {
      throw invalidArgument("image name is required for update");
    }
    return this.#db.transaction(() => {
      const current = this.get(namespace, input.name);
      let labels = current.labels;
      let target = current.target;
      if (paths.length === 0) {
        labels = { ...input.labels ?? {} };
        target = input.target;
      }
      const labelPaths: string[] = [];
      for (const path of paths) {
        if (path === "labels" || path.startsWith("labels.")) {
          labelPaths.push(path);
        } else if (path === "target") {
          target = input.target;
        } else if (path === "annotations" || path.startsWith("annotations.")) {
          target = {
            ...target,
            annotations: updateLabels(
              target.annotations ?? {},
              input.target?.annotations ?? {},
              [path.replace(/^annotations/, "labels")],
            ),
          };
        } else {
          throw invalidArgument(
            `cannot update ${JSON.stringify(path)} field on image ${
              JSON.stringify(input.name)
            }`,
          );
        }
      }
      if (labelPaths.length > 0) {
        labels = updateLabels(labels, input.labels ?? {}, labelPaths);
      }
      validateImage({ name: input.name, labels, target });
      const now = timestampNow();
      this.#db.sql.prepare(
        "UPDATE images SET labels = ?, target = ?, updated_at = ? WHERE namespace = ? AND name = ?",
      ).run(
        JSON.stringify(labels),
        JSON.stringify(target),
        nanosOf(now),
        namespace,
        input.name,
      );
      return { ...current, labels, target, updatedAt: now };
    });
  }

  /** Deletes an image; what it held is collectable afterwards. */
  delete(namespace: string, name: string): void {
    this.#db.transaction(() => {
      const result = this.#db.sql.prepare(
        "DELETE FROM images WHERE namespace = ? AND name = ?",
      ).run(namespace, name);
      if (result.changes === 0) throw notFound(`image ${JSON.stringify(name)}`);
      this.#db.markDirty();
    });
  }
}
