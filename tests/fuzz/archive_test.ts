/**
 * Fuzzing the tar reader and layer applier (src/archive): random entries
 * with hostile names, links, whiteouts, devices and broken headers are
 * applied in a sandbox. Nothing may land outside the target (the sandbox
 * around it, its sentinel and /etc/passwd are compared before and after),
 * and a failure must be a BerthError.
 */
import fc from "fast-check";
import {
  buildTar,
  concatBytes,
  rawEntry,
  streamOf,
  type TarPart,
  withSandbox,
} from "../../src/archive/_testing.ts";
import { applyLayer } from "../../src/archive/apply.ts";
import { assertClearError, fuzzParameters } from "./_fuzz.ts";

/** Path parts that trip appliers: parents, roots, whiteouts, siblings. */
const part = fc.constantFrom(
  "..",
  ".",
  "",
  "a",
  "b",
  "sub",
  "outside",
  "sentinel",
  "etc",
  "passwd",
  ".wh.a",
  ".wh.b",
  ".wh.sub",
  ".wh..wh..opq",
  ".wh..",
  ".wh.",
  "é",
  "x".repeat(120),
);

const path = fc.tuple(
  fc.constantFrom("", "", "/", "./", "../", "../../"),
  fc.array(part, { minLength: 1, maxLength: 4 }),
  fc.constantFrom("", "", "/"),
).map(([lead, parts, trail]) => lead + parts.join("/") + trail);

/** Link targets: inside names, absolute host paths, the sandbox's outside. */
const linkTarget = fc.oneof(
  path,
  fc.constantFrom(
    "/",
    "/etc",
    "/etc/passwd",
    "../outside",
    "../outside/sentinel",
  ),
);

const entry: fc.Arbitrary<TarPart> = fc.oneof(
  fc.record({
    name: path,
    type: fc.constantFrom("file", "directory", "fifo"),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    body: fc.string({ maxLength: 16 }),
  }).map(({ name, type, mode, body }) => ({
    header: { name, type, mode },
    body: type === "file" ? body : undefined,
  })),
  fc.record({
    name: path,
    type: fc.constantFrom("symlink", "link"),
    linkname: linkTarget,
  }).map(({ name, type, linkname }) => ({
    header: { name, type, linkname, mode: 0o777 },
  })),
  fc.record({
    name: path,
    type: fc.constantFrom("character-device", "block-device"),
    devmajor: fc.integer({ min: 0, max: 300 }),
    devminor: fc.integer({ min: 0, max: 300 }),
  }).map((header) => ({ header: { ...header, mode: 0o600 } })),
  fc.record({
    name: path,
    pax: fc.dictionary(
      fc.constantFrom(
        "path",
        "linkpath",
        "size",
        "uid",
        "SCHILY.xattr.user.a",
        "SCHILY.xattr.security.capability",
        "mtime",
      ),
      fc.oneof(path, fc.string({ maxLength: 12 })),
      { maxKeys: 3, noNullPrototype: true },
    ),
  }).map(({ name, pax }) => ({
    header: { name, type: "file" as const, pax },
    body: "pax",
  })),
  // Raw headers: any type flag, a size that lies, garbage blocks.
  fc.record({
    name: path,
    flag: fc.constantFrom(
      "0",
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "g",
      "x",
      "L",
      "K",
      "S",
      "V",
      "Z",
    ),
    body: fc.uint8Array({ maxLength: 700 }),
    size: fc.option(fc.nat({ max: 4096 })),
  }).map(({ name, flag, body, size }) => ({
    raw: rawEntry(name, flag, body, size ?? body.byteLength),
  })),
  fc.uint8Array({ minLength: 1, maxLength: 600 }).map((raw) => ({ raw })),
);

Deno.test("fuzz: random layers never write outside the root and fail only with BerthErrors", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(entry, { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      fc.boolean(),
      async (parts, allowDevices, truncate) => {
        let tar = await buildTar(parts);
        if (truncate) tar = concatBytes([tar.subarray(0, tar.length >> 1)]);
        await withSandbox(async ({ target }) => {
          try {
            await applyLayer(target, streamOf(tar, 512), { allowDevices });
          } catch (err) {
            assertClearError(err);
          }
        });
      },
    ),
    fuzzParameters(150),
  );
});
