import assert from "node:assert/strict";
import {
  parseGroup,
  parsePasswd,
  readGroup,
  readPasswd,
  resolveInRoot,
} from "./user.ts";

Deno.test("parsePasswd and parseGroup skip blanks and comments", () => {
  assert.deepEqual(
    parsePasswd("# c\nroot:x:0:0:root:/root:/bin/sh\n\nbad\n"),
    [
      { name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/sh" },
      { name: "bad", uid: 0, gid: 0, home: "", shell: "" },
    ],
  );
  assert.deepEqual(parseGroup("wheel:x:10:a, b\nusers:x:100:\n"), [
    { name: "wheel", gid: 10, members: ["a", "b"] },
    { name: "users", gid: 100, members: [] },
  ]);
});

Deno.test("resolveInRoot keeps symlinks and .. inside the root", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/etc`);
    await Deno.mkdir(`${root}/real`);
    await Deno.writeTextFile(`${root}/real/passwd`, "app:x:7:8::/:/bin/sh\n");
    await Deno.symlink("/real/passwd", `${root}/etc/passwd`);
    await Deno.symlink("../../../../etc", `${root}/escape`);
    assert.equal(
      await resolveInRoot(root, "/etc/passwd"),
      `${root}/real/passwd`,
    );
    assert.equal(
      await resolveInRoot(root, "/escape/group"),
      `${root}/etc/group`,
    );
    assert.equal(await resolveInRoot(root, "/../../x"), `${root}/x`);
    assert.deepEqual((await readPasswd(root))?.[0].uid, 7);
    assert.equal(await readGroup(root), undefined, "no host /etc/group");
    await Deno.symlink("/loop", `${root}/loop`);
    await assert.rejects(resolveInRoot(root, "/loop/x"), /too many symlinks/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
