/**
 * The stdio of one container process, wired as containerd's shim does: the
 * process gets pipes (or a terminal), never the client's FIFOs, and the
 * shim copies between them and the FIFOs. So the container holds nothing
 * of the host's, output written while the client is away waits in the
 * FIFO for it to come back (the shim keeps it open read-write), and what
 * runc says about a failed start never reaches the client's stderr.
 *
 * The client's FIFOs are opened first, before runc runs: a client whose
 * opens of its ends wait for the shim's (ctr's, in blocking `open` calls
 * that each hold one of its runtime's threads) goes on at once, not only
 * once runc has returned.
 *
 * stdin ends for the process when the client's writer closes, or on
 * `CloseIO` (also one that comes before the process starts). Until the
 * client's first bytes (or `CloseIO`) the shim holds a writer of its own
 * on the stdin FIFO, as containerd's shim does until `CloseIO`: a moment
 * without a writer before the client's data (a client's open interrupted
 * by a signal and retried, a writer that comes and goes) is not the end of
 * its input.
 * With a terminal, runc sends the pseudo-terminal's master over a console
 * socket; stdin is copied into it and its output to the stdout FIFO.
 *
 * @module
 */
import { join } from "../types/path.ts";
import { ConsoleSocket } from "../sys/console_socket.ts";
import {
  closeFd,
  openFd,
  pipe,
  setNonBlocking,
  setWindowSize,
} from "../sys/fdio.ts";
import { watchOpens, watchReads } from "../sys/open_watch.ts";
import { duplicate, growPipe, hasReader, unreadBytes } from "../sys/splice.ts";
import type { StdioFiles } from "./runc.ts";
import { CHUNK, Copy } from "./pump.ts";

const O_RDONLY = 0o0;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const NO_FILE = "/dev/null";
/** How long after `CloseIO` a client still writing may finish. */
const STDIN_GRACE_MS = 2_000;
/** How long a deleted process's unread output waits for its reader. */
const HELD_OUTPUT_GRACE_MS = 2_000;
/** How long the exit waits for a reader that reads nothing more. */
const STALLED_READER_MS = 2_000;
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

/** A pipe: the end the shim keeps and the end the process gets. */
interface ProcessPipe {
  ours: number;
  theirs: number;
}

/** The stdio of one process, from before runc runs until it exits. */
export class ProcessIO {
  /** What runc gets as fds 0, 1 and 2. */
  readonly files: StdioFiles;
  /** Extra runc arguments (`--console-socket`). */
  readonly runcArgs: string[];
  readonly #paths: StdioPaths;
  /** Pipes for stdin, stdout, stderr (undefined: none, or a terminal). */
  readonly #pipes: (ProcessPipe | undefined)[] = [];
  #console: ConsoleSocket | undefined;
  #consoleDir: string | undefined;
  #master: number | undefined;
  /**
   * The client's FIFOs, opened by `open` and handed to their copies by
   * `started` (stdin: the shim's reader).
   */
  readonly #fifos: (number | undefined)[] = [];
  #stdin: Copy | undefined;
  /** The shim's own writer on the stdin FIFO, held until `CloseIO`. */
  #stdinWriter: number | undefined;
  /** `CloseIO` came (maybe before the process started). */
  #stdinClosed = false;
  readonly #outputs: Copy[] = [];
  /**
   * Each output FIFO held for a reader that has not come yet: its let-go,
   * and when it was let go.
   */
  readonly #held = new Map<() => void, Promise<void>>();
  /** Output held for a reader that is reading it (the exit waits). */
  readonly #taking: Promise<void>[] = [];
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
      io.#openFifos();
      if (paths.terminal) {
        io.#consoleDir = await Deno.makeTempDir({ prefix: "berth-pty" });
        io.#console = ConsoleSocket.listen(join(io.#consoleDir, "pty.sock"));
        io.runcArgs.push("--console-socket", io.#console.path);
      } else {
        const wanted = [paths.stdin, paths.stdout, paths.stderr];
        for (const [i, path] of wanted.entries()) {
          if (!path) continue;
          const [reader, writer] = pipe();
          const pair = i === 0
            ? { ours: writer, theirs: reader }
            : { ours: reader, theirs: writer };
          io.#pipes[i] = pair;
          growPipe(pair.ours, CHUNK);
          // runc opens the pipe's end through /proc while it is ours.
          io.files[i] = `/proc/${Deno.pid}/fd/${pair.theirs}`;
        }
      }
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  /**
   * Opens the client's FIFOs: stdin to read, with the shim's own writer
   * (which cannot fail: the reader is there), and the outputs read-write.
   * None waits for the client.
   */
  #openFifos(): void {
    const { stdin, stdout, stderr, terminal } = this.#paths;
    if (stdin) {
      this.#fifos[0] = openFd(stdin, O_RDONLY | O_NONBLOCK);
      this.#stdinWriter = openFd(stdin, O_WRONLY | O_NONBLOCK);
    }
    if (stdout) this.#fifos[1] = openOutput(stdout);
    // With a terminal, stderr is the terminal too.
    if (stderr && !terminal) this.#fifos[2] = openOutput(stderr);
  }

