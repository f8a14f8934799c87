import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { ProgressSchema } from "../../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { MountSchema } from "../../src/gen/containerd/types/mount_pb.ts";
import {
  berthCtrArgs,
  type CommandResult,
  normalizeCtr,
  run,
  startContainerd,
  startDaemon,
  type TestDaemon,
} from "../../tests/_harness.ts";
import {
  buildImage,
  hostArchitecture,
  saveOciArchive,
} from "../../tests/fixtures/images.ts";
import { pushLayout, startRegistry } from "../../tests/fixtures/registry.ts";
import { OCI } from "../../src/types/media_types.ts";
import {
  defaultPlatformMatcher,
  formatPlatform,
  onlyPlatform,
  parsePlatform,
} from "../../src/types/platform.ts";
import { goDuration } from "../_format.ts";
import {
  type BlobSource,
  chainID,
  checkImage,
  imageManifest,
  imagePlatforms,
  imageSize,
} from "../_images.ts";
import {
  CLEAR_LINE,
  countLines,
  progressBar,
  ProgressDisplay,
  renderFrame,
  type StatusInfo,
} from "../_progress.ts";
import { localDate } from "../_images_commands.ts";
import { logLine } from "../_log.ts";
import { mountArgs } from "../../src/client/mount.ts";

const GREEN = "\x1b[32m";
const RESET = "\x1b[0m";

// ------------------------------------------------------------- unit tests

Deno.test("goDuration prints as Go's time.Duration", () => {
  assert.deepEqual(
    [0, 512, 1500, 12_250_000, 1_234_567_891, 123.5e9, 3600e9, 999_999_999]
      .map(goDuration),
    [
      "0s",
      "512ns",
      "1.5µs",
      "12.25ms",
      "1.234567891s",
      "2m3.5s",
      "1h0m0s",
      "999.999999ms",
    ],
  );
});

Deno.test("progress bars are ctr's %40r", () => {
  assert.equal(progressBar(0), `|${GREEN}${RESET}${"-".repeat(38)}|`);
  assert.equal(progressBar(1), `|${GREEN}${"+".repeat(38)}${RESET}|`);
  assert.equal(
    progressBar(0.5),
    `|${GREEN}${"+".repeat(19)}${RESET}${"-".repeat(19)}|`,
  );
  assert.equal(progressBar(7, 40, false), `|${"+".repeat(38)}|`);
  assert.equal(progressBar(0.25, 10, false), "|++------|");
});

const STATUSES: StatusInfo[] = [
  { ref: "ref", status: "resolved", offset: 0, total: 0 },
  { ref: "index-sha256:aa", status: "exists", offset: 0, total: 0 },
  {
    ref: "layer-sha256:bb",
    status: "downloading",
    offset: 1 << 20,
    total: 2 << 20,
  },
  { ref: "config-sha256:cc", status: "waiting", offset: 0, total: 0 },
];

Deno.test("a frame is laid out as ctr's Display through its tabwriter", () => {
  const full = progressBar(1);
  const half = progressBar(0.5);
  const none = progressBar(0);
  // Columns: 17+1, 14+1, 49+1 (a bar with its escapes), then the sizes
  // of the one downloading line; every cell ends with its padding.
  const expected = [
    `${"ref:".padEnd(18)}${"resolved".padEnd(15)}${full} `,
    `${"index-sha256:aa:".padEnd(18)}${"exists".padEnd(15)}${full} `,
    `${"layer-sha256:bb:".padEnd(18)}${
      "downloading".padEnd(15)
    }${half}  1.0 MiB/2.0 MiB `,
    `${"config-sha256:cc:".padEnd(18)}${"waiting".padEnd(15)}${none} `,
    `${"elapsed: 1.5 s".padEnd(18)}${"total:  1.0 Mi".padEnd(15)}${
      "(682.7 KiB/s)".padEnd(50)
    }`,
    "",
  ].join("\n");
  assert.equal(renderFrame(STATUSES, 1500), expected);
  // Sizes longer than 8 characters are cut, as %8.8s does.
  const big = renderFrame([{
    ref: "layer-sha256:dd",
    status: "uploading",
    offset: 123.45 * 1024 * 1024,
    total: 200 * 1024 * 1024,
  }], 2000);
  assert.match(big, /123\.5 Mi\/200\.0 MiB/);
  assert.match(big, /total: {2}123\.5 {2}\(61\.7 MiB\/s\)/);
});

