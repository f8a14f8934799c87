import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  InfoSchema,
  Kind,
} from "../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { MountSchema } from "../../src/gen/containerd/types/mount_pb.ts";
import {
  berthCtrArgs,
  type CommandResult,
  ctrArgs,
  run,
  startDaemon,
  type TestDaemon,
} from "../../tests/_harness.ts";
import {
  infoJSON,
  kindName,
  mountCommands,
  mountsJSON,
  snapshotTree,
} from "../_snapshots.ts";
import { uniquePart } from "../../src/client/snapshots.ts";
import { goJSON } from "../_format.ts";

Deno.test("snapshotTree indents children under their parents as ctr", () => {
  assert.equal(
    snapshotTree([
      { name: "a", parent: "" },
      { name: "b", parent: "a" },
      { name: "c", parent: "b" },
      // A parent listed after its child keeps the child's place.
      { name: "d", parent: "e" },
      { name: "e", parent: "" },
      { name: "f", parent: "a" },
      // A parent that is not listed at all is a root.
      { name: "g", parent: "missing" },
    ]),
    [
      " a",
      "  \\_ b",
      "    \\_ c",
      "  \\_ f",
      " e",
      "  \\_ d",
      " missing",
      "  \\_ g",
      "",
    ].join("\n"),
  );
  assert.equal(snapshotTree([]), "");
});

Deno.test("mounts and infos print as ctr's PrintAsJSON", () => {
  const mounts = [
    create(MountSchema, {
      type: "bind",
      source: "/s",
      options: ["ro", "rbind"],
    }),
    create(MountSchema, { type: "tmpfs", source: "none" }),
  ];
  assert.equal(
    goJSON(mountsJSON(mounts)),
    `[
    {
        "Type": "bind",
        "Source": "/s",
        "Options": [
            "ro",
            "rbind"
        ]
    },
    {
        "Type": "tmpfs",
        "Source": "none",
        "Options": null
    }
]`,
  );
  assert.equal(
    mountCommands("/t", mounts),
    "mount -t bind /s /t -o ro,rbind\nmount -t tmpfs none /t -o \n",
  );
  const info = create(InfoSchema, {
    name: "k",
    kind: Kind.UNKNOWN,
    createdAt: { seconds: 1795858354n, nanos: 5000 },
  });
  assert.equal(
    goJSON(infoJSON(info)),
    `{
    "Kind": "Committed",
    "Name": "k",
    "Created": "2026-11-28T09:32:34.000005Z",
    "Updated": "0001-01-01T00:00:00Z"
}`,
  );
  assert.deepEqual(
    [Kind.VIEW, Kind.ACTIVE, Kind.COMMITTED].map(kindName),
    ["View", "Active", "Committed"],
  );
  assert.match(uniquePart(), /^\d{1,9}-[A-Za-z0-9_-]{4}$/);
});

/**
 * Replaces what differs between two snapshots made the same way; sorts
 * `k=v,k=v` lines (ctr prints Go's random map order).
 */
