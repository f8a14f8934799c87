// Malicious layers: each test builds one by hand and checks that nothing
// outside the target changed (withSandbox compares the sandbox around the
// target, the outside sentinel and /etc/passwd before and after).
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { Code } from "../types/mod.ts";
import {
  assertBerthError,
  buildTar,
  concatBytes,
  exists,
  paxRecord,
  rawEntry,
  streamOf,
  withSandbox,
} from "./_testing.ts";
import { applyLayer } from "./apply.ts";
import { LayerMediaType } from "./decompress.ts";

const file = (name: string, body = "pwned") => ({
  header: { name, type: "file" as const, mode: 0o777 },
  body,
});
const symlink = (name: string, linkname: string) => ({
  header: { name, type: "symlink" as const, linkname },
});
const hardlink = (name: string, linkname: string) => ({
  header: { name, type: "link" as const, linkname, mode: 0o4777, uid: 4321 },
});

Deno.test("security: '..' names are contained in the root", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      file("../outside/sentinel"),
      file("../../../../../outside/evil"),
      file("a/../../outside/evil2"),
      file("./../outside/sub/evil3"),
      { header: { name: "../", type: "directory", mode: 0o777 } },
    ]);
    await applyLayer(target, streamOf(tar));
    assert.equal(Deno.readTextFileSync(`${target}/outside/sentinel`), "pwned");
    assert.ok(exists(`${target}/outside/evil`));
    assert.ok(exists(`${target}/outside/evil2`));
    assert.ok(exists(`${target}/outside/sub/evil3`));
    // The entry naming the root itself is ignored: the target keeps its mode.
    assert.notEqual(Deno.lstatSync(target).mode! & 0o777, 0o777);
  });
});

Deno.test("security: absolute names (ustar and PAX path) are contained", async ({ step: _ }) => {
  await withSandbox(async ({ dir, target }) => {
    const tar = await buildTar([
      file(`${dir}/outside/sentinel`),
      file("/etc/passwd", "root::0:0::/:/bin/sh\n"),
      {
        header: {
          name: "short",
          type: "file",
          pax: { path: `${dir}/outside/pax-evil` },
        },
        body: "pwned",
      },
    ]);
    await applyLayer(target, streamOf(tar));
    assert.equal(
      Deno.readTextFileSync(`${target}${dir}/outside/sentinel`),
      "pwned",
    );
    assert.ok(exists(`${target}${dir}/outside/pax-evil`));
    assert.ok(exists(`${target}/etc/passwd`));
  });
});

Deno.test("security: an absolute symlink is never followed out of the root", async () => {
  await withSandbox(async ({ dir, target }) => {
    const tar = await buildTar([
      symlink("esc", `${dir}/outside`),
      file("esc/evil"),
      file("esc/sentinel"),
      file("esc/sub/deeper/evil"),
      { header: { name: "esc/sub/", type: "directory", mode: 0o777 } },
    ]);
    await applyLayer(target, streamOf(tar));
    assert.equal(Deno.readLinkSync(`${target}/esc`), `${dir}/outside`);
    // Resolved as if the root were "/": the writes land under the root.
    assert.ok(exists(`${target}${dir}/outside/evil`));
    assert.ok(exists(`${target}${dir}/outside/sub/deeper/evil`));
    assert.equal(
      Deno.readTextFileSync(`${target}${dir}/outside/sentinel`),
      "pwned",
    );
  });
});

Deno.test("security: relative and chained symlinks climbing out are resolved inside", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      symlink("rel", "../../../../../../outside"),
      file("rel/evil"),
      { header: { name: "d/", type: "directory" } },
      symlink("d/up", "../.."),
      file("d/up/outside/evil2"),
      symlink("l1", "l2"),
      symlink("l2", "d/up/outside"),
      file("l1/evil3"),
      file("l1/sentinel"),
    ]);
    await applyLayer(target, streamOf(tar));
    assert.ok(exists(`${target}/outside/evil`));
    assert.ok(exists(`${target}/outside/evil2`));
    assert.ok(exists(`${target}/outside/evil3`));
    assert.equal(Deno.readTextFileSync(`${target}/outside/sentinel`), "pwned");
  });
});

Deno.test("security: symlink loops fail instead of spinning", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      symlink("loop1", "loop2"),
      symlink("loop2", "loop1"),
      file("loop1/x"),
    ]);
    await assertBerthError(
      applyLayer(target, streamOf(tar)),
      Code.InvalidArgument,
      /layer entry "loop1\/x": parent: too many levels of symbolic links/,
    );
  });
});

