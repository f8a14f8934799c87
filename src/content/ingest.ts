/**
 * The on-disk layout of one ingest (an unfinished write), as containerd lays
 * it out: `ingest/<hex of sha256(ref)>/` holding
 *
 * - `data`: the bytes written so far (its size is the offset);
 * - `ref`: the ref, verbatim;
 * - `startedat`, `updatedat`: RFC 3339 timestamps with nanoseconds;
 * - `total`: the expected size in decimal, when known;
 * - `expected`: the expected digest, when known (berth's addition).
 *
 * Small files are replaced atomically (written beside, then renamed), so a
 * crash leaves either the old or the new content.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { IngestStatus } from "./types.ts";
import { formatRfc3339Nano, parseRfc3339Nano } from "../types/mod.ts";

/** The directory name of `ref`'s ingest: the hex sha256 of the ref. */
export function ingestDirName(ref: string): string {
  return createHash("sha256").update(ref).digest("hex");
}

/** The paths of the files of one ingest directory. */
export function ingestFiles(dir: string): {
  data: string;
  ref: string;
  startedAt: string;
  updatedAt: string;
  total: string;
  expected: string;
} {
  return {
    data: join(dir, "data"),
    ref: join(dir, "ref"),
    startedAt: join(dir, "startedat"),
    updatedAt: join(dir, "updatedat"),
    total: join(dir, "total"),
    expected: join(dir, "expected"),
  };
}

/** Replaces the file at `path` with `text`, atomically. */
export async function writeFileAtomic(
  path: string,
  text: string,
): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

/** Writes a timestamp file. */
export function writeTimestamp(path: string, time: Date): Promise<void> {
  return writeFileAtomic(path, formatRfc3339Nano(time));
}

/** The text of `path`, or undefined when it is missing. */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** A timestamp file's time, or undefined when missing or unreadable. */
async function readTimestamp(path: string): Promise<Date | undefined> {
  const text = await readOptional(path);
  if (text === undefined) return undefined;
  const time = parseRfc3339Nano(text.trim()) ?? new Date(text.trim());
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** What {@linkcode createIngestFiles} records for a new ingest. */
export interface NewIngest {
  /** The ref. */
  ref: string;
  /** When the ingest started. */
  startedAt: Date;
  /** The expected size, 0 when unknown. */
  total: number;
  /** The expected digest, "" when unknown. */
  expected: string;
}

/**
 * Writes the description files of a new ingest into the existing, empty
 * directory `dir` (the ref first, so a directory with a ref is always
 * attributable). The data file is the caller's.
 */
export async function createIngestFiles(
  dir: string,
  ingest: NewIngest,
): Promise<void> {
  const files = ingestFiles(dir);
  await Deno.writeTextFile(files.ref, ingest.ref);
  await writeTimestamp(files.startedAt, ingest.startedAt);
  await writeTimestamp(files.updatedAt, ingest.startedAt);
  if (ingest.total > 0) {
    await writeFileAtomic(files.total, String(ingest.total));
  }
  if (ingest.expected) await writeFileAtomic(files.expected, ingest.expected);
}

/** The ref recorded in `dir`, or undefined when there is none. */
export function readIngestRef(dir: string): Promise<string | undefined> {
  return readOptional(ingestFiles(dir).ref);
}

/**
 * The status of the ingest in `dir` as recorded on disk, or undefined when
 * it has no data or no ref file (gone, or never fully created). Missing or
 * corrupt timestamps fall back to the data file's modification time; since
 * `updatedat` is not rewritten on every write, the later of the two is used.
 */
export async function readIngestStatus(
  dir: string,
): Promise<IngestStatus | undefined> {
  const files = ingestFiles(dir);
  let data: Deno.FileInfo;
  try {
    data = await Deno.stat(files.data);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const ref = await readOptional(files.ref);
  if (ref === undefined) return undefined;
  const modified = data.mtime ?? new Date(0);
  const startedAt = await readTimestamp(files.startedAt) ?? modified;
  let updatedAt = await readTimestamp(files.updatedAt) ?? modified;
  if (modified > updatedAt) updatedAt = modified;
  const totalText = await readOptional(files.total);
  const total = totalText === undefined ? 0 : Number(totalText.trim());
  const expected = (await readOptional(files.expected))?.trim() ?? "";
  return {
    ref,
    offset: data.size,
    total: Number.isSafeInteger(total) && total > 0 ? total : 0,
    expected,
    startedAt,
    updatedAt,
  };
}
