import assert from "node:assert/strict";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { lgetxattr, splitdev } from "../sys/fsx.ts";
import { Code } from "../types/mod.ts";
import {
  assertBerthError,
  buildTar,
  concatBytes,
  exists,
  paxRecord,
  rawEntry,
  sha256,
  streamOf,
  withSandbox,
} from "./_testing.ts";
import { applyLayer } from "./apply.ts";
import { decompressLayer, LayerMediaType } from "./decompress.ts";

const T1 = new Date("2020-01-02T03:04:05Z");
const T2 = new Date("2021-06-07T08:09:10Z");
const sec = (d: Date) => d.getTime() / 1000;

Deno.test("applyLayer writes every entry type with owners, modes, times and xattrs", async () => {
  await withSandbox(async ({ target }) => {
    const capability = new Uint8Array([
      1,
      0,
      0,
      2,
      0x80,
      0x20,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    const tar = await buildTar([
      {
        header: {
          name: "dir/",
          type: "directory",
          mode: 0o2750,
          uid: 1000,
          gid: 1001,
          mtime: T1,
        },
      },
      {
        header: { name: "sticky/", type: "directory", mode: 0o1777, mtime: T1 },
      },
      {
        header: {
          name: "dir/suid",
          type: "file",
          mode: 0o4755,
          uid: 1000,
          gid: 1000,
          mtime: T2,
        },
        body: "#!/bin/sh\necho hi\n",
      },
      {
        header: {
          name: "dir/hard",
          type: "link",
          linkname: "dir/suid",
          mode: 0o4755,
          uid: 1000,
          gid: 1000,
          mtime: T2,
        },
      },
      {
        header: {
          name: "dir/sym",
          type: "symlink",
          linkname: "suid",
          uid: 1002,
          gid: 1003,
          mtime: T1,
        },
      },
      {
        header: {
          name: "dev/null",
          type: "character-device",
          mode: 0o666,
          devmajor: 1,
          devminor: 3,
          mtime: T1,
        },
      },
      {
        header: {
          name: "dev/loop9",
          type: "block-device",
          mode: 0o660,
          devmajor: 7,
          devminor: 9,
          mtime: T1,
        },
      },
      { header: { name: "dev/fifo", type: "fifo", mode: 0o620, mtime: T1 } },
      {
        header: {
          name: "text",
          type: "file",
          mode: 0o640,
          mtime: T1,
          pax: {
            "SCHILY.xattr.user.comment": "hello",
            mtime: "1600000000.123456789",
            atime: "1700000000.5",
          },
        },
        body: "text",
      },
      // Binary xattr: tar-stream's pack writes PAX values as UTF-8, so the
      // PAX header is built by hand.
      {
        raw: rawEntry(
          "PaxHeader",
          "x",
          concatBytes([
            paxRecord("SCHILY.xattr.security.capability", capability),
            paxRecord(
              "SCHILY.xattr.user.bin",
              new Uint8Array([0xff, 0x00, 0xfe]),
            ),
          ]),
        ),
      },
      {
        header: { name: "bin/ping", type: "file", mode: 0o755, mtime: T1 },
        body: "ping",
      },
      // Written after dir/ got its time: the directory time must survive.
      {
        header: { name: "dir/late", type: "file", mode: 0o600, mtime: T1 },
        body: "late",
      },
    ]);
    const result = await applyLayer(target, streamOf(tar, 1000));
    assert.equal(result.size, tar.byteLength);
    assert.equal(result.digest, sha256(tar));

    const dir = Deno.lstatSync(`${target}/dir`);
    assert.equal(dir.mode! & 0o7777, 0o2750);
    assert.equal(dir.uid, 1000);
    assert.equal(dir.gid, 1001);
    assert.equal(dir.mtime!.getTime(), T1.getTime());
    assert.equal(Deno.lstatSync(`${target}/sticky`).mode! & 0o7777, 0o1777);

    const suid = Deno.lstatSync(`${target}/dir/suid`);
    assert.equal(suid.mode! & 0o7777, 0o4755, "setuid survives chown");
    assert.equal(suid.uid, 1000);
    assert.equal(suid.mtime!.getTime(), T2.getTime());
    assert.equal(suid.nlink, 2);
    assert.equal(Deno.lstatSync(`${target}/dir/hard`).ino, suid.ino);
    assert.equal(
      Deno.readTextFileSync(`${target}/dir/hard`),
      "#!/bin/sh\necho hi\n",
    );

    const sym = Deno.lstatSync(`${target}/dir/sym`);
    assert.ok(sym.isSymlink);
    assert.equal(Deno.readLinkSync(`${target}/dir/sym`), "suid");
    assert.equal(sym.uid, 1002);
    assert.equal(sym.gid, 1003);
    assert.equal(sym.mtime!.getTime(), T1.getTime());

    const nul = Deno.lstatSync(`${target}/dev/null`);
    assert.ok(nul.isCharDevice);
    assert.deepEqual(splitdev(nul.rdev!), [1, 3]);
    assert.equal(nul.mode! & 0o7777, 0o666);
    const loop = Deno.lstatSync(`${target}/dev/loop9`);
    assert.ok(loop.isBlockDevice);
    assert.deepEqual(splitdev(loop.rdev!), [7, 9]);
    const fifo = Deno.lstatSync(`${target}/dev/fifo`);
    assert.ok(fifo.isFifo);
    assert.equal(fifo.mode! & 0o7777, 0o620);
    // Implicit parents are 0755.
    assert.equal(Deno.lstatSync(`${target}/dev`).mode! & 0o7777, 0o755);

    const text = Deno.lstatSync(`${target}/text`);
    assert.equal(text.mtime!.getTime(), 1600000000123);
    assert.equal(text.atime!.getTime(), 1700000000500);
    assert.equal(
      new TextDecoder().decode(lgetxattr(`${target}/text`, "user.comment")),
      "hello",
    );

    assert.deepEqual(
      lgetxattr(`${target}/bin/ping`, "security.capability"),
      capability,
    );
    assert.deepEqual(
      lgetxattr(`${target}/bin/ping`, "user.bin"),
      new Uint8Array([0xff, 0x00, 0xfe]),
    );
    assert.equal(Deno.readTextFileSync(`${target}/dir/late`), "late");
  });
});

Deno.test("applyLayer keeps nanosecond times and bounds times before the epoch", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      {
        header: {
          name: "d/",
          type: "directory",
          pax: { mtime: "1234567890.000000007" },
        },
      },
      {
        header: { name: "old", type: "file", pax: { mtime: "-5.5" } },
        body: "",
      },
    ]);
    await applyLayer(target, streamOf(tar));
    const info = Deno.lstatSync(`${target}/d`);
    assert.equal(sec(info.mtime!), 1234567890);
    assert.equal(Deno.lstatSync(`${target}/old`).mtime!.getTime(), 0);
  });
});

