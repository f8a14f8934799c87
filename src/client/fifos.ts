/**
 * A process's stdio through FIFOs, as ctr's `cio` does it: the client makes
 * the FIFOs in a fresh directory under its FIFO directory, passes their
 * paths to the daemon, and copies its own stdin into one and the other two
 * to its stdout and stderr.
 *
 * FIFOs are opened with ordinary blocking opens, which Deno runs off the
 * main thread: each completes when the shim opens the other end. An open
 * still pending when the set is closed is released by opening the other
 * end here.
 *
 * @module
 */
import { closeSync, constants, openSync } from "node:fs";

/**
 * The paths a process's stdio is given: "" for none.
 *
 * @example
 * ```ts
 * import type { StdioPaths } from "@berth/berth/client";
 * const paths: StdioPaths = { stdin: "", stdout: "/tmp/out", stderr: "", terminal: false };
 * ```
 */
export interface StdioPaths {
  /** The FIFO the process reads. */
  stdin: string;
  /** The FIFO its stdout goes to. */
  stdout: string;
  /** The FIFO its stderr goes to ("" with a terminal). */
  stderr: string;
  /** Whether it has a terminal (stdout then carries both streams). */
  terminal: boolean;
}

/**
 * Stdio that goes nowhere (ctr's `--null-io`).
 *
 * @example
 * ```ts
 * import { Client, NULL_IO } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const task = await (await client.loadContainer("c1")).newTask({ fifos: NULL_IO });
 * ```
 */
export const NULL_IO: StdioPaths = {
  stdin: "",
  stdout: "",
  stderr: "",
  terminal: false,
};

/**
 * Where a process's streams come from and go to.
 *
 * @example
 * ```ts
 * import type { Streams } from "@berth/berth/client";
 * const stdio: Streams = { stdout: Deno.stdout.writable, stderr: Deno.stderr.writable };
 * ```
 */
export interface Streams {
  /** Copied into the process's stdin; its end calls `onStdinEnd`. */
  stdin?: ReadableStream<Uint8Array>;
  /** Receives the process's stdout. */
  stdout: WritableStream<Uint8Array>;
  /** Receives the process's stderr (unused with a terminal). */
  stderr: WritableStream<Uint8Array>;
}

/** Milliseconds to let output drain after the process has exited. */
const DRAIN_MS = 2000;

async function mkfifo(paths: string[]): Promise<void> {
  const out = await new Deno.Command("mkfifo", {
    args: ["-m", "0700", ...paths],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `mkfifo: ${new TextDecoder().decode(out.stderr).trim() || out.code}`,
    );
  }
}

/**
 * A process's FIFOs and the copies between them and the client.
 *
 * @example
 * ```ts
 * import { FifoSet } from "@berth/berth/client";
 * await using fifos = await FifoSet.create("/tmp/fifos", "c1", false);
 * console.log(fifos.paths.stdout);
 * ```
 */
export class FifoSet implements AsyncDisposable {
  /** The paths to hand to the daemon. */
  readonly paths: StdioPaths;
  readonly #dir: string;
  readonly #pending = new Set<string>();
  readonly #files: Deno.FsFile[] = [];
  #output: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(dir: string, paths: StdioPaths) {
    this.#dir = dir;
    this.paths = paths;
  }

  /**
   * Makes the FIFOs of process `id` in a new directory under `root`
   * (created if missing): `ID-stdin`, `ID-stdout` and, without a
   * terminal, `ID-stderr`.
   */
  static async create(
    root: string,
    id: string,
    terminal: boolean,
  ): Promise<FifoSet> {
    await Deno.mkdir(root, { recursive: true, mode: 0o700 });
    const dir = await Deno.makeTempDir({ dir: root });
    const paths: StdioPaths = {
      stdin: `${dir}/${id}-stdin`,
      stdout: `${dir}/${id}-stdout`,
      stderr: terminal ? "" : `${dir}/${id}-stderr`,
      terminal,
    };
    try {
      await mkfifo([paths.stdin, paths.stdout, paths.stderr].filter(Boolean));
    } catch (err) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw err;
    }
    return new FifoSet(dir, paths);
  }

  /**
   * The FIFOs of a running process, made by whoever started it (ctr's
   * attach): closing the set leaves them in place.
   */
  static existing(paths: StdioPaths): FifoSet {
    return new FifoSet("", paths);
  }

  async #open(path: string, write: boolean): Promise<Deno.FsFile | null> {
    this.#pending.add(path);
    try {
      const file = await Deno.open(path, { read: !write, write });
      if (this.#closed) {
        file.close();
        return null;
      }
      this.#files.push(file);
      return file;
    } finally {
      this.#pending.delete(path);
    }
  }

  /**
   * Starts the copies: the process's output to `streams`, and
   * `streams.stdin` into the process, after which `onStdinEnd` runs (to
   * tell the daemon, by `CloseIO`, that no more input comes). Returns at
   * once; the opens complete when the shim opens its ends.
   */
  copy(streams: Streams, onStdinEnd: () => Promise<unknown>): void {
    // One writer per destination: stdout and stderr may share one. The
    // destinations stay open: they outlive the copy.
    const writers = new Map<
      WritableStream<Uint8Array>,
      WritableStreamDefaultWriter<Uint8Array>
    >();
    const writerOf = (to: WritableStream<Uint8Array>) => {
      let writer = writers.get(to);
      if (!writer) {
        writer = to.getWriter();
        writers.set(to, writer);
      }
      return writer;
    };
    const output = async (path: string, to: WritableStream<Uint8Array>) => {
      if (!path) return;
      const writer = writerOf(to);
      const file = await this.#open(path, false);
      if (!file) return;
      for await (const chunk of file.readable) await writer.write(chunk);
    };
    this.#output = Promise.allSettled([
      output(this.paths.stdout, streams.stdout),
      output(this.paths.stderr, streams.stderr),
    ]).then(() => {
      for (const writer of writers.values()) writer.releaseLock();
    });
    const input = streams.stdin;
    if (this.paths.stdin && input) {
      (async () => {
        const file = await this.#open(this.paths.stdin, true);
        if (!file) return;
        await input.pipeTo(file.writable);
        await onStdinEnd();
      })().catch(() => {
        // The process went away before taking all its input.
      });
    }
  }

  /**
   * Resolves when the process's output has all been copied (both FIFOs
   * at end of file), or after a short grace period: a writer left open
   * elsewhere must not hang the client.
   */
  async drained(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#output,
      new Promise((resolve) => timer = setTimeout(resolve, DRAIN_MS)),
    ]);
    clearTimeout(timer);
  }

  /** Stops the copies, releases pending opens, removes the FIFOs. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    for (const path of this.#pending) {
      // Opening the other end read-write never blocks and completes the
      // pending open, which then closes itself.
      try {
        closeSync(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
      } catch {
        // Gone already.
      }
    }
    for (const file of this.#files.splice(0)) {
      try {
        file.close();
      } catch {
        // Closed by its stream.
      }
    }
    if (this.#dir) {
      await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    }
  }
}
