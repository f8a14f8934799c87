import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { extract } from "tar-stream";
import { type Change, changes, writeDiff } from "./compare.ts";
import { lsetxattr } from "../sys/fsx.ts";
import { lstatx } from "../sys/statx.ts";
import { readXattrs } from "./_xattr.ts";
import { BerthError, Code } from "../types/errors.ts";

const WHITEOUT_TIME = new Date(1_234_567_890_000);

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A test that needs root (chown, mknod, file capabilities). */
function rootTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: Deno.uid() !== 0, fn });
}

/** A tar entry as the tests compare it. */
interface Entry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
  dev?: string;
  xattrs?: Record<string, string>;
}

interface ReadEntry extends Entry {
  mtime: number;
  uname: string;
  gname: string;
  pax: Record<string, string> | null;
  content: Uint8Array;
}

async function run(...argv: string[]): Promise<void> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${argv.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

async function collect(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function readTar(bytes: Uint8Array): Promise<ReadEntry[]> {
  const ex = extract();
  ex.end(bytes);
  const entries: ReadEntry[] = [];
  for await (const entry of ex) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry) chunks.push(chunk as Uint8Array);
    const h = entry.header;
    const pax = (h.pax ?? null) as Record<string, string> | null;
    const xattrs = Object.fromEntries(
      Object.entries(pax ?? {})
        .filter(([key]) => key.startsWith("SCHILY.xattr."))
        .map(([key, value]) => [key.slice("SCHILY.xattr.".length), value]),
    );
    const e: ReadEntry = {
      name: h.name,
      type: h.type,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      size: h.size,
      mtime: h.mtime.getTime() / 1000,
      uname: h.uname,
      gname: h.gname,
      pax,
      content: concat(chunks),
    };
    if (h.linkname) e.linkname = h.linkname;
    if (h.type === "character-device" || h.type === "block-device") {
      e.dev = `${h.devmajor},${h.devminor}`;
    }
    if (Object.keys(xattrs).length > 0) e.xattrs = xattrs;
    entries.push(e);
  }
  return entries;
}

/** The comparable part of read entries. */
function shape(entries: ReadEntry[]): Entry[] {
  return entries.map((e) => {
    const s: Entry = {
      name: e.name,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      size: e.size,
    };
    if (e.linkname !== undefined) s.linkname = e.linkname;
    if (e.dev !== undefined) s.dev = e.dev;
    if (e.xattrs !== undefined) s.xattrs = e.xattrs;
    return s;
  });
}

function file(
  name: string,
  size: number,
  mode = 0o644,
  extra: Partial<Entry> = {},
): Entry {
  return { name, type: "file", mode, uid: 0, gid: 0, size, ...extra };
}

function dir(name: string, mode = 0o755, extra: Partial<Entry> = {}): Entry {
  return { name, type: "directory", mode, uid: 0, gid: 0, size: 0, ...extra };
}

function whiteout(name: string): Entry {
  return { name, type: "file", mode: 0, uid: 0, gid: 0, size: 0 };
}

function hardlink(name: string, target: string, mode = 0o644): Entry {
  return {
    name,
    type: "link",
    mode,
    uid: 0,
    gid: 0,
    size: 0,
    linkname: target,
  };
}

async function write(path: string, text: string, mode = 0o644): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

/**
 * Builds the main scenario: `lower`, then `upper` as an exact copy
 * (`cp -a`) changed in every way a layer can record.
 */
async function scenario(): Promise<
  { root: string; lower: string; upper: string }
