/**
 * Blob files kept open between reads. `ctr content get` reads a blob as
 * thousands of 32 KiB `Content.Read` calls; opening, stat-ing and closing
 * the file for each cost more than the read itself. A committed blob never
 * changes, so its open file and size stay right until the blob is deleted
 * ({@linkcode OpenBlobs.forget}); files nobody read for a while are closed.
 *
 * @module
 */

/** One open blob file, shared by its readers. */
export interface OpenBlob {
  /** The file. */
  readonly file: Deno.FsFile;
  /** Its size (a blob's never changes). */
  readonly size: number;
  /** Where the file's position is: a reader picking up there seeks not. */
  position: number;
  /** Readers holding it now. */
  users: number;
  /** Read since the last idle check. */
  used: boolean;
  /** Forgotten (its blob deleted): closed once its last reader is done. */
  forgotten: boolean;
}

/** Options of {@linkcode OpenBlobs}. */
export interface OpenBlobsOptions {
  /** Where blob `digest`'s file is. */
  pathOf(digest: string): string;
  /** Files kept open at most, besides those being read (default 64). */
  max?: number;
  /** A file unread for this long (and at most twice as long) is closed (default 10 s). */
  idleMs?: number;
}

/** The open blob files of one store; see the module doc. */
export class OpenBlobs {
  #open = new Map<string, OpenBlob>();
  #pathOf: (digest: string) => string;
  #max: number;
  #idleMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** An empty set of open files. */
  constructor(options: OpenBlobsOptions) {
    this.#pathOf = options.pathOf;
    this.#max = options.max ?? 64;
    this.#idleMs = options.idleMs ?? 10_000;
  }

  /** Files open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * The open file of blob `digest`, opened when it is not; hand it back
   * with {@linkcode release}. Throws what opening throws
   * (`Deno.errors.NotFound` for a missing blob).
   */
  acquire(digest: string): OpenBlob {
    let blob = this.#open.get(digest);
    if (!blob) {
      const file = Deno.openSync(this.#pathOf(digest), { read: true });
      let size: number;
      try {
        size = file.statSync().size;
      } catch (err) {
        file.close();
        throw err;
      }
      this.#makeRoom();
      blob = {
        file,
        size,
        position: 0,
        users: 0,
        used: false,
        forgotten: false,
      };
      this.#open.set(digest, blob);
      this.#watchIdle();
    }
    blob.users++;
    blob.used = true;
    return blob;
  }

  /** A reader is done with `blob`. */
  release(blob: OpenBlob): void {
    blob.users--;
    if (blob.forgotten && blob.users === 0) blob.file.close();
  }

  /**
   * Blob `digest` is deleted: its file is closed (once its readers are
   * done), and the next read opens the path anew.
   */
  forget(digest: string): void {
    const blob = this.#open.get(digest);
    if (!blob) return;
    this.#open.delete(digest);
    this.#retire(blob);
  }

  /** Closes every file nobody is reading, and stops watching. */
  close(): void {
    for (const digest of [...this.#open.keys()]) this.forget(digest);
  }

  #retire(blob: OpenBlob) {
    blob.forgotten = true;
    if (blob.users === 0) blob.file.close();
    if (this.#open.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** At the limit, closes the longest open file nobody reads now. */
  #makeRoom() {
    if (this.#open.size < this.#max) return;
    for (const [digest, blob] of this.#open) {
      if (blob.users > 0) continue;
      this.#open.delete(digest);
      this.#retire(blob);
      return;
    }
  }

  #watchIdle() {
    if (this.#timer !== undefined) return;
    const timer = setInterval(() => {
      for (const [digest, blob] of this.#open) {
        if (blob.used || blob.users > 0) blob.used = false;
        else this.forget(digest);
      }
    }, this.#idleMs);
    this.#timer = timer;
    // Open files are no reason to keep a process alive.
    Deno.unrefTimer(timer);
  }
}