Deno.test("security: a file or device over a symlink replaces the link, never writes through", async () => {
  await withSandbox(async ({ dir, target }) => {
    const tar = await buildTar([
      symlink("s", `${dir}/outside/sentinel`),
      file("s", "pwned"),
      symlink("f", `${dir}/outside/fifo`),
      { header: { name: "f", type: "fifo", mode: 0o666 } },
      symlink("h", "../outside/sentinel"),
      file("h", "pwned"),
    ]);
    await applyLayer(target, streamOf(tar));
    assert.equal(Deno.readTextFileSync(`${target}/s`), "pwned");
    assert.ok(Deno.lstatSync(`${target}/f`).isFifo);
    assert.ok(Deno.lstatSync(`${target}/h`).isFile);
  });
});

Deno.test("security: hardlinks to /etc/passwd are contained, never to the host file", async () => {
  await withSandbox(async ({ target }) => {
    for (const linkname of ["/etc/passwd", "../../../../../../etc/passwd"]) {
      const tar = await buildTar([hardlink("stolen", linkname)]);
      await assertBerthError(
        applyLayer(target, streamOf(tar)),
        Code.InvalidArgument,
        /layer entry "stolen": hardlink target ".*etc\/passwd" not found/,
      );
      assert.ok(!exists(`${target}/stolen`));
    }
    // With the layer's own /etc/passwd, the link is to that copy.
    const tar = await buildTar([
      file("etc/passwd", "layer's own\n"),
      hardlink("stolen", "../../../etc/passwd"),
    ]);
    await applyLayer(target, streamOf(tar));
    assert.equal(
      Deno.lstatSync(`${target}/stolen`).ino,
      Deno.lstatSync(`${target}/etc/passwd`).ino,
    );
    assert.equal(Deno.readTextFileSync(`${target}/stolen`), "layer's own\n");
  });
});

Deno.test("security: hardlinks through a symlink are refused", async () => {
  await withSandbox(async ({ dir, target }) => {
    for (
      const [linkTarget, via] of [[`${dir}/outside`, "abs"], [
        "../outside",
        "rel",
      ], [".", "dot"]]
    ) {
      const tar = await buildTar([
        symlink(via, linkTarget),
        hardlink(`stolen-${via}`, `${via}/sentinel`),
      ]);
      await assertBerthError(
        applyLayer(target, streamOf(tar)),
        Code.InvalidArgument,
        new RegExp(
          `hardlink target "${via}/sentinel": path goes through symbolic link "${via}"`,
        ),
      );
      assert.ok(!exists(`${target}/stolen-${via}`));
    }
  });
});

Deno.test("security: hardlinks to the root or a directory are refused", async () => {
  await withSandbox(async ({ target }) => {
    await assertBerthError(
      applyLayer(target, streamOf(await buildTar([hardlink("r", "..")]))),
      Code.InvalidArgument,
      /hardlink target "\.\." is the root/,
    );
    await assertBerthError(
      applyLayer(
        target,
        streamOf(
          await buildTar([
            { header: { name: "d/", type: "directory" } },
            hardlink("r", "d"),
          ]),
        ),
      ),
      Code.InvalidArgument,
      /hardlink target "d" is a directory/,
    );
  });
});

Deno.test("security: chmod, chown and utimes never go through a symlink", async () => {
  await withSandbox(async ({ dir, target }) => {
    const tar = await buildTar([
      {
        header: {
          name: "s",
          type: "symlink",
          linkname: `${dir}/outside/sentinel`,
          mode: 0o4777,
          uid: 4321,
          gid: 4321,
          mtime: new Date(0),
        },
      },
      // The same symlink again (metadata only would be applied to the link).
      {
        header: {
          name: "s",
          type: "symlink",
          linkname: `${dir}/outside/sentinel`,
          mode: 0o777,
          uid: 999,
        },
      },
      // A hardlink to the symlink is a second symlink, with the link's metadata.
      hardlink("h", "s"),
      symlink("d", `${dir}/outside`),
      hardlink("h2", "d"),
    ]);
    await applyLayer(target, streamOf(tar));
    assert.ok(Deno.lstatSync(`${target}/h`).isSymlink);
    assert.equal(Deno.lstatSync(`${target}/h`).uid, 4321);
    assert.ok(Deno.lstatSync(`${target}/h2`).isSymlink);
  });
});