> {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  const lower = `${root}/lower`;
  const upper = `${root}/upper`;
  const L = (p: string) => `${lower}/${p}`;
  const U = (p: string) => `${upper}/${p}`;
  await Deno.mkdir(lower);
  for (
    const d of [
      "dir",
      "deldir/sub",
      "replaced",
      "nested/deep",
      "dir2file",
      "empty-dir",
    ]
  ) {
    await Deno.mkdir(L(d), { recursive: true });
  }
  await write(L("a"), "a\n");
  await write(L("b"), "b\n");
  await write(L("c"), "c\n");
  await write(L("own"), "o\n");
  await write(L("dir/keep"), "keep\n");
  await write(L("dir/gone"), "gone\n");
  await write(L("deldir/x"), "x\n");
  await write(L("deldir/sub/y"), "y\n");
  await write(L("replaced/x"), "x\n");
  await write(L("replaced/y"), "y\n");
  await write(L("nested/deep/file"), "deep\n");
  await write(L("typechange"), "file\n");
  await write(L("dir2file/inner"), "inner\n");
  await write(L("xa"), "xa\n");
  await write(L("touched"), "t\n");
  await write(L("sec"), "aaa\n");
  await write(L("secsame"), "same\n");
  await write(L("hard1"), "h\n");
  await Deno.link(L("hard1"), L("hard2"));
  await Deno.symlink("a", L("link"));
  lsetxattr(L("xa"), "user.note", utf8("one"));
  await run("touch", "-d", "@1000000000", L("sec"), L("secsame"));

  await run("cp", "-a", `${lower}/.`, `${upper}/`);

  await write(U("b"), "bigger b\n");
  await Deno.chmod(U("c"), 0o4755);
  await Deno.chown(U("own"), 1000, 1001);
  await Deno.remove(U("dir/gone"));
  await Deno.remove(U("deldir"), { recursive: true });
  await Deno.remove(U("replaced/x"));
  await Deno.remove(U("replaced/y"));
  await write(U("replaced/z"), "z\n");
  await Deno.remove(U("link"));
  await Deno.symlink("b", U("link"));
  await Deno.link(U("hard1"), U("hard3"));
  await write(U("nested/deep/new"), "new\n");
  await Deno.remove(U("typechange"));
  await Deno.mkdir(U("typechange"));
  await write(U("typechange/child"), "child\n");
  await Deno.remove(U("dir2file"), { recursive: true });
  await write(U("dir2file"), "now a file\n");
  lsetxattr(U("xa"), "user.note", utf8("two"));
  await run("touch", "-d", "2001-01-01 00:00:00.5", U("touched"));
  await write(U("sec"), "bbb\n");
  await write(U("secsame"), "same\n");
  await run("touch", "-d", "@1000000000", U("sec"), U("secsame"));
  await Deno.mkdir(U("new"));
  await Deno.chmod(U("new"), 0o750);
  await Deno.chown(U("new"), 5, 6);
  await write(U("new/file"), "secret\n", 0o600);
  await write(U("new/.hidden"), "h\n");
  await run("mkfifo", "-m", "0640", U("fifo"));
  await run("mknod", "-m", "0666", U("null"), "c", "1", "3");
  await write(U("n1"), "linked\n");
  await Deno.link(U("n1"), U("n2"));
  // Deno unlinks a socket it closes: keep a second name for it
  const listener = Deno.listen({ transport: "unix", path: `${root}/s` });
  await Deno.link(`${root}/s`, U("sock"));
  listener.close();
  return { root, lower, upper };
}

const SCENARIO_ENTRIES: Entry[] = [
  file("b", 9),
  file("c", 2, 0o4755),
  whiteout(".wh.deldir"),
  dir("dir/"),
  whiteout("dir/.wh.gone"),
  file("dir2file", 11),
  { name: "fifo", type: "fifo", mode: 0o640, uid: 0, gid: 0, size: 0 },
  file("hard3", 2),
  hardlink("hard1", "hard3"),
  hardlink("hard2", "hard3"),
  {
    name: "link",
    type: "symlink",
    mode: 0o777,
    uid: 0,
    gid: 0,
    size: 0,
    linkname: "b",
  },
  file("n1", 7),
  hardlink("n2", "n1"),
  dir("nested/"),
  dir("nested/deep/"),
  file("nested/deep/new", 4),
  dir("new/", 0o750, { uid: 5, gid: 6 }),
  file("new/.hidden", 2),
  file("new/file", 7, 0o600),
  {
    name: "null",
    type: "character-device",
    mode: 0o666,
    uid: 0,
    gid: 0,
    size: 0,
    dev: "1,3",
  },
  file("own", 2, 0o644, { uid: 1000, gid: 1001 }),
  dir("replaced/"),
  whiteout("replaced/.wh.x"),
  whiteout("replaced/.wh.y"),
  file("replaced/z", 2),
  file("sec", 4),
  file("touched", 2),
  dir("typechange/"),
  file("typechange/child", 6),
  file("xa", 3, 0o644, { xattrs: { "user.note": "two" } }),
];

