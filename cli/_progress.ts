/**
 * The transfer progress ctr shows while it pulls or pushes: one line per
 * blob (`layer-sha256:…: downloading |+++---| 1.2 MiB/3.4 MiB`) and an
 * `elapsed … total … (speed)` line, laid out by a tabwriter. On a terminal
 * the table is redrawn in place every 100 ms (ANSI cursor movement, the
 * bar in green), byte for byte as ctr draws it; elsewhere one plain line
 * is printed per state change, and the totals once at the end.
 *
 * @module
 */
import type { Progress } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { formatFixed, progressBytes, tabwrite } from "./_format.ts";

export { writeStdoutSync } from "./_output.ts";

/** One line of the display (ctr's `content.StatusInfo`). */
export interface StatusInfo {
  /** `KIND-DIGEST`, or the reference being resolved. */
  ref: string;
  /** `resolving`, `waiting`, `downloading`, `done`, `exists` … */
  status: string;
  /** Bytes transferred. */
  offset: number;
  /** Bytes in all. */
  total: number;
}

const GREEN = "\x1b[32m";
const RESET = "\x1b[0m";

/** ctr's progress tables: tabwriter(minwidth 1, tabwidth 8, padding 1, ' '). */
const SPACES = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };

/**
 * A bar as ctr's `progress.Bar` prints with `%40r`: `|` and `|` around
 * `+` for the done part (in green) and `-` for the rest.
 */
export function progressBar(fraction: number, width = 40, color = true) {
  const h = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const positive = Math.trunc((width - 2) * h);
  const negative = width - 2 - positive;
  return `|${color ? GREEN : ""}${"+".repeat(positive)}${color ? RESET : ""}${
    "-".repeat(negative)
  }|`;
}

/** Go's `%W.Ps` of a string: at most P characters, right-aligned in W. */
function goPrecision(text: string, width: number, precision: number): string {
  return [...text].slice(0, precision).join("").padStart(width);
}

/**
 * The display's text before the tabwriter (ctr's `content.Display`):
 * tab-separated cells, one line per status and the totals line.
 */
export function displayText(
  statuses: readonly StatusInfo[],
  elapsedMs: number,
  color = true,
): string {
  let total = 0;
  let text = "";
  for (const s of statuses) {
    total += s.offset;
    switch (s.status) {
      case "downloading":
      case "uploading": {
        const bar = progressBar(
          s.total > 0 ? s.offset / s.total : 0,
          40,
          color,
        );
        text += `${s.ref}:\t${s.status}\t${bar}\t${
          goPrecision(progressBytes(s.offset), 8, 8)
        }/${progressBytes(s.total)}\t\n`;
        break;
      }
      case "resolving":
      case "waiting":
        text += `${s.ref}:\t${s.status}\t${progressBar(0, 40, color)}\t\n`;
        break;
      default:
        text += `${s.ref}:\t${s.status}\t${progressBar(1, 40, color)}\t\n`;
    }
  }
  return text + summaryText(total, elapsedMs);
}

/** The totals line: `elapsed: 1.2 s\ttotal:  3.4 Mi\t(2.8 MiB/s)\t`. */
function summaryText(total: number, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const rate = Math.trunc(total / seconds);
  return `elapsed: ${formatFixed(seconds, 1).padEnd(4)}s\ttotal: ${
    goPrecision(progressBytes(total), 7, 6)
  }\t(${progressBytes(Number.isFinite(rate) ? rate : 0)}/s)\t\n`;
}

/** One frame of the display, laid out as ctr's tabwriter does. */
export function renderFrame(
  statuses: readonly StatusInfo[],
  elapsedMs: number,
  color = true,
): string {
  return tabwrite(displayText(statuses, elapsedMs, color), SPACES);
}

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9]+m\x1b?/g;

/**
 * The terminal lines `text` takes at `width` columns, as ctr counts them
 * to move the cursor back up (0 when the width is unknown).
 */
export function countLines(text: string, width: number): number {
  if (width <= 0) return 0;
  let lines = -1;
  for (const line of text.split("\n")) {
    const length = new TextEncoder().encode(line.replace(SGR, "")).length;
    lines += Math.trunc((length - 1) / width) + 1;
  }
  return lines;
}

/** Moves up one line and clears it: ctr's way of erasing a frame. */
export const CLEAR_LINE = "\x1b[1A\x1b[2K\r";