Deno.test("countLines counts terminal rows without colour codes", () => {
  const frame = renderFrame(STATUSES, 1500);
  // The downloading line is 91 columns, the padded totals 83: two rows
  // each at 80.
  assert.equal(countLines(frame, 80), 7);
  assert.equal(countLines(frame, 200), 5);
  assert.equal(countLines(frame, 0), 0);
});

function progress(
  blobs: { kind: string; digest: string; state: string; offset?: number }[],
  size = 100,
) {
  return create(ProgressSchema, {
    blobs: blobs.map((b) => ({
      kind: b.kind,
      descriptor: { digest: b.digest, size: BigInt(size), mediaType: "x" },
      state: b.state,
      offset: BigInt(b.offset ?? 0),
    })),
  });
}

Deno.test("on a terminal the display redraws in place", () => {
  let clock = 0;
  const out: string[] = [];
  const display = new ProgressDisplay({
    tty: true,
    write: (text) => out.push(text),
    width: () => 200,
    now: () => clock,
    reference: "example.com/a:b",
    intervalMs: 3_600_000,
  });
  display.redraw();
  assert.equal(out.length, 1);
  assert.ok(!out[0].startsWith(CLEAR_LINE));
  assert.match(out[0], /^example\.com\/a:b: resolving +\|/);
  clock = 500;
  display.update(
    progress([{ kind: "layer", digest: "sha256:bb", state: "downloading" }]),
  );
  display.redraw();
  // Two lines drawn before (the reference, the totals): both erased.
  assert.ok(out[1].startsWith(CLEAR_LINE.repeat(2)));
  assert.ok(!out[1].slice(CLEAR_LINE.length * 2).includes("\x1b[1A"));
  assert.match(out[1], /resolved/);
  assert.match(out[1], /layer-sha256:bb: +downloading/);
  display.update(
    progress([{ kind: "layer", digest: "sha256:bb", state: "done" }]),
  );
  clock = 1000;
  display.finish();
  display.finish();
  assert.equal(out.length, 3);
  assert.ok(out[2].startsWith(CLEAR_LINE.repeat(3)));
  assert.equal(
    out[2].slice(CLEAR_LINE.length * 3),
    renderFrame(display.statuses, 1000),
  );
  assert.match(out[2], /elapsed: 1\.0 s/);
  assert.match(out[2], /total: {2}100\.0 {2}\(100\.0 B\/s\)/);
});

Deno.test("elsewhere the display prints one plain line per state change", () => {
  let clock = 0;
  let out = "";
  const display = new ProgressDisplay({
    tty: false,
    write: (text) => out += text,
    now: () => clock,
    reference: "r",
  });
  display.update(progress([
    { kind: "manifest", digest: "sha256:m", state: "done" },
    { kind: "layer", digest: "sha256:l", state: "downloading", offset: 10 },
  ]));
  display.update(progress([
    { kind: "manifest", digest: "sha256:m", state: "done" },
    { kind: "layer", digest: "sha256:l", state: "downloading", offset: 50 },
  ]));
  display.update(progress([
    { kind: "manifest", digest: "sha256:m", state: "done" },
    { kind: "layer", digest: "sha256:l", state: "unpacking", offset: 100 },
  ]));
  display.update(progress([
    { kind: "manifest", digest: "sha256:m", state: "done" },
    { kind: "layer", digest: "sha256:l", state: "done", offset: 100 },
  ]));
  clock = 2000;
  display.finish();
  assert.equal(
    out,
    [
      "r: resolving",
      "r: resolved",
      "manifest-sha256:m: done",
      "layer-sha256:l: downloading",
      "layer-sha256:l: unpacking",
      "layer-sha256:l: done",
      "elapsed: 2.0 s total:  200.0  (100.0 B/s)",
      "",
    ].join("\n"),
  );
  assert.ok(!out.includes("\x1b"));
});

