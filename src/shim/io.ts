/**
 * The stdio of one container process, wired as containerd's shim does.
 *
 * Without a terminal, stdout and stderr are the client's FIFOs themselves
 * (runc gets them opened read-write, which never blocks). stdin goes
 * through a pipe: the shim copies the client's FIFO into it and closes it
 * when the client's writer closes or on `CloseIO`, so the process sees end
 * of file exactly when the client is done. (Handing the FIFO itself would
 * need the shim to keep a writer open, and the process would never see it.)
 *
 * With a terminal, runc sends the pseudo-terminal's master over a console
 * socket; the shim copies stdin into it and its output to the stdout FIFO.
 *
 * @module
 */
import { join } from "../types/path.ts";
import { ConsoleSocket } from "../sys/console_socket.ts";
import {
  closeFd,
  openFd,
  pipe,
  readFd,
  setNonBlocking,
  setWindowSize,
  waitReadable,
  writeFd,
} from "../sys/fdio.ts";
import type { StdioFiles } from "./runc.ts";

const O_RDONLY = 0o0;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const NO_FILE = "/dev/null";
const COPY_BUFFER = 32 * 1024;
/** How long after `CloseIO` a client still writing may finish. */
const STDIN_GRACE_MS = 2_000;
/** How long runc may take to send the terminal after it returned. */
const CONSOLE_TIMEOUT_MS = 10_000;

/** The client's side of a process's stdio. */
export interface StdioPaths {
  /** stdin FIFO, or "" for none. */
  stdin: string;
  /** stdout FIFO, or "" for none. */
  stdout: string;
  /** stderr FIFO, or "" for none (always none with a terminal). */
  stderr: string;
  /** Whether the process gets a pseudo-terminal. */
  terminal: boolean;
}