rootTest("changes lists exactly what differs, in walk order", async () => {
  const { root, lower, upper } = await scenario();
  try {
    const list: string[] = [];
    for await (const c of changes(lower, upper)) {
      list.push(`${c.kind} ${c.path}`);
    }
    assert.deepEqual(list, [
      "modify /b",
      "modify /c",
      "delete /deldir",
      "delete /dir/gone",
      "modify /dir2file",
      "add /fifo",
      "add /hard3",
      "modify /link",
      "add /n1",
      "add /n2",
      "add /nested/deep/new",
      "add /new",
      "add /new/.hidden",
      "add /new/file",
      "add /null",
      "modify /own",
      "delete /replaced/x",
      "delete /replaced/y",
      "add /replaced/z",
      "modify /sec",
      "add /sock",
      "modify /touched",
      "modify /typechange",
      "add /typechange/child",
      "modify /xa",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

rootTest("changes gives upper's stat, and lower's for a delete", async () => {
  const { root, lower, upper } = await scenario();
  try {
    const byPath = new Map<string, Change>();
    for await (const c of changes(lower, upper)) byPath.set(c.path, c);
    assert.equal(byPath.get("/own")!.stat.uid, 1000);
    assert.equal(byPath.get("/c")!.stat.mode, 0o104755);
    assert.equal(byPath.get("/deldir")!.stat.mode & 0o170000, 0o040000);
    const touched = byPath.get("/touched")!.stat;
    assert.equal(touched.mtimeSec, 978307200);
    assert.equal(touched.mtimeNsec, 500_000_000);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

rootTest("writeDiff writes the layer containerd writes", async () => {
  const { root, lower, upper } = await scenario();
  try {
    const tar = await collect(
      writeDiff(lower, upper, { whiteoutTime: WHITEOUT_TIME }),
    );
    const entries = await readTar(tar);
    assert.deepEqual(shape(entries), SCENARIO_ENTRIES);
    const get = (name: string) => entries.find((e) => e.name === name)!;
    const text = (name: string) => new TextDecoder().decode(get(name).content);
    assert.equal(text("b"), "bigger b\n");
    assert.equal(text("hard3"), "h\n");
    assert.equal(text("new/file"), "secret\n");
    assert.equal(get("hard1").content.length, 0);
    // mtimes: whole seconds of upper's; whiteouts carry the chosen time
    assert.equal(get("touched").mtime, 978307200);
    assert.equal(get("sec").mtime, 1000000000);
    assert.equal(get(".wh.deldir").mtime, 1234567890);
    assert.equal(get("dir/").mtime, lstatx(`${upper}/dir`).mtimeSec);
    // numeric owners only
    assert.ok(entries.every((e) => e.uname === "" && e.gname === ""));
    // whole 512-byte blocks, ending in two zero blocks
    assert.equal(tar.length % 512, 0);
    assert.ok(tar.subarray(tar.length - 1024).every((b) => b === 0));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

rootTest("writeDiff is deterministic for a fixed whiteout time", async () => {
  const { root, lower, upper } = await scenario();
  try {
    const digest = async () =>
      createHash("sha256").update(
        await collect(writeDiff(lower, upper, { whiteoutTime: WHITEOUT_TIME })),
      ).digest("hex");
    assert.equal(await digest(), await digest());
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Everything a layer must carry over, per path, hard links as groups. */
async function manifest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const inodes = new Map<bigint, string>();
  const visit = async (rel: string) => {
    for await (const entry of Deno.readDir(`${root}${rel}`)) {
      const path = `${rel}/${entry.name}`;
      const full = `${root}${path}`;
      const st = lstatx(full);
      const type = st.mode & 0o170000;
      let what = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
      if (type === 0o100000) {
        const data = await Deno.readFile(full);
        what += ` ${createHash("sha256").update(data).digest("hex")}`;
        if (st.nlink > 1) {
          if (!inodes.has(st.ino)) inodes.set(st.ino, path);
          what += ` linkgroup=${inodes.get(st.ino)}`;
        }
      }
      if (type === 0o120000) what += ` -> ${await Deno.readLink(full)}`;
      if (type === 0o020000) what += ` ${st.rdevMajor},${st.rdevMinor}`;
      for (const [name, value] of readXattrs(full, () => true)) {
        what += ` ${name}=${new TextDecoder().decode(value)}`;
      }
      out[path] = what;
      if (type === 0o040000) await visit(path);
    }
  };
  await visit("");
  return out;
}

rootTest("lower + layer (applied by GNU tar) reproduces upper", async () => {
  const { root, lower, upper } = await scenario();
  try {
    const tar = await collect(writeDiff(lower, upper));
    const target = `${root}/applied`;
    await run("cp", "-a", lower, target);
    // what an applier does before extracting: whiteouts and type changes
    for (const e of await readTar(tar)) {
      const slash = e.name.replace(/\/$/, "").lastIndexOf("/");
      const base = e.name.slice(slash + 1);
      if (base.startsWith(".wh.")) {
        const victim = `${target}/${e.name.slice(0, slash + 1)}${
          base.slice(4)
        }`;
        await Deno.remove(victim, { recursive: true });
        continue;
      }
      try {
        const path = `${target}/${e.name.replace(/\/$/, "")}`;
        const st = await Deno.lstat(path);
        if (st.isDirectory !== (e.type === "directory")) {
          await Deno.remove(path, { recursive: true });
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    await Deno.writeFile(`${root}/layer.tar`, tar);
    await run(
      "tar",
      "-xpf",
      `${root}/layer.tar`,
      "-C",
      target,
      "--numeric-owner",
      "--xattrs",
      "--xattrs-include=*",
      "--exclude=.wh.*",
    );
    const want = await manifest(upper);
    delete want["/sock"]; // sockets are not archived
    assert.deepEqual(await manifest(target), want);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an empty lower adds everything but the root", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    const upper = `${root}/upper`;
    await Deno.mkdir(`${upper}/etc/ssl`, { recursive: true });
    await write(`${upper}/etc/hosts`, "127.0.0.1 localhost\n");
    await Deno.link(`${upper}/etc/hosts`, `${upper}/etc/ssl/hosts`);
    await Deno.symlink("/etc/hosts", `${upper}/hosts`);
    for (const lower of [null, ""]) {
      const entries = shape(
        await readTar(await collect(writeDiff(lower, upper))),
      );
      assert.deepEqual(entries, [
        dir("etc/"),
        file("etc/hosts", 20),
        dir("etc/ssl/"),
        hardlink("etc/ssl/hosts", "etc/hosts"),
        {
          name: "hosts",
          type: "symlink",
          mode: 0o777,
          uid: 0,
          gid: 0,
          size: 0,
          linkname: "/etc/hosts",
        },
      ]);
    }
    const empty = `${root}/empty`;
    await Deno.mkdir(empty);
    const list = [];
    for await (const c of changes(empty, upper)) list.push(c.path);
    assert.deepEqual(list, [
      "/etc",
      "/etc/hosts",
      "/etc/ssl",
      "/etc/ssl/hosts",
      "/hosts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

rootTest("identical trees give an empty layer", async () => {
  const { root, lower } = await scenario();
  try {
    const copy = `${root}/copy`;
    await run("cp", "-a", lower, copy);
    for await (const c of changes(lower, copy)) {
      assert.fail(`${c.kind} ${c.path}`);
    }
    const tar = await collect(writeDiff(lower, copy));
    assert.deepEqual(tar, new Uint8Array(1024));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

rootTest(
  "long, non-ASCII names, long link targets and big ids use PAX",
  async () => {
    const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
    try {
      const upper = `${root}/upper`;
      const longDir = "d".repeat(60);
      const splittable = `${longDir}/${"f".repeat(80)}`; // fits ustar's prefix
      const tooLong = "g".repeat(150);
      const target = "t".repeat(200);
      await Deno.mkdir(`${upper}/${longDir}`, { recursive: true });
      await write(`${upper}/${splittable}`, "1");
      await write(`${upper}/${tooLong}`, "2");
      await write(`${upper}/héllo wörld ☃ 🐳`, "3");
      await Deno.symlink(target, `${upper}/sym`);
      await write(`${upper}/bigid`, "4");
      await Deno.chown(`${upper}/bigid`, 3_000_000, 4_000_000);
      const tar = await collect(writeDiff(null, upper));
      const entries = await readTar(tar);
      assert.deepEqual(entries.map((e) => e.name), [
        "bigid",
        `${longDir}/`,
        splittable,
        tooLong,
        "héllo wörld ☃ 🐳",
        "sym",
      ]);
      const get = (name: string) => entries.find((e) => e.name === name)!;
      assert.equal(get(splittable).pax, null); // USTAR prefix, as Go does
      assert.equal(get(tooLong).pax!.path, tooLong);
      assert.equal(get("sym").linkname, target);
      assert.equal(get("bigid").pax!.uid, "3000000");
      assert.equal(get("bigid").pax!.gid, "4000000");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("byte order, not UTF-16 order, and '/' sorts below every byte", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    const upper = `${root}/upper`;
    await Deno.mkdir(`${upper}/a`, { recursive: true });
    for (const name of ["a/z", "a-b", "a.b", "B", "\uffff", "🐳", "\ue000"]) {
      await write(`${upper}/${name}`, "");
    }
    const list = [];
    for await (const c of changes(null, upper)) list.push(c.path);
    assert.deepEqual(list, [
      "/B",
      "/a",
      "/a/z",
      "/a-b",
      "/a.b",
      "/\ue000",
      "/\uffff",
      "/🐳",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("xattr values travel as raw bytes; the filter picks which", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    const upper = `${root}/upper`;
    await Deno.mkdir(upper);
    await write(`${upper}/f`, "x");
    const value = new Uint8Array([1, 0, 0, 2, 0x80, 0xff, 0x0a, 0x20]);
    lsetxattr(`${upper}/f`, "user.bin", value);
    lsetxattr(`${upper}/f`, "user.skip", utf8("no"));
    const tar = await collect(
      writeDiff(null, upper, { xattrs: (name) => name !== "user.skip" }),
    );
    const record = new TextEncoder().encode("SCHILY.xattr.user.bin=");
    const at = indexOf(tar, record);
    assert.ok(at > 0);
    assert.deepEqual(
      tar.subarray(at + record.length, at + record.length + value.length + 1),
      new Uint8Array([...value, 0x0a]),
    );
    assert.equal(indexOf(tar, new TextEncoder().encode("user.skip")), -1);
    // and GNU tar reads the value back exactly
    await Deno.writeFile(`${root}/l.tar`, tar);
    await Deno.mkdir(`${root}/out`);
    await run(
      "tar",
      "-xf",
      `${root}/l.tar`,
      "-C",
      `${root}/out`,
      "--xattrs",
      "--xattrs-include=*",
    );
    assert.deepEqual(readXattrs(`${root}/out/f`, () => true), [[
      "user.bin",
      value,
    ]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

rootTest("xattr-only and capability changes make a file modified", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    const lower = `${root}/lower`;
    const upper = `${root}/upper`;
    await Deno.mkdir(lower);
    await write(`${lower}/f`, "x");
    await write(`${lower}/g`, "y");
    await run("cp", "-a", `${lower}/.`, `${upper}/`);
    lsetxattr(`${upper}/f`, "user.added", utf8("1"));
    // file capabilities v2: effective; permitted CAP_SETUID, CAP_NET_BIND_SERVICE
    const caps = new Uint8Array(20);
    new DataView(caps.buffer).setUint32(0, 0x02000001, true);
    new DataView(caps.buffer).setUint32(4, (1 << 7) | (1 << 10), true);
    lsetxattr(`${upper}/g`, "security.capability", caps);
    const list = [];
    for await (const c of changes(lower, upper)) {
      list.push(`${c.kind} ${c.path}`);
    }
    assert.deepEqual(list, ["modify /f", "modify /g"]);
    const tar = await collect(writeDiff(lower, upper));
    const record = new TextEncoder().encode(
      "SCHILY.xattr.security.capability=",
    );
    const at = indexOf(tar, record);
    assert.ok(at > 0);
    assert.deepEqual(
      tar.subarray(at + record.length, at + record.length + caps.length),
      caps,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("file contents stream in bounded chunks", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    const upper = `${root}/upper`;
    await Deno.mkdir(upper);
    const data = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(
        data.subarray(i, Math.min(i + 65536, data.length)),
      );
    }
    await Deno.writeFile(`${upper}/big`, data);
    let largest = 0;
    const chunks: Uint8Array[] = [];
    for await (
      const chunk of writeDiff(null, upper, { chunkSize: 64 * 1024 })
    ) {
      largest = Math.max(largest, chunk.length);
      chunks.push(chunk);
    }
    assert.ok(largest <= 64 * 1024);
    const [entry] = await readTar(
      concat(chunks),
    );
    assert.equal(entry.size, data.length);
    assert.deepEqual(entry.content, data);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cancelling the stream stops the walk", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    const upper = `${root}/upper`;
    await Deno.mkdir(upper);
    await Deno.writeFile(`${upper}/big`, new Uint8Array(4 * 1024 * 1024));
    const reader = writeDiff(null, upper, { chunkSize: 4096 }).getReader();
    await reader.read();
    await reader.cancel();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a missing tree is NotFound, a file is InvalidArgument", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-compare-" });
  try {
    await write(`${root}/file`, "");
    await assert.rejects(
      collect(writeDiff(null, `${root}/missing`)),
      (err) => BerthError.is(err, Code.NotFound),
    );
    await assert.rejects(
      async () => {
        for await (const _ of changes(`${root}/file`, root)) { /* none */ }
      },
      (err) => BerthError.is(err, Code.InvalidArgument),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