Deno.test("a successful pull's last frame shows every blob done, as ctr's", () => {
  let out = "";
  const display = new ProgressDisplay({
    tty: false,
    write: (text) => out += text,
    now: () => 0,
    reference: "r",
  });
  display.update(progress([
    { kind: "layer", digest: "sha256:l", state: "downloading", offset: 10 },
    { kind: "config", digest: "sha256:c", state: "exists" },
  ]));
  display.finish(true);
  assert.match(out, /exists\nlayer-sha256:l: done\nelapsed/);
  assert.ok(!out.includes("config-sha256:c: done"));
  assert.deepEqual(display.statuses.map((s) => s.status), [
    "resolved",
    "done",
    "exists",
  ]);
});

Deno.test("platforms parse, format and match as containerd's", () => {
  assert.deepEqual(parsePlatform("linux/arm64"), {
    os: "linux",
    architecture: "arm64",
  });
  assert.deepEqual(parsePlatform("linux/arm64/v8"), {
    os: "linux",
    architecture: "arm64",
    variant: "v8",
  });
  assert.deepEqual(parsePlatform("Linux/x86_64"), {
    os: "linux",
    architecture: "amd64",
  });
  assert.equal(
    formatPlatform(parsePlatform("linux")),
    `linux/${hostArchitecture()}`,
  );
  assert.equal(formatPlatform(parsePlatform("arm")), "linux/arm");
  assert.equal(formatPlatform({ os: "", architecture: "x" }), "unknown");
  assert.throws(() => parsePlatform("linux/*"), /wildcards/);
  assert.throws(() => parsePlatform("a/b/c/d"), /cannot parse/);
  assert.throws(() => parsePlatform("nothing"), /unknown operating system/);

  const arm64 = onlyPlatform(parsePlatform("linux/arm64"));
  const v8 = { os: "linux", architecture: "arm64", variant: "v8" };
  const v7 = { os: "linux", architecture: "arm", variant: "v7" };
  assert.ok(arm64.match(v8));
  assert.ok(arm64.match(v7));
  assert.ok(!arm64.match({ os: "linux", architecture: "amd64" }));
  assert.ok(arm64.less(v8, v7));
  assert.ok(!arm64.less(v7, v8));
  const amd64 = onlyPlatform(parsePlatform("linux/amd64"));
  assert.ok(amd64.match({ os: "linux", architecture: "386" }));
  assert.ok(
    amd64.less({ os: "linux", architecture: "amd64" }, {
      os: "linux",
      architecture: "386",
    }),
  );
});

Deno.test("chainID chains diff IDs as identity.ChainID", () => {
  const a = `sha256:${"a".repeat(64)}`;
  const b = `sha256:${"b".repeat(64)}`;
  assert.equal(chainID([]), "");
  assert.equal(chainID([a]), a);
  assert.equal(
    chainID([a, b]),
    `sha256:${createHash("sha256").update(`${a} ${b}`).digest("hex")}`,
  );
});

/** An image graph in memory: an index of two manifests. */
function memoryImage() {
  const docs = new Map<string, unknown>();
  const stored = new Set<string>();
  const add = (digest: string, doc: unknown) => {
    docs.set(digest, doc);
    stored.add(digest);
  };
  const layer = (n: string) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: `sha256:${n.repeat(64)}`,
    size: 1000,
  });
  const configOf = (arch: string, d: string) => {
    add(`sha256:${d.repeat(64)}`, {
      architecture: arch,
      os: "linux",
      rootfs: { type: "layers", diff_ids: [`sha256:${"f".repeat(64)}`] },
    });
    return {
      mediaType: OCI.CONFIG,
      digest: `sha256:${d.repeat(64)}`,
      size: 10,
    };
  };
  const host = hostArchitecture();
  const foreign = host === "amd64" ? "arm64" : "amd64";
  add(`sha256:${"1".repeat(64)}`, {
    mediaType: OCI.MANIFEST,
    config: configOf(host, "3"),
    layers: [layer("5")],
  });
  add(`sha256:${"2".repeat(64)}`, {
    mediaType: OCI.MANIFEST,
    config: configOf(foreign, "4"),
    layers: [layer("6")],
  });
  stored.add(`sha256:${"5".repeat(64)}`);
  const manifest = (d: string, architecture: string) => ({
    mediaType: OCI.MANIFEST,
    digest: `sha256:${d.repeat(64)}`,
    size: 100,
    platform: { os: "linux", architecture },
  });
  add(`sha256:${"0".repeat(64)}`, {
    mediaType: OCI.INDEX,
    manifests: [manifest("2", foreign), manifest("1", host)],
  });
  const source: BlobSource = {
    json: <T>(digest: string) => {
      if (!docs.has(digest)) {
        return Promise.reject(new Error(`${digest}: not found`));
      }
      return Promise.resolve(docs.get(digest) as T);
    },
    has: (digest: string) => Promise.resolve(stored.has(digest)),
  };
  const target = {
    mediaType: OCI.INDEX,
    digest: `sha256:${"0".repeat(64)}`,
    size: 500,
  };
  return { source, target, stored, docs, foreign };
}

