import assert from "node:assert/strict";
import { chainID, chainIDs } from "./identity.ts";

const A = "sha256:" + "a".repeat(64);
const B = "sha256:" + "b".repeat(64);
const C = "sha256:" + "c".repeat(64);

/** sha256 of `text` computed by the sha256sum program. */
async function sha256sum(text: string): Promise<string> {
  const child = new Deno.Command("sha256sum", {
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { stdout } = await child.output();
  return `sha256:${new TextDecoder().decode(stdout).split(" ")[0]}`;
}

Deno.test("chainID of one layer is its diffID; of none, empty", () => {
  assert.equal(chainID([A]), A);
  assert.equal(chainID([]), "");
});

Deno.test("chainID(n) = sha256(chainID(n-1) + ' ' + diffID(n)), checked with sha256sum", async () => {
  const ab = await sha256sum(`${A} ${B}`);
  const abc = await sha256sum(`${ab} ${C}`);
  assert.deepEqual(chainIDs([A, B, C]), [A, ab, abc]);
  assert.equal(chainID([A, B, C]), abc);
});

Deno.test("chainID of two empty layers, the well-known empty tar diffID", async () => {
  // An empty tar (two zero blocks) has Docker's well-known empty-layer diffID.
  const empty =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
  assert.equal(await sha256sum("\0".repeat(1024)), empty);
  assert.deepEqual(chainIDs([empty, empty]), [
    empty,
    await sha256sum(`${empty} ${empty}`),
  ]);
});
