/**
 * What the overlay and native snapshotters share: records in a
 * {@linkcode MetaStore} at `ROOT/metadata.db`, one directory per snapshot
 * at `ROOT/snapshots/<id>`, and the order of steps that keeps records and
 * directories consistent.
 *
 * A new snapshot's directory is built under a temporary name
 * (`snapshots/new-*`) and renamed to its id inside the transaction that
 * records it, so a failed creation leaves neither a record nor a
 * directory, and a crash leaves at most an unreferenced directory. A
 * removed snapshot's directory is renamed to `snapshots/rm-<id>` inside the
 * transaction that deletes its record, and deleted after. Whatever a crash
 * leaves behind, {@linkcode LocalSnapshotter.cleanup} deletes.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { log as rootLog, type Logger } from "../log/mod.ts";
import { type Mount, unavailable } from "../types/mod.ts";
import { wrapError } from "./_errors.ts";
import { RwLock } from "./lock.ts";
import type {
  SnapshotInfo,
  SnapshotKind,
  SnapshotOptions,
  Snapshotter,
  SnapshotUpdate,
  Usage,
} from "./snapshotter.ts";
import { MetaStore, type SnapshotRecord } from "./storage.ts";
import { diskUsage } from "./usage.ts";

/** Options shared by the local snapshotters. */
export interface LocalSnapshotterOptions {
  /**
   * The snapshotter's directory, e.g.
   * `/var/lib/berth/io.containerd.snapshotter.v1.overlayfs`.
   */
  root: string;
  /** Where warnings go (directories that could not be deleted). */
  logger?: Logger;
}

/** A snapshotter keeping snapshots in directories under one root. */
export abstract class LocalSnapshotter implements Snapshotter {
  /** The snapshotter's name. */
  abstract readonly name: string;
  /** The snapshotter's directory, absolute. */
  readonly root: string;
  /** `ROOT/snapshots`. */
  protected readonly snapshotsDir: string;
  /** The records. */
  protected readonly store: MetaStore;
  /** Where warnings go. */
  protected readonly logger: Logger;
  #lock = new RwLock();
  #closed = false;

  /** Opens the records and creates the directories. */
  constructor(options: LocalSnapshotterOptions) {
    this.root = resolve(options.root);
    this.snapshotsDir = join(this.root, "snapshots");
    this.logger = options.logger ?? rootLog;
    Deno.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    Deno.mkdirSync(this.snapshotsDir, { recursive: true, mode: 0o700 });
    this.store = MetaStore.open(join(this.root, "metadata.db"));
  }

  /** The directory of snapshot `id`. */
  protected snapshotDir(id: string): string {
    return join(this.snapshotsDir, id);
  }

  /** Whether a new snapshot of `kind` on `parentIds` has a directory. */
  protected abstract needsDirectory(
    kind: SnapshotKind,
    parentIds: readonly string[],
  ): boolean;

  /**
   * Fills the temporary directory `dir` of a new snapshot (its future
   * `snapshots/<id>`), before it is recorded: at once when that is a few
   * directory operations, else asynchronously.
   */
  protected abstract populate(
    dir: string,
    kind: SnapshotKind,
    parentIds: readonly string[],
  ): Promise<void> | void;

  /** The tree whose usage an active snapshot `id` reports. */
  protected abstract usageDir(id: string): string;

  /** The mounts of an active snapshot or view. */
  protected abstract mountsOf(record: SnapshotRecord): Mount[];

  /** Adds what a backend shows beyond the records (labels) to `info`. */
  protected decorate(info: SnapshotInfo, _id: string): SnapshotInfo {
    return info;
  }

  /** Whether removals leave directories for {@linkcode cleanup}. */
  protected get asyncRemove(): boolean {
    return false;
  }

  #checkOpen() {
    if (this.#closed) throw unavailable(`snapshotter ${this.name} is closed`);
  }

  /** {@inheritDoc Snapshotter.stat} */
  stat(key: string): Promise<SnapshotInfo> {
    return Promise.resolve().then(() => {
      this.#checkOpen();
      const { id, info } = this.store.getInfo(key);
      return this.decorate(info, id);
    });
  }

  /** {@inheritDoc Snapshotter.update} */
  update(
    info: SnapshotUpdate,
    paths: readonly string[] = [],
  ): Promise<SnapshotInfo> {
    return Promise.resolve().then(() => {
      this.#checkOpen();
      const stored = this.store.updateInfo(info, paths);
      return this.decorate(stored.info, stored.id);
    });
  }

  /** {@inheritDoc Snapshotter.usage} */
  async usage(key: string): Promise<Usage> {
    this.#checkOpen();
    const { id, info, usage } = this.store.getInfo(key);
    if (info.kind !== "active") return usage;
    return await diskUsage(this.usageDir(id));
  }

