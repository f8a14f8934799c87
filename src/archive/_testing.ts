/**
 * Test helpers: tars built in memory with tar-stream's pack (and raw
 * headers for what pack cannot write), and a sandbox whose "outside" part
 * is checked to be untouched after each test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type Header, pack as tarPack } from "tar-stream";
import { BerthError, type Code } from "../types/mod.ts";

/** One part of a test tar: an entry for pack, or raw bytes. */
export type TarPart =
  | { header: Partial<Header> & { name: string }; body?: string | Uint8Array }
  | { raw: Uint8Array };

const END_OF_TAR = 1024;

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

async function packOne(
  header: Partial<Header> & { name: string },
  body?: string | Uint8Array,
): Promise<Uint8Array> {
  const p = tarPack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const chunk of p) chunks.push(chunk as Uint8Array);
  })();
  // deno-lint-ignore no-explicit-any
  p.entry({ ...header } as any, body ?? "");
  p.finalize();
  await done;
  const bytes = concatBytes(chunks);
  return bytes.subarray(0, bytes.byteLength - END_OF_TAR);
}

/** A tar archive of `parts`, ended with two zero blocks. */
export async function buildTar(
  parts: TarPart[],
): Promise<Uint8Array<ArrayBuffer>> {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    if ("raw" in part) out.push(part.raw);
    else out.push(await packOne(part.header, part.body));
  }
  out.push(new Uint8Array(END_OF_TAR));
  return concatBytes(out);
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/**
 * A raw ustar header block (with correct checksum) for `typeflag`, then
 * `body` padded to 512 bytes. `size` defaults to the body's length.
 */
export function rawEntry(
  name: string,
  typeflag: string,
  body: Uint8Array = new Uint8Array(),
  size = body.byteLength,
): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(512);
  const enc = new TextEncoder();
  header.set(enc.encode(name).subarray(0, 100), 0);
  header.set(enc.encode(octal(0o644, 8)), 100);
  header.set(enc.encode(octal(0, 8)), 108);
  header.set(enc.encode(octal(0, 8)), 116);
  header.set(enc.encode(octal(size, 12)), 124);
  header.set(enc.encode(octal(0, 12)), 136);
  header[156] = typeflag.charCodeAt(0);
  header.set(enc.encode("ustar\u000000"), 257);
  header.fill(0x20, 148, 156);
  const sum = header.reduce((n, b) => n + b, 0);
  header.set(enc.encode(octal(sum, 7) + " "), 148);
  const padded = new Uint8Array(Math.ceil(body.byteLength / 512) * 512);
  padded.set(body);
  return concatBytes([header, padded]);
}

/** One PAX record (`LEN key=value\n`), value as bytes or UTF-8. */
export function paxRecord(
  key: string,
  value: string | Uint8Array,
): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const body = concatBytes([
    enc.encode(` ${key}=`),
    typeof value === "string" ? enc.encode(value) : value,
    enc.encode("\n"),
  ]);
  let length = body.byteLength + 1;
  while (String(length).length + body.byteLength !== length) length++;
  return concatBytes([enc.encode(String(length)), body]);
}

/** `bytes` as a stream of `chunkSize` chunks. */
export function streamOf(
  bytes: Uint8Array,
  chunkSize = 64 * 1024,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

/** `sha256:` of `bytes`. */
export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Directories of one test: the target, and an outside that must not change. */
export interface Sandbox {
  /** The sandbox, parent of both. */
  dir: string;
  /** Where layers are applied. */
  target: string;
  /** A sibling of the target holding a sentinel file. */
  outside: string;
}

/** A description of everything under `dir` (lstat, never following). */
export function describeTree(
  dir: string,
  skip: (path: string) => boolean = () => false,
): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    const info = Deno.lstatSync(path);
    const kind = info.isSymlink
      ? `link:${Deno.readLinkSync(path)}`
      : info.isDirectory
      ? "dir"
      : info.isFile
      ? `file:${info.size}:${
        createHash("sha256").update(Deno.readFileSync(path)).digest("hex")
      }`
      : "special";
    out[rel || "."] = [
      kind,
      (info.mode! & 0o7777).toString(8),
      info.uid,
      info.gid,
      info.nlink,
      info.mtime?.getTime(),
    ].join(" ");
    if (info.isDirectory) {
      for (const entry of Deno.readDirSync(path)) {
        const child = `${path}/${entry.name}`;
        if (!skip(child)) {
          walk(child, rel ? `${rel}/${entry.name}` : entry.name);
        }
      }
    }
  };
  walk(dir, "");
  return out;
}

function hostFacts(): string {
  const passwd = Deno.statSync("/etc/passwd");
  return JSON.stringify([
    passwd.ino,
    passwd.nlink,
    passwd.mode,
    passwd.uid,
    passwd.mtime?.getTime(),
    passwd.size,
  ]);
}

/**
 * Runs `fn` in a fresh sandbox; afterwards asserts that nothing but the
 * target changed (the outside dir, its sentinel, the sandbox itself and
 * `/etc/passwd`), then removes the sandbox.
 */
export async function withSandbox(
  fn: (sandbox: Sandbox) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-archive-" });
  try {
    const sandbox = {
      dir,
      target: `${dir}/target`,
      outside: `${dir}/outside`,
    };
    Deno.mkdirSync(sandbox.target);
    Deno.mkdirSync(`${sandbox.outside}/sub`, { recursive: true });
    Deno.writeTextFileSync(`${sandbox.outside}/sentinel`, "sentinel");
    Deno.chmodSync(`${sandbox.outside}/sentinel`, 0o640);
    const skip = (path: string) => path === sandbox.target;
    const before = describeTree(dir, skip);
    const host = hostFacts();
    await fn(sandbox);
    assert.deepEqual(describeTree(dir, skip), before, "outside changed");
    assert.equal(
      Deno.readTextFileSync(`${sandbox.outside}/sentinel`),
      "sentinel",
    );
    assert.equal(hostFacts(), host, "/etc/passwd changed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that `promise` rejects with a BerthError of `code` matching `pattern`. */
export async function assertBerthError(
  promise: Promise<unknown>,
  code: Code,
  pattern: RegExp,
): Promise<BerthError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BerthError, `expected BerthError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

/** True when `path` exists (without following a symlink). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