/** The stdio of one process, from before runc runs until it exits. */
export class ProcessIO {
  /** What runc gets as fds 0, 1 and 2. */
  readonly files: StdioFiles;
  /** Extra runc arguments (`--console-socket`). */
  readonly runcArgs: string[];
  readonly #paths: StdioPaths;
  #stdinReader: number | undefined;
  #stdinWriter: number | undefined;
  #console: ConsoleSocket | undefined;
  #consoleDir: string | undefined;
  #master: number | undefined;
  /** Whether a reader of the stdin FIFO may still wait for a writer. */
  #stdinOpening = false;
  #output: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(paths: StdioPaths) {
    this.#paths = paths;
    this.files = [NO_FILE, NO_FILE, NO_FILE];
    this.runcArgs = [];
  }

  /** Opens `paths` for a process that runc is about to start. */
  static async open(paths: StdioPaths): Promise<ProcessIO> {
    const io = new ProcessIO(paths);
    try {
      if (paths.terminal) {
        io.#consoleDir = await Deno.makeTempDir({ prefix: "berth-pty" });
        io.#console = ConsoleSocket.listen(join(io.#consoleDir, "pty.sock"));
        io.runcArgs.push("--console-socket", io.#console.path);
      } else {
        if (paths.stdin) {
          // runc opens the pipe's read end through /proc while it is ours.
          [io.#stdinReader, io.#stdinWriter] = pipe();
          setNonBlocking(io.#stdinWriter);
          io.files[0] = `/proc/${Deno.pid}/fd/${io.#stdinReader}`;
        }
        if (paths.stdout) io.files[1] = paths.stdout;
        if (paths.stderr) io.files[2] = paths.stderr;
      }
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  /**
   * Called once runc has started the process: drops the pipe end it now
   * holds itself, takes the terminal, and starts copying.
   */
  async started(): Promise<void> {
    this.#closeStdinReader();
    if (this.#console) {
      const master = await this.#console.receive({
        signal: AbortSignal.timeout(CONSOLE_TIMEOUT_MS),
      });
      this.#closeConsoleSocket();
      setNonBlocking(master);
      this.#master = master;
      if (this.#paths.stdout) this.#output = this.#copyOutput(master);
    }
    const target = this.#master ?? this.#stdinWriter;
    if (this.#paths.stdin && target !== undefined) this.#copyStdin(target);
  }

  /** Resolves when the terminal's output has all reached the client. */
  drained(): Promise<void> {
    return this.#output;
  }

  /** Sets the terminal's size; no-op without one. */
  resize(width: number, height: number): void {
    if (this.#master !== undefined) setWindowSize(this.#master, height, width);
  }

  /**
   * The client has no more input (`CloseIO`): what it already wrote into the
   * FIFO still reaches the process, then its stdin ends. A client that
   * keeps its end open is cut off after a grace period.
   */
  closeStdin(): void {
    this.#releaseStdinFifo();
    if (this.#stdinWriter === undefined) return;
    const timer = setTimeout(() => this.#endStdin(), STDIN_GRACE_MS);
    Deno.unrefTimer(timer);
  }

  #closeStdinReader(): void {
    if (this.#stdinReader !== undefined) closeFd(this.#stdinReader);
    this.#stdinReader = undefined;
  }

  /** Closes the process's end of stdin now. */
  #endStdin(): void {
    if (this.#stdinWriter !== undefined) closeFd(this.#stdinWriter);
    this.#stdinWriter = undefined;
  }

  /** Closes everything (the process has exited or never started). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeStdinReader();
    this.#endStdin();
    this.#releaseStdinFifo();
    this.#closeConsoleSocket();
    if (this.#master !== undefined) closeFd(this.#master);
    this.#master = undefined;
  }

  #closeConsoleSocket() {
    this.#console?.close();
    this.#console = undefined;
    if (this.#consoleDir) {
      Deno.remove(this.#consoleDir, { recursive: true }).catch(() => {});
    }
    this.#consoleDir = undefined;
  }

  /** Copies the client's stdin FIFO into `fd` until either side ends. */
  #copyStdin(fd: number) {
    // A non-blocking open never waits; the first wait ends once the
    // client's writer has come (with data, or gone again).
    const fifo = openFd(this.#paths.stdin, O_RDONLY | O_NONBLOCK);
    this.#stdinOpening = true;
    const copying = () => fd === this.#stdinWriter || fd === this.#master;
    (async () => {
      try {
        await waitReadable(fifo);
        this.#stdinOpening = false;
        const buffer = new Uint8Array(COPY_BUFFER);
        for (;;) {
          const n = await readFd(fifo, buffer);
          if (n === 0 || !copying()) break;
          if (!await writeFd(fd, buffer.subarray(0, n))) break;
        }
      } finally {
        closeFd(fifo);
      }
      // The client closed its end: so does the process's stdin.
      if (fd === this.#stdinWriter) this.#endStdin();
    })().catch(() => {});
  }

  /**
   * A reader still waiting for the client's writer is released by opening
   * the FIFO for writing once ourselves; its read then sees end of file.
   */
  #releaseStdinFifo() {
    if (!this.#stdinOpening) return;
    this.#stdinOpening = false;
    try {
      closeFd(openFd(this.#paths.stdin, O_WRONLY | O_NONBLOCK));
    } catch {
      // no reader waiting (it has a writer, or is done)
    }
  }

  /** Copies the terminal's output to the stdout FIFO until it hangs up. */
  async #copyOutput(master: number): Promise<void> {
    const out = openOutput(this.#paths.stdout);
    try {
      const buffer = new Uint8Array(COPY_BUFFER);
      for (;;) {
        const n = await readFd(master, buffer);
        if (n === 0) break;
        if (!await writeFd(out, buffer.subarray(0, n))) break;
      }
    } finally {
      closeFd(out);
    }
  }
}

/**
 * Opens the client's output FIFO for writing without waiting: normally the
 * client reads it already; if not, read-write, so the open never blocks.
 */
function openOutput(path: string): number {
  let fd;
  try {
    fd = openFd(path, O_WRONLY | O_NONBLOCK);
  } catch {
    fd = openFd(path, O_RDWR | O_NONBLOCK);
  }
  return fd;
}