/** How a {@linkcode ProgressDisplay} writes and measures. */
export interface DisplayOptions {
  /** Redraw in place (a terminal), or print plain lines. */
  tty: boolean;
  /** Writes text at once (synchronously). */
  write: (text: string) => void;
  /** Columns of the terminal; 0 when unknown. */
  width?: () => number;
  /** Milliseconds on a monotonic clock. */
  now?: () => number;
  /** The reference a pull resolves: shown first, as ctr does. */
  reference?: string;
  /** Milliseconds between redraws on a terminal. */
  intervalMs?: number;
}

/** The live display of one transfer. */
export class ProgressDisplay {
  readonly #options: Required<Omit<DisplayOptions, "reference">> & {
    reference?: string;
  };
  readonly #start: number;
  readonly #order: string[] = [];
  readonly #statuses = new Map<string, StatusInfo>();
  /** Plain mode: the state last printed for each line. */
  readonly #printed = new Map<string, string>();
  #lines = 0;
  #timer?: ReturnType<typeof setInterval>;
  #finished = false;

  /** Starts the clock; on a terminal, starts redrawing. */
  constructor(options: DisplayOptions) {
    this.#options = {
      width: () => 0,
      now: () => performance.now(),
      intervalMs: 100,
      ...options,
    };
    this.#start = this.#options.now();
    if (options.reference !== undefined) {
      this.#set({
        ref: options.reference,
        status: "resolving",
        offset: 0,
        total: 0,
      });
    }
    if (options.tty) {
      this.#timer = setInterval(() => this.redraw(), this.#options.intervalMs);
    } else {
      this.#printChanges();
    }
  }

  #set(status: StatusInfo): void {
    if (!this.#statuses.has(status.ref)) this.#order.push(status.ref);
    this.#statuses.set(status.ref, status);
  }

  /** Every line, in the order first seen. */
  get statuses(): StatusInfo[] {
    return this.#order.map((ref) => this.#statuses.get(ref)!);
  }

  /** Takes in a message of the transfer's stream. */
  update(progress: Progress): void {
    const reference = this.#options.reference;
    if (reference !== undefined && progress.blobs.length) {
      this.#set({ ref: reference, status: "resolved", offset: 0, total: 0 });
    }
    for (const blob of progress.blobs) {
      const desc = blob.descriptor;
      const total = Number(desc?.size ?? 0n);
      const offset = blob.state === "done" ? total : Number(blob.offset);
      this.#set({
        ref: `${blob.kind}-${desc?.digest ?? ""}`,
        status: blob.state,
        offset,
        total,
      });
    }
    if (!this.#options.tty) this.#printChanges();
  }

  #elapsed(): number {
    return this.#options.now() - this.#start;
  }

  /** Plain mode: one line per line whose state changed. */
  #printChanges(): void {
    let text = "";
    for (const s of this.statuses) {
      if (this.#printed.get(s.ref) === s.status) continue;
      this.#printed.set(s.ref, s.status);
      text += `${s.ref}: ${s.status}\n`;
    }
    if (text) this.#options.write(text);
  }

  /** Terminal mode: erases the last frame and draws the current one. */
  redraw(): void {
    if (!this.#options.tty) return;
    const frame = renderFrame(this.statuses, this.#elapsed());
    const clear = CLEAR_LINE.repeat(this.#lines);
    this.#lines = countLines(frame, this.#options.width());
    this.#options.write(clear + frame);
  }

  /**
   * Stops redrawing and shows the last state (plain: the totals line).
   * After a successful pull, as ctr's display does, every line not done
   * or found existing is shown done.
   */
  finish(success = false): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (success && this.#options.reference !== undefined) {
      for (const s of this.#statuses.values()) {
        if (s.ref === this.#options.reference) continue;
        if (s.status !== "done" && s.status !== "exists") {
          s.status = "done";
          s.offset = s.total;
        }
      }
    }
    if (this.#options.tty) {
      this.redraw();
      return;
    }
    this.#printChanges();
    const total = this.statuses.reduce((n, s) => n + s.offset, 0);
    const line = tabwrite(summaryText(total, this.#elapsed()), SPACES);
    this.#options.write(line.replace(/ +\n/g, "\n"));
  }
}

/** The terminal's width in columns, or 0 when stdout is not one. */
export function terminalWidth(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 0;
  }
}