  /** {@inheritDoc Snapshotter.mounts} */
  mounts(key: string): Promise<Mount[]> {
    return Promise.resolve().then(() => {
      this.#checkOpen();
      let record: SnapshotRecord;
      try {
        record = this.store.getSnapshot(key);
      } catch (err) {
        throw wrapError(err, this.mountsErrorPrefix);
      }
      return this.mountsOf(record);
    });
  }

  /** How a failed {@linkcode mounts} introduces its error. */
  protected abstract readonly mountsErrorPrefix: string;

  /** {@inheritDoc Snapshotter.prepare} */
  prepare(
    key: string,
    parent = "",
    options: SnapshotOptions = {},
  ): Promise<Mount[]> {
    return this.#create("active", key, parent, options);
  }

  /** {@inheritDoc Snapshotter.view} */
  view(
    key: string,
    parent = "",
    options: SnapshotOptions = {},
  ): Promise<Mount[]> {
    return this.#create("view", key, parent, options);
  }

  #create(
    kind: SnapshotKind,
    key: string,
    parent: string,
    options: SnapshotOptions,
  ): Promise<Mount[]> {
    return this.#lock.shared(async () => {
      this.#checkOpen();
      let parentIds: string[];
      try {
        parentIds = this.store.checkCreate(key, parent);
      } catch (err) {
        throw wrapError(err, "failed to create snapshot");
      }
      let temp = "";
      let path = "";
      try {
        if (this.needsDirectory(kind, parentIds)) {
          temp = Deno.makeTempDirSync({
            dir: this.snapshotsDir,
            prefix: "new-",
          });
          await this.populate(temp, kind, parentIds);
        }
        const id = this.store.allocateId();
        const record = this.store.transaction(() => {
          let record: SnapshotRecord;
          try {
            record = this.store.createSnapshot({
              kind,
              key,
              parent,
              id,
              labels: options.labels,
            });
          } catch (err) {
            throw wrapError(err, "failed to create snapshot");
          }
          if (temp) {
            Deno.renameSync(temp, this.snapshotDir(id));
            path = this.snapshotDir(id);
            temp = "";
          }
          return record;
        });
        return this.mountsOf(record);
      } catch (err) {
        for (const dir of [temp, path]) {
          if (dir) await this.#removeDir(dir);
        }
        throw err;
      }
    });
  }

  /** {@inheritDoc Snapshotter.commit} */
  commit(
    name: string,
    key: string,
    options: SnapshotOptions = {},
  ): Promise<void> {
    return this.#lock.shared(async () => {
      this.#checkOpen();
      const { id, info } = this.store.getInfo(key);
      const usage = info.kind === "active"
        ? await diskUsage(this.usageDir(id))
        : { size: 0, inodes: 0 };
      try {
        this.store.commitActive({ key, name, usage, labels: options.labels });
      } catch (err) {
        throw wrapError(err, "failed to commit snapshot");
      }
    });
  }

  /** {@inheritDoc Snapshotter.remove} */
  remove(key: string): Promise<void> {
    return this.#lock.shared(async () => {
      this.#checkOpen();
      let removed = "";
      let renamed = "";
      try {
        this.store.transaction(() => {
          const { id } = this.store.remove(key);
          if (this.asyncRemove) return;
          const dir = this.snapshotDir(id);
          try {
            Deno.renameSync(dir, join(this.snapshotsDir, `rm-${id}`));
            [removed, renamed] = [dir, join(this.snapshotsDir, `rm-${id}`)];
          } catch (err) {
            if (!(err instanceof Deno.errors.NotFound)) throw err;
          }
        });
      } catch (err) {
        if (renamed) {
          // The record survived: put its directory back.
          try {
            Deno.renameSync(renamed, removed);
          } catch (renameErr) {
            this.logger.error("failed to rename after failed commit", {
              path: renamed,
              error: renameErr,
            });
          }
        }
        throw wrapError(err, "failed to remove");
      }
      if (renamed) await this.#removeDir(renamed);
    });
  }

  /** {@inheritDoc Snapshotter.walk} */
  async *walk(
    filters: readonly string[] = [],
  ): AsyncGenerator<SnapshotInfo, void, undefined> {
    this.#checkOpen();
    for (const { id, info } of this.store.walkInfo(filters)) {
      yield this.decorate(info, id);
    }
  }

  /** {@inheritDoc Snapshotter.cleanup} */
  cleanup(): Promise<void> {
    return this.#lock.exclusive(async () => {
      this.#checkOpen();
      const ids = this.store.idMap();
      for await (const entry of Deno.readDir(this.snapshotsDir)) {
        if (ids.has(entry.name)) continue;
        await this.#removeDir(join(this.snapshotsDir, entry.name));
      }
    });
  }

  /** {@inheritDoc Snapshotter.close} */
  close(): Promise<void> {
    return this.#lock.exclusive(() => {
      if (!this.#closed) {
        this.#closed = true;
        this.store.close();
      }
      return Promise.resolve();
    });
  }

  async #removeDir(path: string): Promise<void> {
    try {
      await Deno.remove(path, { recursive: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      this.logger.warn("failed to remove directory", { path, error: err });
    }
  }
}
