/**
 * A small leveled logger writing logfmt lines to stderr, like containerd's
 * (`time=… level=info msg="…" key=value`).
 *
 * @module
 */

/** Log levels, least to most severe. */
export const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
/** One of {@linkcode LEVELS}. */
export type Level = typeof LEVELS[number];

/** Extra key/value pairs on a log line. */
export type Fields = Record<string, unknown>;

/** A logger with fields bound to it. */
export interface Logger {
  /** Logs at `level` when it is at or above the configured level. */
  log(level: Level, msg: string, fields?: Fields): void;
  /**
   * True when a line at `level` would be written: a caller whose fields cost
   * something to compute asks first.
   */
  enabled(level: Level): boolean;
  /** Shorthands for {@linkcode Logger.log}. */
  debug(msg: string, fields?: Fields): void;
  /** Logs at info. */
  info(msg: string, fields?: Fields): void;
  /** Logs at warn. */
  warn(msg: string, fields?: Fields): void;
  /** Logs at error. */
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Fields): Logger;
}

let threshold = LEVELS.indexOf("info");

/** Sets the lowest level that is written. */
export function setLevel(level: Level): void {
  threshold = LEVELS.indexOf(level);
}

/** True when `value` names a level. */
export function isLevel(value: string): value is Level {
  return (LEVELS as readonly string[]).includes(value);
}

function quote(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  return /^[A-Za-z0-9_./:@-]+$/.test(text) ? text : JSON.stringify(text);
}

const encoder = new TextEncoder();

function make(bound: Fields): Logger {
  const logger: Logger = {
    log(level, msg, fields) {
      if (!logger.enabled(level)) return;
      let line = `time="${new Date().toISOString()}" level=${level} msg=${
        JSON.stringify(msg)
      }`;
      for (const [key, value] of Object.entries({ ...bound, ...fields })) {
        if (value !== undefined) line += ` ${key}=${quote(value)}`;
      }
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    },
    enabled: (level) => LEVELS.indexOf(level) >= threshold,
    debug: (msg, fields) => logger.log("debug", msg, fields),
    info: (msg, fields) => logger.log("info", msg, fields),
    warn: (msg, fields) => logger.log("warn", msg, fields),
    error: (msg, fields) => logger.log("error", msg, fields),
    with: (fields) => make({ ...bound, ...fields }),
  };
  return logger;
}

/** The root logger. */
export const log: Logger = make({});