Deno.test("whiteouts and opaque directories apply across two layers", async () => {
  await withSandbox(async ({ target }) => {
    const lower = await buildTar([
      { header: { name: "a/", type: "directory" } },
      { header: { name: "a/x", type: "file" }, body: "x" },
      { header: { name: "a/y", type: "file" }, body: "y" },
      { header: { name: "b/", type: "directory" } },
      { header: { name: "b/keep-lower", type: "file" }, body: "1" },
      { header: { name: "b/sub/", type: "directory" } },
      { header: { name: "b/sub/deep", type: "file" }, body: "2" },
      { header: { name: "c", type: "file" }, body: "c" },
      { header: { name: "d/", type: "directory" } },
      { header: { name: "d/nested/", type: "directory" } },
      { header: { name: "d/nested/old", type: "file" }, body: "old" },
      { header: { name: "e/", type: "directory" } },
      { header: { name: "e/gone", type: "file" }, body: "" },
      { header: { name: "link", type: "symlink", linkname: "a" } },
    ]);
    const upper = await buildTar([
      { header: { name: "a/.wh.x", type: "file" } },
      { header: { name: ".wh.c", type: "file" } },
      { header: { name: ".wh.missing", type: "file" } },
      { header: { name: "nodir/.wh.missing", type: "file" } },
      // Opaque marker after this layer's own children of b/.
      { header: { name: "b/", type: "directory", mode: 0o700 } },
      { header: { name: "b/new", type: "file" }, body: "new" },
      { header: { name: "b/.wh..wh..opq", type: "file" } },
      // Opaque marker first; d/nested is only an implicit parent here.
      { header: { name: "d/.wh..wh..opq", type: "file" } },
      { header: { name: "d/nested/new", type: "file" }, body: "new" },
      { header: { name: "e/.wh..wh..opq", type: "file" } },
      // A whiteout of a symlink removes the link, not what it points to.
      { header: { name: ".wh.link", type: "file" } },
      // A whiteout-created opaque dir that did not exist yet.
      { header: { name: "f/.wh..wh..opq", type: "file" } },
    ]);
    await applyLayer(target, streamOf(lower));
    await applyLayer(target, streamOf(upper));
    assert.ok(!exists(`${target}/a/x`));
    assert.ok(exists(`${target}/a/y`));
    assert.ok(!exists(`${target}/c`));
    assert.ok(!exists(`${target}/nodir`), "whiteouts create no directories");
    assert.deepEqual([...Deno.readDirSync(`${target}/b`)].map((e) => e.name), [
      "new",
    ]);
    assert.equal(Deno.lstatSync(`${target}/b`).mode! & 0o7777, 0o700);
    assert.deepEqual([...Deno.readDirSync(`${target}/d`)].map((e) => e.name), [
      "nested",
    ]);
    assert.deepEqual(
      [...Deno.readDirSync(`${target}/d/nested`)].map((e) => e.name),
      ["new"],
    );
    assert.deepEqual([...Deno.readDirSync(`${target}/e`)], []);
    assert.ok(!exists(`${target}/link`));
    assert.ok(exists(`${target}/a/y`));
    assert.ok(Deno.lstatSync(`${target}/f`).isDirectory);
  });
});

