/**
 * The client library (`src/client/`) drives berth and a real containerd
 * 1.6 with the same code: pull from a local registry, unpack, create a
 * container, run its task with stdio, exec, metrics, pids, wait, delete —
 * over connect-node's transport and over the library's `h2Transport`. All
 * must give the same results.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  Client,
  h2Transport,
  type Process,
  type SpecProcess,
  unixTransport,
  withProcessArgs,
} from "../src/client/mod.ts";
import { startContainerd, startDaemon } from "./_harness.ts";
import { buildImage } from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";

/** Text written to a stream, and a way to wait for some of it. */
function textSink() {
  let text = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      text += new TextDecoder().decode(chunk);
      for (const w of waiters.splice(0)) {
        if (w.pattern.test(text)) w.resolve();
        else waiters.push(w);
      }
    },
  });
  return {
    writable,
    get text() {
      return text;
    },
    /** Resolves once `pattern` has been written (an event, not a poll). */
    seen(pattern: RegExp): Promise<void> {
      if (pattern.test(text)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}

/** Runs `process` to its end; returns its exit code. */
async function runToEnd(process: Process): Promise<number> {
  const exited = process.wait();
  await process.start();
  const { code } = await exited;
  await process.delete();
  return code;
}

/** The scenario, through `client`. */
async function scenario(client: Client, ref: string, fifoDir: string) {
  const image = await client.pull(ref, { unpack: true });
  const container = await client.newContainer("c1", {
    image,
    spec: [
      withProcessArgs(
        "sh",
        "-c",
        "echo started; read line; echo got $line; echo oops >&2; exit 3",
      ),
    ],
  });
  const stdout = textSink();
  const stderr = textSink();
  const stdin = new TransformStream<Uint8Array, Uint8Array>();
  const task = await container.newTask({
    stdio: {
      stdin: stdin.readable,
      stdout: stdout.writable,
      stderr: stderr.writable,
    },
    fifoDir,
  });
  try {
    const exited = task.wait();
    await task.start();
    await stdout.seen(/started\n/);

    const pids = await task.pids();
    const metrics = await task.metrics();

    const execOut = textSink();
    const process: SpecProcess = {
      ...container.spec().process!,
      args: [
        "sh",
        "-c",
        "echo exec $(cat /etc/hostname 2>/dev/null | wc -c); exit 5",
      ],
    };
    const exec = await task.exec("e1", {
      process,
      stdio: { stdout: execOut.writable, stderr: execOut.writable },
      fifoDir,
    });
    const execCode = await runToEnd(exec);

    const writer = stdin.writable.getWriter();
    await writer.write(new TextEncoder().encode("hello\n"));
    await writer.close();
    const { code } = await exited;
    await task.delete();
    return {
      image: image.name,
      unpacked: await image.isUnpacked(),
      stdout: stdout.text,
      stderr: stderr.text,
      execOut: execOut.text,
      execCode,
      code,
      initPidListed: pids.includes(task.pid),
      metrics: metrics.map((m) => m.id),
      metricsTyped: metrics.every((m) => (m.data?.value.length ?? 0) > 0),
    };
  } finally {
    await task.kill(9).catch(() => {});
    await task.delete().catch(() => {});
    await container.delete();
  }
}

Deno.test("the client library runs the same workflow on berth and containerd, over both its transports", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  const ref = `${registry.host}/busybox:latest`;
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const results = [];
  for (const side of containerd ? [berth, containerd] : [berth]) {
    const fifoDir = join(side.dir, "fifo");
    for (const transport of [unixTransport, h2Transport]) {
      const client = new Client({
        transport: transport(side.address),
        namespace: side.namespace,
      });
      results.push(await scenario(client, ref, fifoDir));
    }
  }
  assert.deepEqual(results[0], {
    image: ref,
    unpacked: true,
    stdout: "started\ngot hello\n",
    stderr: "oops\n",
    execOut: "exec 0\n",
    execCode: 5,
    code: 3,
    initPidListed: true,
    metrics: ["c1"],
    metricsTyped: true,
  });
  assert.ok(containerd, "containerd is installed (tests depend on it)");
  assert.equal(results.length, 4);
  for (const result of results.slice(1)) assert.deepEqual(result, results[0]);
});
