import assert from "node:assert/strict";
import type { Mount } from "../types/mod.ts";
import { readonlyMounts } from "./readonly.ts";

Deno.test("readonlyMounts replaces rw/ro with one ro and keeps the input", () => {
  const input: Mount[] = [
    { type: "bind", source: "/s", options: ["rbind", "rw", "ro"] },
    { type: "tmpfs", source: "tmpfs", options: [] },
  ];
  const copy = structuredClone(input);
  assert.deepEqual(readonlyMounts(input), [
    { type: "bind", source: "/s", options: ["rbind", "ro"] },
    { type: "tmpfs", source: "tmpfs", options: ["ro"] },
  ]);
  assert.deepEqual(input, copy);
});

Deno.test("readonlyMounts turns an overlay's upper into its top lower layer", () => {
  const [m] = readonlyMounts([{
    type: "overlay",
    source: "overlay",
    options: ["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l1:/l2"],
  }]);
  assert.deepEqual(m, {
    type: "overlay",
    source: "overlay",
    options: ["index=off", "lowerdir=/u:/l1:/l2", "ro"],
  });
});

Deno.test("readonlyMounts: an overlay left with one layer becomes a ro bind", () => {
  const [m] = readonlyMounts([{
    type: "overlay",
    source: "overlay",
    options: ["lowerdir=/only"],
  }]);
  assert.deepEqual(m, {
    type: "bind",
    source: "/only",
    options: ["bind", "ro"],
  });
  const [n] = readonlyMounts([{
    type: "overlay",
    source: "overlay",
    options: ["lowerdir=/l", "upperdir=/a:b", "workdir=/w"],
  }]);
  assert.deepEqual(n.options, ["lowerdir=/a\\:b:/l", "ro"]);
});