Deno.test("entries replace what is there: dir over file, file over dir, dir over dir merges", async () => {
  await withSandbox(async ({ target }) => {
    const lower = await buildTar([
      { header: { name: "was-file", type: "file" }, body: "f" },
      { header: { name: "was-dir/", type: "directory" } },
      { header: { name: "was-dir/child", type: "file" }, body: "c" },
      { header: { name: "merge/", type: "directory", mode: 0o755, uid: 0 } },
      { header: { name: "merge/lower", type: "file" }, body: "l" },
      { header: { name: "hard-src", type: "file" }, body: "original" },
      { header: { name: "hard", type: "link", linkname: "hard-src" } },
    ]);
    const upper = await buildTar([
      { header: { name: "was-file/", type: "directory", mode: 0o711 } },
      { header: { name: "was-file/inside", type: "file" }, body: "i" },
      { header: { name: "was-dir", type: "file" }, body: "now a file" },
      {
        header: {
          name: "merge/",
          type: "directory",
          mode: 0o750,
          uid: 42,
          gid: 43,
        },
      },
      { header: { name: "merge/upper", type: "file" }, body: "u" },
      // Replacing one name of a hardlink pair leaves the other intact.
      { header: { name: "hard", type: "file" }, body: "replaced" },
    ]);
    await applyLayer(target, streamOf(lower));
    await applyLayer(target, streamOf(upper));
    assert.ok(Deno.lstatSync(`${target}/was-file`).isDirectory);
    assert.equal(Deno.lstatSync(`${target}/was-file`).mode! & 0o7777, 0o711);
    assert.equal(Deno.readTextFileSync(`${target}/was-dir`), "now a file");
    const merge = Deno.lstatSync(`${target}/merge`);
    assert.equal(merge.mode! & 0o7777, 0o750);
    assert.equal(merge.uid, 42);
    assert.deepEqual(
      [...Deno.readDirSync(`${target}/merge`)].map((e) => e.name).sort(),
      ["lower", "upper"],
    );
    assert.equal(Deno.readTextFileSync(`${target}/hard-src`), "original");
    assert.equal(Deno.readTextFileSync(`${target}/hard`), "replaced");
  });
});

