import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bundleOf,
  emptyBundleTrash,
  listBundles,
  removeBundle,
  TASK_DIR,
  writeBundle,
} from "./bundle.ts";

/** The permission bits of `path`, in octal. */
async function modeOf(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o7777).toString(8);
}

const SPEC = new TextEncoder().encode(JSON.stringify({ ociVersion: "1.0.2" }));

Deno.test("bundles have containerd's modes: 0711 above, 0700 itself, 0711 rootfs", async () => {
  const state = await Deno.makeTempDir();
  try {
    const bundle = bundleOf(state, "ns", "id");
    await writeBundle(bundle, SPEC, "io.containerd.runc.v2");
    assert.equal(await modeOf(join(state, TASK_DIR)), "711");
    assert.equal(await modeOf(join(state, TASK_DIR, "ns")), "711");
    assert.equal(await modeOf(bundle.path), "700");
    assert.equal(await modeOf(join(bundle.path, "rootfs")), "711");
    assert.equal(await modeOf(join(bundle.path, "config.json")), "644");
    await (await removeBundle(bundle)).removed;
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("a bundle whose spec maps user ids is 0710 and its remapped root's group", async () => {
  const state = await Deno.makeTempDir();
  try {
    const bundle = bundleOf(state, "ns", "userns");
    const spec = {
      ociVersion: "1.0.2",
      linux: {
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [
          { containerID: 1000, hostID: 300000, size: 1 },
          { containerID: 0, hostID: 200000, size: 1000 },
        ],
      },
    };
    await writeBundle(
      bundle,
      new TextEncoder().encode(JSON.stringify(spec)),
      "io.containerd.runc.v2",
    );
    const info = await Deno.stat(bundle.path);
    assert.equal((info.mode! & 0o7777).toString(8), "710");
    assert.equal(info.gid, 200000);
    assert.equal(await modeOf(join(bundle.path, "rootfs")), "711");
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("a removed bundle leaves its path at once, its files go after; leftovers go at the next start", async () => {
  const state = await Deno.makeTempDir();
  try {
    const bundle = bundleOf(state, "ns", "id");
    writeBundle(bundle, SPEC, "io.containerd.runc.v2");
    // A rootfs left with a file in it (no mount) is not an empty directory:
    // the mounts are looked up instead, and the bundle goes all the same.
    Deno.writeTextFileSync(join(bundle.path, "rootfs", "left"), "x");
    const { removed } = await removeBundle(bundle);
    // The id can be used again before the old files are gone.
    await assert.rejects(Deno.stat(bundle.path), Deno.errors.NotFound);
    writeBundle(bundle, SPEC, "io.containerd.runc.v2");
    await removed;
    const listed = await Array.fromAsync(listBundles(state));
    assert.deepEqual(listed, [bundle]);
    // What a stopped daemon left in the trash is deleted, never listed.
    const trash = join(state, TASK_DIR, ".deleted");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(trash)), []);
    await Deno.mkdir(join(trash, "left", "rootfs"), { recursive: true });
    assert.deepEqual(await Array.fromAsync(listBundles(state)), [bundle]);
    await emptyBundleTrash(state);
    await assert.rejects(Deno.stat(trash), Deno.errors.NotFound);
    await emptyBundleTrash(state);
    assert.ok((await Deno.stat(join(bundle.path, "config.json"))).isFile);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});