Deno.test("size, platforms, manifest and check walk an index as containerd", async () => {
  const { source, target, stored, foreign } = memoryImage();
  // The index, the host's manifest, its config and layer.
  assert.deepEqual(await imageSize(source, target, defaultPlatformMatcher()), {
    size: 500 + 100 + 10 + 1000,
  });
  assert.deepEqual(
    (await imagePlatforms(source, target)).map(formatPlatform),
    [`linux/${foreign}`, `linux/${hostArchitecture()}`],
  );
  const manifest = await imageManifest(
    source,
    target,
    defaultPlatformMatcher(),
  );
  assert.equal(manifest.layers[0].digest, `sha256:${"5".repeat(64)}`);
  const check = await checkImage(source, target, defaultPlatformMatcher());
  assert.equal(check.available, true);
  assert.equal(check.required.length, 2);
  assert.equal(check.missing.length, 0);
  // The foreign platform's layer is not stored.
  const theirs = await checkImage(
    source,
    target,
    onlyPlatform({ os: "linux", architecture: foreign }),
  );
  assert.equal(theirs.missing.length, 1);
  // No match at all: unavailable, as containerd says.
  const none = await checkImage(
    source,
    target,
    onlyPlatform({ os: "linux", architecture: "s390x" }),
  );
  assert.deepEqual(none, {
    available: false,
    required: [target],
    present: [],
    missing: [target],
  });
  const sized = await imageSize(
    source,
    target,
    onlyPlatform({ os: "linux", architecture: "s390x" }),
  );
  assert.equal(sized.size, 500);
  assert.match(String(sized.error), /no match for platform/);
  stored.clear();
});

Deno.test("mount arguments, log lines and dates", () => {
  assert.deepEqual(
    mountArgs(
      create(MountSchema, {
        type: "overlay",
        source: "overlay",
        options: ["index=off", "lowerdir=/a:/b"],
      }),
      "/t",
    ),
    ["-t", "overlay", "-o", "index=off,lowerdir=/a:/b", "overlay", "/t"],
  );
  assert.deepEqual(
    mountArgs(
      create(MountSchema, {
        type: "bind",
        source: "/s",
        options: ["ro", "rbind"],
      }),
      "/t",
    ),
    ["-t", "none", "-o", "ro,rbind", "/s", "/t"],
  );
  assert.match(
    logLine("warning", "x: image not found"),
    /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z" level=warning msg="x: image not found"\n$/,
  );
  assert.match(logLine("error", "a", new Error("b c")), / error="b c"\n$/);
  assert.equal(localDate(new Date(2024, 0, 5)), "2024-01-05");
});

// ------------------------------------------------------ integration tests

const ok = (r: CommandResult, what: string) => {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  return r;
};

/** Both clients on the same state: the same output, normalized. */
async function same(daemon: TestDaemon, args: string[], host: string) {
  const [theirs, ours] = await Promise.all([
    daemon.ctr(args),
    daemon.berth(args),
  ]);
  const norm = (r: CommandResult) =>
    `${r.code}\n${normalizeCtr(r.stdout.replaceAll(host, "REGISTRY"))}`;
  assert.equal(norm(ours), norm(theirs), `berth ctr ${args.join(" ")}`);
  return ours;
}