Deno.test("gzip and zstd layers decompress and yield the uncompressed diffID", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      { header: { name: "etc/", type: "directory" } },
      {
        header: { name: "etc/big", type: "file" },
        body: new Uint8Array(3 * 1024 * 1024).fill(7),
      },
      { header: { name: "etc/small", type: "file" }, body: "small" },
    ]);
    const cases = [
      {
        bytes: gzipSync(tar),
        mediaType: LayerMediaType.OCI_GZIP,
        compression: "gzip",
      },
      {
        bytes: zstdCompressSync(tar),
        mediaType: LayerMediaType.OCI_ZSTD,
        compression: "zstd",
      },
      {
        bytes: gzipSync(tar),
        mediaType: LayerMediaType.DOCKER,
        compression: "gzip",
      },
      { bytes: tar, mediaType: LayerMediaType.OCI, compression: "none" },
    ];
    for (const [i, c] of cases.entries()) {
      const root = `${target}/${i}`;
      Deno.mkdirSync(root);
      const layer = await decompressLayer(streamOf(c.bytes, 4096), c.mediaType);
      assert.equal(layer.compression, c.compression);
      const result = await applyLayer(root, layer.stream, {
        expectedDigest: sha256(tar),
      });
      assert.equal(result.size, tar.byteLength);
      assert.equal(Deno.readTextFileSync(`${root}/etc/small`), "small");
      assert.equal(Deno.lstatSync(`${root}/etc/big`).size, 3 * 1024 * 1024);
      // The same through applyLayer's own decompression.
      const again = await applyLayer(root, streamOf(c.bytes), {
        mediaType: c.mediaType,
      });
      assert.equal(again.digest, sha256(tar));
    }
  });
});

Deno.test("expectedDigest mismatch is FailedPrecondition", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([{
      header: { name: "f", type: "file" },
      body: "x",
    }]);
    await assertBerthError(
      applyLayer(target, streamOf(tar), {
        expectedDigest: `sha256:${"0".repeat(64)}`,
      }),
      Code.FailedPrecondition,
      /diffID mismatch: expected sha256:0+, got sha256:[0-9a-f]{64}/,
    );
  });
});

Deno.test("malformed tars are InvalidArgument; an empty stream is an empty layer", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([{
      header: { name: "f", type: "file" },
      body: "x".repeat(2000),
    }]);
    await assertBerthError(
      applyLayer(target, streamOf(tar.slice(0, 1024))),
      Code.InvalidArgument,
      /invalid tar/,
    );
    const garbage = new Uint8Array(1024).fill(0x41);
    await assertBerthError(
      applyLayer(target, streamOf(garbage)),
      Code.InvalidArgument,
      /invalid tar/,
    );
    await assertBerthError(
      applyLayer(
        target,
        streamOf(concatBytes([rawEntry("weird", "S"), new Uint8Array(1024)])),
      ),
      Code.InvalidArgument,
      /layer entry "weird": unsupported tar entry type/,
    );
    const empty = await applyLayer(target, streamOf(new Uint8Array()));
    assert.equal(empty.size, 0);
    assert.equal(empty.digest, sha256(new Uint8Array()));
  });
});

Deno.test("unsupported media types and corrupt compressed data are refused", async () => {
  await withSandbox(async ({ target }) => {
    await assertBerthError(
      applyLayer(target, streamOf(new Uint8Array(10)), {
        mediaType: "application/vnd.oci.image.layer.v1.tar+bzip2",
      }),
      Code.Unimplemented,
      /bzip2/,
    );
    const gz = gzipSync(
      await buildTar([{ header: { name: "f", type: "file" }, body: "x" }]),
    );
    gz[gz.length - 20] ^= 0xff;
    await assertBerthError(
      applyLayer(target, streamOf(gz), { mediaType: LayerMediaType.OCI_GZIP }),
      Code.InvalidArgument,
      /gzip decompression failed|invalid tar/,
    );
  });
});

Deno.test("a missing target is NotFound; an abort signal cancels", async () => {
  await withSandbox(async ({ dir, target }) => {
    await assertBerthError(
      applyLayer(`${dir}/nope`, streamOf(new Uint8Array())),
      Code.NotFound,
      /nope/,
    );
    const controller = new AbortController();
    controller.abort();
    await assertBerthError(
      applyLayer(target, streamOf(new Uint8Array(1024)), {
        signal: controller.signal,
      }),
      Code.Canceled,
      /layer application/,
    );
  });
});
