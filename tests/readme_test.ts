/**
 * The README's client library example, run as it is printed (its import
 * of `@berth/berth/client` pointed at this checkout) against a test
 * daemon and a local registry.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { run, startDaemon } from "./_harness.ts";
import { buildImage } from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";

const README = new URL("../README.md", import.meta.url);
const LIBRARY = new URL("../src/client/mod.ts", import.meta.url).href;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** The first ```ts block of the README's client library section. */
async function readmeExample(): Promise<string> {
  const text = await Deno.readTextFile(README);
  const section = text.slice(text.indexOf("## The client library"));
  const match = section.match(/```ts\n([\s\S]*?)```/);
  assert.ok(match, "the README has a client library example");
  return match[1];
}

Deno.test("the README's client library example pulls, runs and prints", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using daemon = await startDaemon();
  const example = join(daemon.dir, "example.ts");
  await Deno.writeTextFile(
    example,
    (await readmeExample()).replace('"@berth/berth/client"', `"${LIBRARY}"`),
  );
  const result = await run(Deno.execPath(), [
    "run",
    "-A",
    "--config",
    CONFIG,
    example,
  ], {
    env: {
      BERTH_ADDRESS: daemon.address,
      BERTH_NAMESPACE: daemon.namespace,
      IMAGE: `${registry.host}/busybox:latest`,
    },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "hello from busybox\nexit code 0\n");
});
