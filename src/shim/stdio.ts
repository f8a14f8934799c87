/**
 * Opening the client's stdio FIFOs for the container's init process.
 *
 * Every FIFO is first opened read-write, which never blocks whether or not
 * the client has opened its end yet. stdout and stderr are handed to runc
 * as they are. For stdin the container gets a read-only descriptor, and the
 * shim keeps the read-write one as a writer until `CloseIO`, so the
 * container sees end-of-file only after that.
 *
 * @module
 */
import { closeSync, constants, openSync } from "node:fs";
import type { StdioFds } from "./runc.ts";

/**
 * Close-on-exec: the child gets its stdio as 0, 1 and 2 (duplicates, which
 * do not inherit the flag) and nothing else. A leaked stdin writer would
 * keep the container's stdin from ever reaching end of file.
 */
const O_CLOEXEC = 0o2000000;
const READ_WRITE = constants.O_RDWR | O_CLOEXEC;
const READ_ONLY = constants.O_RDONLY | O_CLOEXEC;

/** The descriptors of a process's stdio. */
export class ProcessStdio {
  /** What to hand to runc as fds 0, 1, 2. */
  readonly fds: StdioFds;
  #stdinWriter: number | undefined;
  #handed: number[];

  private constructor(
    fds: StdioFds,
    stdinWriter: number | undefined,
    handed: number[],
  ) {
    this.fds = fds;
    this.#stdinWriter = stdinWriter;
    this.#handed = handed;
  }

  /** Opens the FIFOs at `stdin`, `stdout`, `stderr` ("" for none). */
  static open(stdin: string, stdout: string, stderr: string): ProcessStdio {
    const handed: number[] = [];
    let writer: number | undefined;
    try {
      let inFd: number | "ignore" = "ignore";
      if (stdin) {
        writer = openSync(stdin, READ_WRITE);
        inFd = openSync(stdin, READ_ONLY);
        handed.push(inFd);
      }
      const outFd = stdout ? openSync(stdout, READ_WRITE) : "ignore";
      if (outFd !== "ignore") handed.push(outFd);
      const errFd = stderr ? openSync(stderr, READ_WRITE) : "ignore";
      if (errFd !== "ignore") handed.push(errFd);
      return new ProcessStdio([inFd, outFd, errFd], writer, handed);
    } catch (err) {
      for (const fd of handed) closeQuietly(fd);
      if (writer !== undefined) closeQuietly(writer);
      throw err;
    }
  }

  /** Closes the descriptors handed to the container (it has its own). */
  closeHanded(): void {
    for (const fd of this.#handed) closeQuietly(fd);
    this.#handed = [];
  }

  /** Closes the shim's stdin writer: the container can now see EOF. */
  closeStdin(): void {
    if (this.#stdinWriter !== undefined) closeQuietly(this.#stdinWriter);
    this.#stdinWriter = undefined;
  }

  /** Closes everything still open. */
  close(): void {
    this.closeHanded();
    this.closeStdin();
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
