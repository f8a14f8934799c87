import assert from "node:assert/strict";
import {
  cString,
  cStringArray,
  Errno,
  errno,
  libc,
  libcSymbols,
  SyscallError,
} from "./libc.ts";

Deno.test("libcSymbols opens libc once per table, on first use", () => {
  const load = libcSymbols(
    {
      getpid: { parameters: [], result: "i32" },
    } as const,
  );
  const symbols = load();
  assert.equal(load(), symbols);
  assert.equal(symbols.getpid(), Deno.pid);
});

Deno.test("errno and SyscallError describe a failed call", () => {
  assert.equal(libc().open(cString("/nonexistent/berth"), 0, 0), -1);
  const error = new SyscallError("open", errno());
  assert.equal(error.errno, Errno.ENOENT);
  assert.match(error.message, /^open: No such file or directory$/);
});

Deno.test("cStringArray points at each string, then NULL", () => {
  const items = ["runc", "", "--root", "/run/bérth", "x=1"];
  const { array } = cStringArray(items);
  assert.equal(array.length, items.length + 1);
  assert.equal(array[items.length], 0n);
  const read = [...array.subarray(0, items.length)].map((address) =>
    Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(address)!)
  );
  assert.deepEqual(read, items);
  assert.deepEqual([...cStringArray([]).array], [0n]);
});