  /**
   * Called once runc has started the process: drops the pipe ends it now
   * holds itself, takes the terminal, and starts copying.
   */
  async started(): Promise<void> {
    for (const pair of this.#pipes) {
      if (pair) closeFd(pair.theirs);
    }
    let from: (number | undefined)[];
    if (this.#console) {
      const master = await this.#console.receive({
        signal: AbortSignal.timeout(CONSOLE_TIMEOUT_MS),
      });
      this.#closeConsoleSocket();
      setNonBlocking(master);
      this.#master = master;
      from = [master, master].map((fd, i) =>
        this.#fifos[i] === undefined ? undefined : duplicate(fd)
      );
    } else {
      from = this.#pipes.map((pair) => {
        if (!pair) return undefined;
        setNonBlocking(pair.ours);
        return pair.ours;
      });
      this.#pipes.length = 0;
    }
    const [input, output, error] = from;
    const [reader, stdout, stderr] = this.#fifos;
    this.#fifos.length = 0;
    if (output !== undefined && stdout !== undefined) {
      this.#outputs.push(this.#copyOutput(output, stdout, this.#paths.stdout));
    }
    if (error !== undefined && stderr !== undefined) {
      this.#outputs.push(this.#copyOutput(error, stderr, this.#paths.stderr));
    }
    if (input !== undefined && reader !== undefined) {
      this.#stdin = new Copy(reader, input, {
        onFirstBytes: () => this.#closeStdinWriter(),
      });
      if (this.#stdinClosed) this.#endStdinAfterGrace(this.#stdin);
    }
  }

  /**
   * Resolves when what the process wrote has reached the client's FIFOs
   * (call once it has exited).
   */
  async drained(): Promise<void> {
    await Promise.all(this.#outputs.map((copy) => copy.drain()));
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
    this.#stdinClosed = true;
    this.#closeStdinWriter();
    // Before the start, the copy applies it when it begins.
    if (this.#stdin) this.#endStdinAfterGrace(this.#stdin);
  }

  #endStdinAfterGrace(stdin: Copy): void {
    const timer = setTimeout(() => stdin.stop(), STDIN_GRACE_MS);
    Deno.unrefTimer(timer);
    stdin.done.then(() => clearTimeout(timer));
  }

  /** Closes everything (the process has exited or never started). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pair of this.#pipes) {
      if (!pair) continue;
      closeFd(pair.ours);
      closeFd(pair.theirs);
    }
    this.#pipes.length = 0;
    for (const fd of this.#fifos) {
      if (fd !== undefined) closeFd(fd);
    }
    this.#fifos.length = 0;
    this.#closeStdinWriter();
    this.#stdin?.stop();
    for (const copy of this.#outputs) copy.stop();
    this.#closeConsoleSocket();
    if (this.#master !== undefined) closeFd(this.#master);
    this.#master = undefined;
  }

  /** Copies `from` into the client's output FIFO `path`, open as `to`. */
  #copyOutput(from: number, to: number, path: string): Copy {
    return new Copy(from, to, {
      release: (fd) => this.#releaseOutput(fd, path),
    });
  }

  /**
   * Lets go of an output FIFO whose copy has ended. Output left in it would
   * vanish with the shim's last descriptor if no reader has opened yet (a
   * slow client, under load), and a client that learns of the exit closes
   * its reader at once (ctr, before its Delete), losing what it has not
   * read yet (up to the FIFO's 1 MiB). So while output is left the shim
   * holds a writer: without a reader, until one opens (the exit is told
   * meanwhile); with one, until it has read it all or closed, and the exit
   * waits for that (see `outputTaken`). Both are noticed on the poll loop,
   * no thread held, and end when the process is deleted.
   */
  #releaseOutput(fd: number, path: string): void {
    let writer: number;
    try {
      writer = openFd(path, O_WRONLY | O_NONBLOCK);
    } catch {
      closeFd(fd);
      return;
    }
    closeFd(fd);
    // Mostly the client has read everything: no watch then.
    if (unreadBytes(writer) === 0) closeFd(writer);
    else this.#holdOutput(writer, path, hasReader(writer));
  }

  /** Holds `writer` while its FIFO `path` has output `reading` waits for. */
  #holdOutput(writer: number, path: string, reading: boolean): void {
    const done = reading
      ? () => unreadBytes(writer) === 0 || !hasReader(writer)
      : () => hasReader(writer) || unreadBytes(writer) === 0;
    const gone = Promise.withResolvers<void>();
    let unwatch = () => {};
    let stall: ReturnType<typeof setTimeout> | undefined;
    let left = -1;
    const letGo = () => {
      if (!this.#held.delete(letGo)) return;
      clearTimeout(stall);
      unwatch();
      closeFd(writer);
      gone.resolve();
    };
    this.#held.set(letGo, gone.promise);
    if (reading) this.#taking.push(gone.promise);
    const look = () => {
      if (done()) return letGo();
      if (!reading || unreadBytes(writer) === left) return;
      // A reader that stops reading holds the exit only so long.
      left = unreadBytes(writer);
      clearTimeout(stall);
      stall = setTimeout(letGo, STALLED_READER_MS);
    };
    try {
      // Watched before the look, so that nothing comes unnoticed between.
      unwatch = (reading ? watchReads : watchOpens)(path, look);
    } catch {
      letGo(); // the FIFO is gone: no reader can come
      return;
    }
    look();
  }

  /**
   * Resolves once the client's readers have taken the output left in its
   * FIFOs when the IO closed (or closed, or stopped reading for a while).
   */
  async outputTaken(): Promise<void> {
    await Promise.all(this.#taking);
  }

  /**
   * The process is deleted: output still held for a reader gets `graceMs`
   * for the reader to come, then is let go. A client asks for the delete as
   * soon as it sees the exit, and under load its reader may open only
   * after that (containerd's shim likewise waits up to 2 s for its copies).
   */
  async abandonOutput(graceMs = HELD_OUTPUT_GRACE_MS): Promise<void> {
    if (this.#held.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(this.#held.values()), late]);
    clearTimeout(timer);
    for (const letGo of [...this.#held.keys()]) letGo();
  }

  #closeStdinWriter() {
    if (this.#stdinWriter === undefined) return;
    closeFd(this.#stdinWriter);
    this.#stdinWriter = undefined;
  }

  #closeConsoleSocket() {
    this.#console?.close();
    this.#console = undefined;
    if (this.#consoleDir) {
      Deno.remove(this.#consoleDir, { recursive: true }).catch(() => {});
    }
    this.#consoleDir = undefined;
  }
}

/**
 * The client's output FIFO, opened read-write: the open never waits, and a
 * client that goes away leaves the FIFO to fill, not the copy to fail.
 */
function openOutput(path: string): number {
  const fd = openFd(path, O_RDWR | O_NONBLOCK);
  growPipe(fd, CHUNK);
  return fd;
}
