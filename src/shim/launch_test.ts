import assert from "node:assert/strict";
import { join } from "node:path";
import { countingTimers } from "../sys/_testing.ts";
import { BerthError } from "../types/errors.ts";
import { launchServe, READY } from "./launch.ts";

/**
 * A stand-in for `berth shim … serve`: after `delay` seconds it listens on
 * `socket`, says so, then serves one connection and ends.
 */
function fakeServe(socket: string, delay: number): string[] {
  return [
    "-c",
    "import socket,sys,time\n" +
    "time.sleep(float(sys.argv[2]))\n" +
    "s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(1)\n" +
    "sys.stdout.write(sys.argv[3])\nsys.stdout.flush()\n" +
    "s.accept()[0].close()",
    socket,
    String(delay),
    READY,
  ];
}

Deno.test("launchServe returns when the shim says it listens, trying no connection on a timer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const socket = join(dir, "shim.sock");
    const armed = await countingTimers(() =>
      launchServe({
        command: "python3",
        args: fakeServe(socket, 0.2),
        cwd: dir,
        socket,
      })
    );
    // It listens now: the first connection is accepted.
    (await Deno.connect({ transport: "unix", path: socket })).close();
    assert.ok(armed <= 1, `${armed} timers: its deadline only`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchServe fails for a shim that exits before listening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      launchServe({
        command: "sh",
        args: ["-c", "exit 3"],
        cwd: dir,
        socket: join(dir, "none.sock"),
      }),
      (err: unknown) =>
        err instanceof BerthError &&
        /exited before listening/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
