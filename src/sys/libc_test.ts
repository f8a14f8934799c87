import assert from "node:assert/strict";
import {
  cString,
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
