import assert from "node:assert/strict";
import { mallocTrim } from "./malloc.ts";

const libc = Deno.dlopen("libc.so.6", {
  malloc: { parameters: ["usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
  memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
});

function rssAnonMB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(/^RssAnon:\s+(\d+) kB/m)![1]) / 1024;
}

Deno.test("mallocTrim gives memory freed inside an arena back to the kernel", () => {
  // 64 MB in 64 KB chunks (under the mmap threshold: they come from the
  // arena), touched, then all freed but the last, which keeps the arena
  // from shrinking by itself: the freed pages stay resident until trimmed.
  const CHUNK = 64 << 10;
  const chunks: Deno.PointerValue[] = [];
  for (let i = 0; i < 1024; i++) {
    const p = libc.symbols.malloc(BigInt(CHUNK));
    assert.ok(p);
    libc.symbols.memset(p, 1, BigInt(CHUNK));
    chunks.push(p);
  }
  const last = chunks.pop();
  try {
    for (const p of chunks) libc.symbols.free(p);
    const before = rssAnonMB();
    assert.equal(mallocTrim(), true);
    const after = rssAnonMB();
    assert.ok(
      before - after >= 32,
      `RssAnon ${before.toFixed(1)} MB before the trim, ${
        after.toFixed(1)
      } MB after`,
    );
  } finally {
    libc.symbols.free(last!);
  }
});
