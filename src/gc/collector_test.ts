import assert from "node:assert/strict";
import {
  collect,
  type GcGraph,
  type GcNode,
  mark,
  nodeKey,
} from "./collector.ts";

function graph(
  nodes: string[],
  roots: string[],
  edges: Record<string, string[]>,
): GcGraph & { removed: string[] } {
  const node = (key: string): GcNode => ({ type: "t", namespace: "ns", key });
  const removed: string[] = [];
  return {
    removed,
    roots: () => roots.map(node),
    references: (n) => (edges[n.key] ?? []).map(node),
    all: () => nodes.map(node),
    remove: (gone) => removed.push(...gone.map((n) => n.key)),
  };
}

Deno.test("mark follows references transitively and survives cycles", () => {
  const g = graph(["a", "b", "c", "d"], ["a"], { a: ["b"], b: ["c", "a"] });
  const marked = mark(g);
  assert.deepEqual(
    [...marked].sort(),
    ["a", "b", "c"].map((key) => nodeKey({ type: "t", namespace: "ns", key })),
  );
});

Deno.test("collect removes only what is unreachable", () => {
  const g = graph(["a", "b", "c", "d"], ["a"], { a: ["b"], d: ["c"] });
  assert.deepEqual(collect(g).map((n) => n.key).sort(), ["c", "d"]);
  assert.deepEqual(g.removed.sort(), ["c", "d"]);
});

Deno.test("collect with nothing to remove does not call remove", () => {
  const g = graph(["a"], ["a"], {});
  assert.deepEqual(collect(g), []);
  assert.deepEqual(g.removed, []);
});

Deno.test("identity lets a flat node keep a resource without its references", () => {
  const removed: string[] = [];
  const flat = (key: string): GcNode => ({
    type: "flat",
    namespace: "ns",
    key,
  });
  const full = (key: string): GcNode => ({
    type: "full",
    namespace: "ns",
    key,
  });
  const g: GcGraph = {
    roots: () => [flat("a")],
    references: (n) => n.type === "full" && n.key === "a" ? [full("b")] : [],
    all: () => [full("a"), full("b")],
    remove: (gone) => removed.push(...gone.map((n) => n.key)),
    identity: (n) => n.key,
  };
  collect(g);
  assert.deepEqual(removed, ["b"]);
});