Deno.test("security: whiteouts of '.', '..', the root and through symlinks are refused", async () => {
  await withSandbox(async ({ dir, target }) => {
    Deno.writeTextFileSync(`${target}/keep`, "keep");
    const cases: [string, RegExp][] = [
      [".wh..", /invalid whiteout name/],
      [".wh...", /invalid whiteout name/],
      [".wh.", /invalid whiteout name/],
      ["sub/.wh...", /invalid whiteout name/],
      ["../.wh...", /invalid whiteout name/],
    ];
    for (const [name, pattern] of cases) {
      await assertBerthError(
        applyLayer(target, streamOf(await buildTar([file(name, "")]))),
        Code.InvalidArgument,
        pattern,
      );
    }
    for (
      const [link, linkTarget] of [["abs", `${dir}/outside`], [
        "rel",
        "../outside",
      ], ["self", "."]]
    ) {
      for (const marker of [".wh.sentinel", ".wh..wh..opq", ".wh.sub"]) {
        const tar = await buildTar([
          symlink(link, linkTarget),
          file(`${link}/${marker}`, ""),
        ]);
        await assertBerthError(
          applyLayer(target, streamOf(tar)),
          Code.InvalidArgument,
          new RegExp(`whiteout: path goes through symbolic link "${link}"`),
        );
      }
    }
    // '..' in a whiteout's directory is contained: it removes inside the root.
    Deno.mkdirSync(`${target}/outside`);
    Deno.writeTextFileSync(`${target}/outside/sentinel`, "inner");
    await applyLayer(
      target,
      streamOf(await buildTar([file("../../outside/.wh.sentinel", "")])),
    );
    assert.ok(!exists(`${target}/outside/sentinel`));
    assert.equal(Deno.readTextFileSync(`${target}/keep`), "keep");
  });
});

Deno.test("security: a directory over a symlink replaces the link", async () => {
  await withSandbox(async ({ dir, target }) => {
    const tar = await buildTar([
      symlink("d", `${dir}/outside`),
      symlink("r", "../outside"),
      {
        header: {
          name: "d/",
          type: "directory",
          mode: 0o777,
          uid: 4321,
          mtime: new Date(0),
        },
      },
      {
        header: {
          name: "r/",
          type: "directory",
          mode: 0o777,
          uid: 4321,
          mtime: new Date(0),
        },
      },
      file("d/sentinel"),
      file("r/sentinel"),
    ]);
    await applyLayer(target, streamOf(tar));
    for (const name of ["d", "r"]) {
      const info = Deno.lstatSync(`${target}/${name}`);
      assert.ok(info.isDirectory);
      assert.equal(info.uid, 4321);
      assert.equal(
        Deno.readTextFileSync(`${target}/${name}/sentinel`),
        "pwned",
      );
    }
  });
});

Deno.test("security: a symlink over a directory is not written through, nor are its times set", async () => {
  await withSandbox(async ({ dir, target }) => {
    const tar = await buildTar([
      { header: { name: "d/", type: "directory", mtime: new Date(0) } },
      { header: { name: "d/sub/", type: "directory", mtime: new Date(0) } },
      file("d/file"),
      // Replaces d/ (recursively); the recorded times of d/ and d/sub/ must
      // not land on the link's target at the end.
      symlink("d", `${dir}/outside`),
      file("d/evil"),
      { header: { name: "e/", type: "directory", mtime: new Date(0) } },
      symlink("e", "../outside"),
    ]);
    await applyLayer(target, streamOf(tar));
    assert.ok(Deno.lstatSync(`${target}/d`).isSymlink);
    assert.ok(exists(`${target}${dir}/outside/evil`));
    assert.ok(Deno.lstatSync(`${target}/e`).isSymlink);
  });
});

Deno.test("security: device nodes are refused when not allowed", async () => {
  await withSandbox(async ({ target }) => {
    for (const type of ["character-device", "block-device"] as const) {
      const tar = await buildTar([
        {
          header: {
            name: "dev/sda",
            type,
            devmajor: 8,
            devminor: 0,
            mode: 0o666,
          },
        },
      ]);
      await assertBerthError(
        applyLayer(target, streamOf(tar), { allowDevices: false }),
        Code.InvalidArgument,
        /layer entry "dev\/sda": device nodes are not allowed/,
      );
      assert.ok(!exists(`${target}/dev/sda`));
    }
    // FIFOs are not devices.
    const fifo = await buildTar([{ header: { name: "p", type: "fifo" } }]);
    await applyLayer(target, streamOf(fifo), { allowDevices: false });
    assert.ok(Deno.lstatSync(`${target}/p`).isFifo);
  });
});