function same(text: string, from: string, to: string): string {
  return text
    .replaceAll(from, to)
    .replace(/^[^\s=]+=[^\n]*$/gm, (line) => line.split(",").sort().join(","))
    .replace(/\/snapshots\/\d+\//g, "/snapshots/N/")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "TIME");
}

/** Runs `berth ctr` with extra environment. */
function berthEnv(
  daemon: TestDaemon,
  args: string[],
  env: Record<string, string>,
): Promise<CommandResult> {
  return run(Deno.execPath(), berthCtrArgs(daemon, args), {
    env: { NO_COLOR: "1", ...env },
  });
}

Deno.test("berth ctr snapshots prints as ctr snapshots on the same daemon", async () => {
  await using daemon = await startDaemon();
  const target = `${daemon.dir}/mnt`;
  await Deno.mkdir(target);
  const ok = async (side: "ctr" | "berth", args: string[]) => {
    const r = await daemon[side](["snapshots", ...args]);
    assert.equal(r.code, 0, `${side} snapshots ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  /** Both clients on the same state: same output, same status. */
  const both = async (args: string[], label = args.join(" ")) => {
    const [theirs, ours] = await Promise.all([
      daemon.ctr(["snapshots", ...args]),
      daemon.berth(["snapshots", ...args]),
    ]);
    assert.equal(ours.stdout, theirs.stdout, `stdout of ${label}`);
    // Deno says so when another berth process holds node_modules' lock.
    const stderr = ours.stderr.replace(
      /^Blocking waiting for file lock.*\n/gm,
      "",
    );
    assert.equal(stderr, theirs.stderr, `stderr of ${label}`);
    assert.equal(ours.code, theirs.code, `status of ${label}`);
    return ours;
  };
  /**
   * The same command making a different snapshot: `X` in the arguments
   * stands for `b` (berth) and `c` (ctr).
   */
  const paired = async (args: string[]) => {
    const [ours, theirs] = await Promise.all([
      ok("berth", args.map((a) => a.replaceAll("X", "b"))),
      ok("ctr", args.map((a) => a.replaceAll("X", "c"))),
    ]);
    assert.equal(
      same(ours.stdout, "b-", "X-"),
      same(theirs.stdout, "c-", "X-"),
      args.join(" "),
    );
    return ours;
  };
  const mountAndWrite = async (key: string, script: string) => {
    const mount = await ok("ctr", ["mounts", target, key]);
    const mounted = await run("sh", ["-c", mount.stdout]);
    assert.equal(mounted.code, 0, mounted.stderr);
    try {
      const r = await run("sh", ["-c", `cd "$T" && ${script}`], {
        env: { T: target },
      });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      const r = await run("umount", [target]);
      assert.equal(r.code, 0, r.stderr);
    }
  };

  // A base with files, committed; a child that changes them.
  await ok("ctr", ["prepare", "base"]);
  await mountAndWrite("base", "echo hello > hello && mkdir d && echo x > d/x");
  await ok("ctr", ["commit", "base-c", "base"]);

  // Creating commands, each side on its own keys.
  const [prepared] = await Promise.all([
    paired(["prepare", "--target", target, "--mounts", "X-active", "base-c"]),
    paired(["prepare", "X-top"]),
    paired(["view", "-t", "/somewhere", "X-view", "base-c"]),
    paired(["view", "--mounts", "X-view2", "base-c"]),
    paired(["prepare", "X-tmp", "base-c"]),
  ]);
  assert.match(prepared.stdout, /^mount -t overlay overlay \/.* -o index=off/);
  assert.match(prepared.stdout, /"Type": "overlay"/);
  // Views carry no gc.root: keep them from the collector.
  await Promise.all(
    ["X-view", "X-view2"].map((view) =>
      paired(["label", view, "containerd.io/gc.root=test"])
    ),
  );
  await mountAndWrite("b-tmp", "rm d/x && echo new > new");
  await mountAndWrite("c-tmp", "rm d/x && echo new > new");
  await paired(["commit", "X-commit", "X-tmp"]);
  await paired(["label", "X-commit", "team=a", "flag"]);
  await paired(["label", "X-commit", "team="]);
  await Promise.all([
    paired(["label", "X-commit"]),
    paired(["info", "X-active"]),
    paired(["info", "X-commit"]),
    paired(["info", "X-view"]),
  ]);
  // `snapshot` is an alias of `snapshots`.
  const alias = await daemon.berth(["snapshot", "info", "b-view"]);
  assert.equal(
    alias.stdout,
    (await daemon.ctr(["snapshot", "info", "b-view"])).stdout,
  );
  const info = JSON.parse((await ok("berth", ["info", "b-commit"])).stdout);
  assert.equal(info.Kind, "Committed");
  assert.equal(info.Parent, "base-c");
  assert.equal(info.Labels.flag, "true");
  assert.equal(info.Labels.team, undefined);
  assert.match(info.Labels["containerd.io/gc.root"], /^\S+T\S+Z$/);

  // Reading commands on the same state; then wrong argument counts (the
  // subcommand's help, status 0) and errors.
  await Promise.all([
    ["ls"],
    ["list"],
    ["tree"],
    ["usage"],
    ["usage", "-b"],
    ["usage", "-b", "base-c", "b-active"],
    ["usage", "nope"],
    ["info", "base-c"],
    ["info", "b-view"],
    ["info", "nope"],
    ["mounts", target, "b-active"],
    ["m", "/elsewhere", "c-view"],
    ["--snapshotter", "native", "ls"],
    ["--snapshotter", "bogus", "ls"],
    ["commit", "a"],
    ["prepare"],
    ["view", "a", "b", "c"],
    ["mounts", "x"],
    ["info"],
    ["rm"],
  ].map((args) => both(args)));
  // Apart from the listings: a diff makes a temporary view while it runs.
  await Promise.all([
    ["diff"],
    ["diff", "nope"],
    ["diff", "b-active", "nope"],
    ["diff", "--media-type", "foo", "b-active"],
  ].map((args) => both(args)));
  const json = JSON.parse((await ok("berth", ["ls", "--json"])).stdout);
  assert.deepEqual(
    json.find((i: { Name: string }) => i.Name === "b-commit"),
    info,
  );
  assert.deepEqual(
    json.map((i: { Name: string }) => i.Name),
    (await ok("ctr", ["ls"])).stdout.trim().split("\n").slice(1).map((l) =>
      l.split(" ")[0]
    ),
  );

  // The environment picks the snapshotter as CONTAINERD_SNAPSHOTTER does.
  const native = await berthEnv(daemon, ["snapshots", "ls"], {
    BERTH_SNAPSHOTTER: "native",
  });
  assert.equal(native.stdout, "KEY PARENT KIND \n");

  // Layers: the same bytes through either client.
  /**
   * The layer each client prints, saved to a file: the same entries, and
   * the same bytes unless it has whiteouts (which carry the time the
   * layer was made, as containerd's differ writes them).
   */
  const layer = async (args: string[]) => {
    const save = async (name: string, cmd: string[]) => {
      const file = `${daemon.dir}/${name}.layer`;
      const r = await run("sh", [
        "-c",
        'f=$1; shift; exec "$@" > "$f"',
        "sh",
        file,
        ...cmd,
      ]);
      assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
      const bytes = await Deno.readFile(file);
      const list = await run("tar", [
        "--full-time",
        `-tv${bytes[0] === 0x1f ? "z" : ""}f`,
        file,
      ]);
      assert.equal(list.code, 0, list.stderr);
      return {
        size: bytes.length,
        digest: createHash("sha256").update(bytes).digest("hex"),
        entries: list.stdout.replace(
          /^(.*) \S+ \S+ (\S*\.wh\.\S*)$/gm,
          "$1 TIME $2",
        ),
      };
    };
    const snapshotsArgs = ["snapshots", ...args];
    const theirs = await save("ctr", [
      "ctr",
      ...ctrArgs(daemon, snapshotsArgs),
    ]);
    const ours = await save("berth", [
      Deno.execPath(),
      ...berthCtrArgs(daemon, snapshotsArgs),
    ]);
    assert.equal(ours.entries, theirs.entries, args.join(" "));
    if (!ours.entries.includes(".wh.")) {
      assert.deepEqual(ours, theirs, args.join(" "));
    }
    return ours;
  };
  const committed = await layer(["diff", "b-commit"]);
  const active = await layer(["diff", "b-active"]);
  await layer(["diff", "b-commit", "base-c"]);
  await layer(["diff", "base-c", "b-commit"]);
  await layer(["diff", "base-c"]);
  const plain = await layer([
    "diff",
    "--media-type",
    "application/vnd.oci.image.layer.v1.tar",
    "b-commit",
  ]);
  assert.ok(committed.size > 0 && active.size > 0);
  assert.ok(plain.size % 512 === 0 && plain.size > committed.size);
  // The layer of an unchanged snapshot is an empty archive.
  await ok("ctr", ["prepare", "empty", "base-c"]);
  await layer(["diff", "empty"]);

  // The temporary views and leases are gone; only --keep keeps the layer.
  await both(["ls"]);
  assert.equal((await daemon.ctr(["leases", "ls", "-q"])).stdout, "");
  const kept = await daemon.berth([
    "snapshots",
    "diff",
    "--keep",
    "--ref",
    "mine",
    "--label",
    "x=y",
    "--label",
    "bare",
    "--media-type",
    "application/vnd.oci.image.layer.v1.tar",
    "b-active",
  ]);
  assert.equal(kept.code, 0, kept.stderr);
  const blobs = (await daemon.ctr(["content", "ls"])).stdout;
  assert.match(blobs, /bare=true/);
  assert.match(blobs, /containerd\.io\/gc\.root=\S+Z/);
  assert.match(blobs, /x=y/);

  // Removal: each side its own, then the same listing.
  for (const side of ["ctr", "berth"] as const) {
    const x = side === "ctr" ? "c" : "b";
    const rm = await daemon[side](["snapshots", "rm", "base-c"]);
    assert.equal(rm.code, 1);
    assert.equal(
      rm.stderr,
      'ctr: failed to remove "base-c": cannot remove snapshot with child: failed precondition\n',
    );
    await ok(side, ["remove", `${x}-view`, `${x}-view2`]);
    await ok(side, ["delete", `${x}-active`]);
  }
  await both(["rm", "nope", "b-top"]);
  await both(["tree"]);
  await both(["ls"]);
});