Deno.test("berth ctr pull, ls, check, tag, label and rm, as ctr prints them", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  const multi = await buildImage("multiplatform");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await pushLayout(registry, multi.layout, "multi:latest");
  await using daemon = await startDaemon();
  const ref = `${registry.host}/busybox:latest`;
  const multiRef = `${registry.host}/multi:latest`;
  const host = `linux/${hostArchitecture()}`;

  const pull = ok(
    await daemon.berth(["images", "pull", "--plain-http", ref]),
    "pull",
  );
  assert.ok(!pull.stdout.includes("\x1b"), "no escapes off a terminal");
  assert.match(pull.stdout, new RegExp(`^${ref}: resolving\n`));
  assert.match(pull.stdout, new RegExp(`manifest-${busybox.digest}: done`));
  assert.match(pull.stdout, /^elapsed: \d+\.\d s total: /m);
  assert.match(
    pull.stdout,
    new RegExp(
      `\nunpacking ${host} ${busybox.digest}\\.\\.\\.\ndone: \\S+\t\n$`,
    ),
  );

  // One foreign platform: pulled (and unpacked) alone.
  const foreign = multi.manifests.find((m) =>
    m.platform.architecture !== hostArchitecture()
  )!;
  const foreignSpec = `linux/${foreign.platform.architecture}`;
  const one = ok(
    await daemon.berth([
      "pull",
      "--plain-http",
      "--platform",
      foreignSpec,
      "--print-chainid",
      multiRef,
    ]),
    "pull --platform",
  );
  assert.match(one.stdout, new RegExp(`index-${multi.digest}: (done|exists)`));
  assert.match(
    one.stdout,
    new RegExp(`manifest-${foreign.descriptor.digest}: done`),
  );
  assert.match(
    one.stdout,
    new RegExp(`unpacking ${foreignSpec} ${multi.digest}\\.\\.\\.\n`),
  );
  assert.match(one.stdout, /image chain ID: sha256:[0-9a-f]{64}\n/);

  // The host's platform is missing: ls and check say so, as ctr does.
  await same(daemon, ["images", "ls"], registry.host);
  await same(daemon, ["images", "check"], registry.host);
  const all = ok(
    await daemon.berth([
      "images",
      "pull",
      "--plain-http",
      "--all-platforms",
      multiRef,
    ]),
    "pull --all-platforms",
  );
  const unpacking = all.stdout.match(/^unpacking .*$/gm) ?? [];
  assert.equal(unpacking.length, 2, all.stdout);

  const ls = await same(daemon, ["images", "ls"], registry.host);
  assert.match(
    ls.stdout,
    new RegExp(
      `${multiRef} +${
        multi.mediaType.replaceAll(".", "\\.").replace("+", "\\+")
      } +${multi.digest} `,
    ),
  );
  assert.match(ls.stdout, /linux\/amd64,linux\/arm64\/v8/);
  await same(daemon, ["images", "ls", "-q"], registry.host);
  await same(daemon, ["images", "ls", "name==" + ref], registry.host);
  const check = await same(daemon, ["images", "check"], registry.host);
  assert.match(check.stdout, /complete \(2\/2\).* true\n/);
  await same(daemon, ["images", "check", "-q"], registry.host);

  const json = JSON.parse(
    ok(await daemon.berth(["images", "ls", "--json"]), "ls --json").stdout,
  );
  assert.deepEqual(
    json.map((i: { Name: string }) => i.Name).sort(),
    [
      ref,
      multiRef,
    ].sort(),
  );

  // tag, label, rm: each client in turn, the same answers.
  for (const [side, tag] of [["ctr", "ex.com/a:1"], ["berth", "ex.com/a:2"]]) {
    const r = ok(
      await daemon[side as "ctr" | "berth"](["images", "tag", ref, tag]),
      `${side} tag`,
    );
    assert.equal(r.stdout, `${tag}\n`);
  }
  for (const side of ["ctr", "berth"] as const) {
    const again = await daemon[side](["images", "tag", ref, "ex.com/a:1"]);
    assert.equal(again.code, 1, side);
    assert.match(again.stderr, /already exists/);
  }
  ok(
    await daemon.berth(["images", "tag", "--force", multiRef, "ex.com/a:1"]),
    "tag --force",
  );
  await same(daemon, ["images", "ls", "name~=ex.com"], registry.host);
  for (const side of ["ctr", "berth"] as const) {
    const label = ok(
      await daemon[side](["images", "label", "ex.com/a:2", "team=x", "b"]),
      `${side} label`,
    );
    assert.equal(normalizeCtr(label.stdout), "b=true,team=x");
  }
  await same(daemon, ["images", "label", "ex.com/a:2", "b="], registry.host);
  await same(daemon, ["images", "ls"], registry.host);
  const rm = ok(
    await daemon.berth([
      "images",
      "rm",
      "ex.com/a:1",
      "missing:x",
      "ex.com/a:2",
    ]),
    "rm",
  );
  assert.equal(rm.stdout, "ex.com/a:1\nex.com/a:2\n");
  assert.match(rm.stderr, /level=warning msg="missing:x: image not found"/);
  ok(await daemon.berth(["image", "del", "--sync", multiRef]), "rm --sync");
  await same(daemon, ["images", "ls", "-q"], registry.host);
  await same(daemon, ["i", "check"], registry.host);
});