Deno.test("security: decompression bombs hit the uncompressed size limit", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      {
        header: { name: "zeros", type: "file" },
        body: new Uint8Array(64 * 1024 * 1024),
      },
    ]);
    const gz = gzipSync(tar, { level: 9 });
    assert.ok(gz.byteLength < 200 * 1024);
    await assertBerthError(
      applyLayer(target, streamOf(gz), {
        mediaType: LayerMediaType.OCI_GZIP,
        maxUncompressedBytes: 1024 * 1024,
      }),
      Code.ResourceExhausted,
      /uncompressed size exceeds the limit of 1048576 bytes/,
    );
    // Stopped early: at most about the limit was written.
    assert.ok(Deno.lstatSync(`${target}/zeros`).size <= 1024 * 1024);
  });
});

Deno.test("security: too many entries hit the entry limit", async () => {
  await withSandbox(async ({ target }) => {
    const parts = Array.from({ length: 50 }, (_, i) => file(`f${i}`, ""));
    await assertBerthError(
      applyLayer(target, streamOf(await buildTar(parts)), { maxEntries: 10 }),
      Code.ResourceExhausted,
      /more than 10 entries/,
    );
    assert.ok(!exists(`${target}/f10`));
  });
});

Deno.test("security: oversized PAX headers and long names hit the header limit", async () => {
  await withSandbox(async ({ target }) => {
    const big = paxRecord("comment", "x".repeat(200 * 1024));
    const pax = concatBytes([
      rawEntry("PaxHeader", "x", big),
      rawEntry("f", "0"),
      new Uint8Array(1024),
    ]);
    await assertBerthError(
      applyLayer(target, streamOf(pax), { maxHeaderBytes: 64 * 1024 }),
      Code.ResourceExhausted,
      /pax-header header of \d+ bytes exceeds the limit of 65536 bytes/,
    );
    const longName = concatBytes([
      rawEntry(
        "././@LongLink",
        "L",
        new TextEncoder().encode("n".repeat(100 * 1024)),
      ),
      rawEntry("f", "0"),
      new Uint8Array(1024),
    ]);
    await assertBerthError(
      applyLayer(target, streamOf(longName), { maxHeaderBytes: 64 * 1024 }),
      Code.ResourceExhausted,
      /gnu-long-path header/,
    );
    // A header claiming gigabytes is refused before anything is buffered.
    const huge = concatBytes([
      rawEntry("PaxHeader", "x", new Uint8Array(), 2 ** 33),
    ]);
    await assertBerthError(
      applyLayer(target, streamOf(huge)),
      Code.ResourceExhausted,
      /exceeds/,
    );
    assert.deepEqual([...Deno.readDirSync(target)], []);
  });
});

Deno.test("security: names with NUL bytes and over-long names are refused", async () => {
  await withSandbox(async ({ target }) => {
    const nul = await buildTar([{
      header: { name: "x", type: "file", pax: { path: "a\0b" } },
      body: "",
    }]);
    await assertBerthError(
      applyLayer(target, streamOf(nul)),
      Code.InvalidArgument,
      /contains a NUL byte/,
    );
    const long = await buildTar([{
      header: { name: "x", type: "file", pax: { path: "a/".repeat(3000) } },
      body: "",
    }]);
    await assertBerthError(
      applyLayer(target, streamOf(long)),
      Code.InvalidArgument,
      /longer than 4096 bytes/,
    );
  });
});

Deno.test("security: a directory whose size field is not 0 is applied, not waited on forever (found by fuzzing)", async () => {
  await withSandbox(async ({ target }) => {
    const tar = await buildTar([
      { raw: rawEntry("dir/", "5", new Uint8Array(0), 600) },
      file("dir/after"),
    ]);
    await applyLayer(target, streamOf(tar, 512));
    assert.ok(Deno.statSync(`${target}/dir`).isDirectory);
    assert.equal(Deno.readTextFileSync(`${target}/dir/after`), "pwned");
  });
});

Deno.test("security: a link with an empty target is InvalidArgument (found by fuzzing)", async () => {
  await withSandbox(async ({ target }) => {
    for (const type of ["symlink", "link"] as const) {
      const tar = await buildTar([{
        header: { name: "l", type, linkname: "" },
      }]);
      await assertBerthError(
        applyLayer(target, streamOf(tar)),
        Code.InvalidArgument,
        /empty link target/,
      );
    }
  });
});