Deno.test("berth ctr export goes into containerd; import reads an OCI archive", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using daemon = await startDaemon();
  const ref = `${registry.host}/busybox:latest`;
  ok(await daemon.berth(["pull", "--plain-http", ref]), "pull");

  const archive = `${daemon.dir}/export.tar`;
  const exported = ok(
    await daemon.berth(["images", "export", archive, ref]),
    "export",
  );
  assert.equal(exported.stdout, "");
  const piped = await run("sh", [
    "-c",
    `"$@" > ${daemon.dir}/stdout.tar`,
    "sh",
    Deno.execPath(),
    ...berthCtrArgs(daemon, ["images", "export", "-", ref]),
  ]);
  ok(piped, "export -");
  assert.deepEqual(
    await Deno.readFile(`${daemon.dir}/stdout.tar`),
    await Deno.readFile(archive),
  );
  await using containerd = await startContainerd();
  if (containerd) {
    const imported = ok(
      await containerd.ctr(["images", "import", archive]),
      "containerd import",
    );
    assert.match(imported.stdout, new RegExp(`unpacking ${ref}`));
    assert.match(
      (await containerd.ctr(["images", "check"])).stdout,
      /complete \(2\/2\).* true/,
    );
  }

  // An OCI archive with a bare tag: named import-DATE:TAG, as ctr does;
  // berth's output is ctr's against another daemon.
  const oci = `${daemon.dir}/oci.tar`;
  await saveOciArchive(busybox.layout, oci, "v1");
  await using other = await startDaemon();
  const theirs = ok(await other.ctr(["images", "import", oci]), "ctr import");
  const ours = ok(await daemon.berth(["images", "import", oci]), "import");
  assert.equal(ours.stdout, theirs.stdout);
  assert.equal(
    ours.stdout,
    `unpacking import-${localDate(new Date())}:v1 (${busybox.digest})...done\n`,
  );
  const named = ok(
    await daemon.berth([
      "images",
      "import",
      "--base-name",
      "ex.com/bb",
      "--digests",
      "--no-unpack",
      "-",
    ], { stdin: { file: oci } }),
    "import -",
  );
  assert.equal(named.stdout, "");
  const names = (await daemon.ctr(["images", "ls", "-q"])).stdout;
  assert.match(names, /^ex\.com\/bb:v1$/m);
  assert.match(names, new RegExp(`^ex\\.com/bb@${busybox.digest}$`, "m"));
  await same(daemon, ["images", "check"], registry.host);
});

Deno.test("berth ctr push reaches the registry; pull with basic auth", async () => {
  await using registry = await startRegistry({ auth: "htpasswd" });
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "private:latest");
  await using daemon = await startDaemon();
  const ref = `${registry.host}/private:latest`;
  const anonymous = await daemon.berth(["images", "pull", "--plain-http", ref]);
  assert.notEqual(anonymous.code, 0);
  const { username, password } = registry.credentials!;
  const user = `${username}:${password}`;
  ok(
    await daemon.berth(["images", "pull", "--plain-http", "-u", user, ref]),
    "pull -u",
  );
  await same(daemon, ["images", "check"], registry.host);

  const copy = `${registry.host}/pushed/busybox:copy`;
  const push = ok(
    await daemon.berth([
      "push",
      "--plain-http",
      "--user",
      user,
      copy,
      ref,
    ]),
    "push",
  );
  assert.match(push.stdout, new RegExp(`manifest-${busybox.digest}: `));
  assert.match(push.stdout, /^elapsed: /m);
  assert.ok(!push.stdout.includes("\x1b"));
  const inspect = ok(
    await run("skopeo", [
      "inspect",
      "--tls-verify=false",
      "--creds",
      user,
      `docker://${copy}`,
    ]),
    "skopeo inspect",
  );
  assert.equal(JSON.parse(inspect.stdout).Digest, busybox.digest);
});

Deno.test("berth ctr images mount and unmount an image's rootfs", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using daemon = await startDaemon();
  const ref = `${registry.host}/busybox:latest`;
  const oci = `${daemon.dir}/oci.tar`;
  await saveOciArchive(busybox.layout, oci, "ex.com/packed:v1");
  // Imported without unpacking: mount unpacks it through the primitives.
  ok(
    await daemon.berth(["images", "import", "--no-unpack", oci]),
    "import --no-unpack",
  );
  assert.match((await daemon.ctr(["images", "check"])).stdout, / false\n$/);
  const mountOnce = async (image: string, rw: boolean) => {
    const target = await Deno.makeTempDir({ dir: daemon.dir });
    const mounted = await daemon.berth([
      "images",
      "mount",
      ...(rw ? ["--rw"] : []),
      image,
      target,
    ]);
    try {
      ok(mounted, `mount ${image}`);
      const [chain, printed] = mounted.stdout.trimEnd().split("\n");
      assert.match(chain, /^sha256:[0-9a-f]{64}$/);
      assert.equal(printed, target);
      const stat = await Deno.lstat(`${target}/bin/busybox`);
      assert.ok(stat.isFile);
      if (rw) await Deno.writeTextFile(`${target}/x`, "x");
      else await assert.rejects(Deno.writeTextFile(`${target}/x`, "x"));
      const again = ok(
        await daemon.berth(["images", "unmount", "--rm", target]),
        "unmount",
      );
      assert.equal(again.stdout, `${target}\n`);
    } finally {
      await run("umount", ["-R", target]);
    }
    const mountinfo = await Deno.readTextFile("/proc/self/mountinfo");
    assert.ok(!mountinfo.includes(` ${target} `));
    const leases = await daemon.ctr(["leases", "ls", "-q"]);
    assert.ok(!leases.stdout.includes(target));
    const snapshots = await daemon.ctr(["snapshots", "ls"]);
    assert.ok(!snapshots.stdout.includes(target));
  };
  await mountOnce("ex.com/packed:v1", false);
  // ctr agrees the image is unpacked now.
  assert.match((await daemon.ctr(["images", "check"])).stdout, / true\n$/);
  ok(await daemon.berth(["pull", "--plain-http", ref]), "pull");
  await mountOnce(ref, true);
  await same(daemon, ["images", "check"], registry.host);
});

Deno.test("on a terminal, berth ctr pull redraws its table in place", async () => {
  const script = await run("sh", ["-c", "command -v script"]);
  if (script.code !== 0) return;
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using daemon = await startDaemon();
  const ref = `${registry.host}/busybox:latest`;
  const mod = new URL("../../mod.ts", import.meta.url).pathname;
  // script(1) gives the command a terminal, 200 columns wide.
  const pull = ok(
    await run("script", [
      "-qec",
      `stty cols 200; "${Deno.execPath()}" run -A ${mod} ctr --address ${daemon.address} --namespace ${daemon.namespace} images pull --plain-http ${ref}`,
      "/dev/null",
    ]),
    "pull on a terminal",
  );
  const out = pull.stdout.replaceAll("\r\n", "\n");
  assert.ok(out.includes(CLEAR_LINE), out);
  assert.ok(out.includes(`|${GREEN}${"+".repeat(38)}${RESET}|`));
  // The last frame: every blob done, then ctr's closing lines.
  const last = out.slice(out.lastIndexOf("\r") + 1);
  assert.match(last, new RegExp(`^${ref}: +resolved +\\|`));
  assert.match(last, new RegExp(`\nlayer-${busybox.layers[0].digest}: +done `));
  assert.match(last, /\nelapsed: \d+\.\d s +total: /);
  assert.match(last, /\nunpacking linux\/\w+ sha256:\w+\.\.\.\ndone: \S+\t\n$/);
});
