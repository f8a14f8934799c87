/**
 * The daemon's socket under clients that misbehave or crowd it: oversized
 * requests and responses, connection floods, GOAWAY after concurrent
 * calls, calls cancelled midway.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";
import * as net from "node:net";
import { setImmediate } from "node:timers";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  berthCtrArgs,
  collect,
  ctrArgs,
  randomFile,
  run,
  startDaemon,
} from "./_harness.ts";
import { pushLyingIndex } from "./fixtures/lying_index.ts";
import { startRegistry } from "./fixtures/registry.ts";
import {
  ReadContentRequestSchema,
  WriteAction,
  WriteContentRequestSchema,
} from "../src/gen/containerd/services/content/v1/content_pb.ts";
import {
  callResult,
  connectH2,
  grpcFrame,
  openCall,
  unaryCall,
} from "./_h2.ts";

const VERSION = "/containerd.services.version.v1.Version/Version";
const RESOURCE_EXHAUSTED = 8;

Deno.test("a client that sends GOAWAY after concurrent calls leaves the daemon serving", async () => {
  await using daemon = await startDaemon();
  for (let round = 0; round < 3; round++) {
    const session = await connectH2(daemon.address);
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next++ < 300) {
        const result = await unaryCall(
          session,
          VERSION,
          grpcFrame(new Uint8Array()),
        );
        assert.equal(result.status, 0, result.message);
      }
    }));
    // close() sends GOAWAY, then ends the connection.
    await new Promise<void>((resolve) => session.close(resolve));
    const version = await daemon.ctr(["version"]);
    assert.equal(version.code, 0, `round ${round}: ${version.stderr}`);
  }
});

Deno.test("a request over max_recv_message_size is refused with ResourceExhausted before it is read", async () => {
  await using daemon = await startDaemon();
  const session = await connectH2(daemon.address);
  try {
    // 512 MiB announced, sent as the daemon takes it: it must answer after
    // the prefix and take no more than flow control lets through.
    const announced = 512 << 20;
    const stream = openCall(session, VERSION);
    const result = callResult(stream);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(announced, 1);
    stream.write(head);
    let sent = 0;
    let answered = false;
    stream.once("response", () => answered = true);
    const chunk = Buffer.alloc(1 << 20);
    while (!answered && !stream.destroyed && sent < announced) {
      sent += chunk.length;
      if (!stream.write(chunk)) {
        await new Promise((resolve) => {
          stream.once("drain", resolve);
          stream.once("response", resolve);
          stream.once("close", resolve);
        });
      }
    }
    // As a Go client does once it has the status: stop the stream.
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const { status, message } = await result;
    assert.equal(status, RESOURCE_EXHAUSTED, message);
    assert.match(message, /larger than max \(536870912 vs\. 16777216\)/);
    assert.ok(sent < 64 << 20, `the client could send ${sent} bytes`);
    // The connection serves on.
    const ok = await unaryCall(session, VERSION, grpcFrame(new Uint8Array()));
    assert.equal(ok.status, 0);
  } finally {
    session.destroy();
  }
});

Deno.test("max_recv_message_size and max_send_message_size are obeyed over gRPC and Connect", async () => {
  await using daemon = await startDaemon({
    config:
      "[grpc]\nmax_recv_message_size = 4096\nmax_send_message_size = 200\n",
  });
  // ctr's request is small, but the plugin list it asks for is not.
  const plugins = await daemon.ctr(["plugins", "ls"]);
  assert.notEqual(plugins.code, 0);
  assert.match(
    plugins.stderr,
    /ResourceExhausted|trying to send message larger than max/,
  );
  const version = await daemon.ctr(["version"]);
  assert.equal(version.code, 0, version.stderr);

  const session = await connectH2(daemon.address);
  try {
    const big = await unaryCall(
      session,
      "/containerd.services.containers.v1.Containers/Get",
      grpcFrame(new Uint8Array(5000)),
      { "containerd-namespace": daemon.namespace },
    );
    assert.equal(big.status, RESOURCE_EXHAUSTED, big.message);
    assert.match(
      big.message,
      /received message larger than max \(5000 vs\. 4096\)/,
    );
  } finally {
    session.destroy();
  }

  const body = `{"id":"${"x".repeat(5000)}"}`;
  const curl = await run("curl", [
    "-sS",
    "--unix-socket",
    daemon.address,
    "-H",
    "content-type: application/json",
    "-H",
    `containerd-namespace: ${daemon.namespace}`,
    "--data-binary",
    body,
    "http://localhost/containerd.services.containers.v1.Containers/Get",
  ]);
  assert.equal(JSON.parse(curl.stdout).code, "resource_exhausted", curl.stdout);
  const listed = await run("curl", [
    "-sS",
    "--unix-socket",
    daemon.address,
    "-H",
    "content-type: application/json",
    "-d",
    "{}",
    "http://localhost/containerd.services.introspection.v1.Introspection/Plugins",
  ]);
  assert.equal(
    JSON.parse(listed.stdout).code,
    "resource_exhausted",
    listed.stdout,
  );
});

Deno.test("1000 connections opened at once are all accepted", async () => {
  await using daemon = await startDaemon();
  // Three bursts: one may be accepted quickly enough by luck.
  for (let burst = 0; burst < 3; burst++) await connectionBurst(daemon.address);
  const version = await daemon.ctr(["version"]);
  assert.equal(version.code, 0, version.stderr);
});

/** Opens 1000 connections at once; fails unless all are accepted. */
async function connectionBurst(address: string) {
  const sockets: net.Socket[] = [];
  const outcomes = await Promise.all(
    Array.from({ length: 1000 }, () =>
      new Promise<string>((resolve) => {
        const socket = net.connect(address);
        sockets.push(socket);
        socket.once("connect", () => resolve("ok"));
        socket.once("error", (err) =>
          resolve((err as { code?: string }).code ?? String(err)));
      })),
  );
  for (const socket of sockets) socket.destroy();
  const refused = outcomes.filter((o) => o !== "ok");
  assert.deepEqual(refused, [], `${refused.length} of 1000 refused`);
}

Deno.test("calls the client cancels are not logged as errors, and no stack trace is logged", async () => {
  await using daemon = await startDaemon({
    logLevel: "info",
    captureLog: true,
  });
  const blob = await Deno.makeTempFile({ dir: daemon.dir });
  const data = crypto.getRandomValues(new Uint8Array(1 << 16));
  await Deno.writeFile(
    blob,
    new Uint8Array(8 << 20).map((_, i) => data[i & 0xffff]),
  );
  const digest = `sha256:${
    Buffer.from(
      await crypto.subtle.digest("SHA-256", await Deno.readFile(blob)),
    )
      .toString("hex")
  }`;
  const ingest = await daemon.ctr([
    "content",
    "ingest",
    "--expected-size",
    String(8 << 20),
    "--expected-digest",
    digest,
    "blob",
  ], {
    stdin: { file: blob },
  });
  assert.equal(ingest.code, 0, ingest.stderr);

  const session = await connectH2(daemon.address);
  const ns = { "containerd-namespace": daemon.namespace };
  try {
    // A read dropped after its first chunk, three times.
    for (let i = 0; i < 3; i++) {
      const read = openCall(
        session,
        "/containerd.services.content.v1.Content/Read",
        ns,
      );
      const result = callResult(read);
      read.end(grpcFrame(toBinary(
        ReadContentRequestSchema,
        create(ReadContentRequestSchema, { digest }),
      )));
      await new Promise((resolve) => read.once("data", resolve));
      read.close(http2.constants.NGHTTP2_CANCEL);
      await result;
    }
    // A subscription dropped once it has carried an event.
    const subscribe = openCall(
      session,
      "/containerd.services.events.v1.Events/Subscribe",
    );
    subscribe.end(grpcFrame(new Uint8Array()));
    const first = new Promise((resolve) => subscribe.once("data", resolve));
    assert.equal((await daemon.ctr(["namespaces", "create", "ev"])).code, 0);
    await first;
    subscribe.close(http2.constants.NGHTTP2_CANCEL);
    // A write dropped midway.
    const write = openCall(
      session,
      "/containerd.services.content.v1.Content/Write",
      ns,
    );
    const written = callResult(write);
    write.write(grpcFrame(toBinary(
      WriteContentRequestSchema,
      create(WriteContentRequestSchema, {
        action: WriteAction.WRITE,
        ref: "dropped",
        total: 1000n,
        data: new Uint8Array(10),
      }),
    )));
    await new Promise((resolve) => write.once("data", resolve));
    write.close(http2.constants.NGHTTP2_CANCEL);
    await written;
    const ok = await unaryCall(session, VERSION, grpcFrame(new Uint8Array()));
    assert.equal(ok.status, 0);
  } finally {
    session.destroy();
  }
  assert.equal(await daemon.stop(), 0);
  const log = daemon.log!.text;
  assert.doesNotMatch(log, /level=error/);
  assert.doesNotMatch(log, /^\s+at /m);
  assert.doesNotMatch(log, /ECANCELED|ERR_HTTP2/);
});

Deno.test("a client may reset thousands of open calls without losing its connection", async () => {
  await using daemon = await startDaemon();
  const session = await connectH2(daemon.address);
  let goaway: number | undefined;
  session.on("goaway", (code) => goaway = code);
  try {
    // A subscription is open until the client resets it.
    for (let i = 0; i < 3000 && goaway === undefined; i++) {
      const stream = openCall(
        session,
        "/containerd.services.events.v1.Events/Subscribe",
      );
      stream.on("error", () => {});
      stream.end(grpcFrame(new Uint8Array()));
      const closed = new Promise((resolve) => stream.once("close", resolve));
      await new Promise((resolve) => setImmediate(resolve));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await closed;
    }
    assert.equal(goaway, undefined, `GOAWAY ${goaway}`);
    const ok = await unaryCall(session, VERSION, grpcFrame(new Uint8Array()));
    assert.equal(ok.status, 0, ok.message);
  } finally {
    session.destroy();
  }
});

/** The daemon's resident memory in MiB. */
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

Deno.test("ctr pulls an index listing one manifest 3000 times, without errors or a runaway daemon", async () => {
  await using registry = await startRegistry();
  const lying = await pushLyingIndex(registry, 3000);

  await using daemon = await startDaemon({
    logLevel: "info",
    captureLog: true,
  });
  const before = rssMiB(daemon.process.pid);
  const pull = await daemon.ctr([
    "images",
    "pull",
    "--plain-http",
    lying,
  ]);
  const after = rssMiB(daemon.process.pid);
  assert.equal(pull.code, 0, pull.stderr);
  // containerd grows by ~140 MiB here; berth grew by 770-1050 MiB before
  // calls were served on the HTTP/2 streams directly (~200-300 MiB since).
  assert.ok(after - before < 600, `RSS ${before} -> ${after} MiB`);
  assert.equal(await daemon.stop(), 0);
  assert.doesNotMatch(daemon.log!.text, /level=error|ERR_HTTP2/);
});

/** Runs `cmd` with stdin, stdout and stderr piped. */
function spawnPiped(cmd: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("a daemon stopping lets the ingests in flight of ctr and berth ctr commit, then ends", async () => {
  const daemon = await startDaemon({ logLevel: "info", captureLog: true });
  await using _cleanup = {
    [Symbol.asyncDispose]: () => daemon[Symbol.asyncDispose](),
  };
  const ingests = await Promise.all(
    // Sizes differ: randomFile names its file by size.
    ([["ctr-ref", 4 << 20], ["berth-ref", 5 << 20]] as const).map(
      async ([ref, size]) => {
        const file = await randomFile(daemon.dir, size);
        const args = [
          "content",
          "ingest",
          "--expected-size",
          String(size),
          "--expected-digest",
          file.digest,
          ref,
        ];
        const child = ref === "ctr-ref"
          ? spawnPiped("ctr", ctrArgs(daemon, args))
          : spawnPiped(Deno.execPath(), berthCtrArgs(daemon, args));
        const data = await Deno.readFile(file.path);
        const writer = child.stdin.getWriter();
        await writer.write(data.subarray(0, size / 2));
        return { ref, child, writer, rest: data.subarray(size / 2) };
      },
    ),
  );
  // Both calls are open once both refs are active.
  let active = "";
  for (
    let i = 0;
    i < 200 && !/ctr-ref[^]*berth-ref|berth-ref[^]*ctr-ref/.test(active);
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    active = (await daemon.ctr(["content", "active"])).stdout;
  }
  assert.match(active, /berth-ref/);
  assert.match(active, /ctr-ref/);
  const stopped = daemon.stop();
  // The listener is closed (refusing connections) before the calls end.
  for (;;) {
    try {
      (await Deno.connect({ transport: "unix", path: daemon.address }))
        .close();
    } catch {
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const { writer, rest } of ingests) {
    await writer.write(rest);
    await writer.close();
  }
  for (const { ref, child } of ingests) {
    const [stderr, , { code }] = await Promise.all([
      new Response(child.stderr).text(),
      new Response(child.stdout).text(),
      child.status,
    ]);
    assert.equal(code, 0, `${ref}: ${stderr}`);
  }
  assert.equal(await stopped, 0);
  assert.doesNotMatch(daemon.log!.text, /level=error/);
});

Deno.test("a daemon stopping ends the event subscriptions of ctr and berth ctr at once with Unavailable", async () => {
  const daemon = await startDaemon();
  await using _cleanup = {
    [Symbol.asyncDispose]: () => daemon[Symbol.asyncDispose](),
  };
  const subscribers = [
    spawnPiped("ctr", ctrArgs(daemon, ["events"])),
    spawnPiped(Deno.execPath(), berthCtrArgs(daemon, ["events"])),
  ];
  const outputs = subscribers.map((child) => {
    child.stdin.close();
    return { out: collect(child.stdout), err: collect(child.stderr) };
  });
  // Both are subscribed once both print an event published after them.
  for (
    let i = 0;
    !outputs.every(({ out }) => /\/namespaces\//.test(out.text));
    i++
  ) {
    assert.ok(i < 200, outputs.map(({ err }) => err.text).join("\n"));
    await daemon.ctr(["namespaces", "create", `subscribed-${i}`]);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(await daemon.stop(), 0);
  for (const [i, child] of subscribers.entries()) {
    assert.equal((await child.status).code, 1);
    assert.match(
      outputs[i].err.text,
      /the daemon is shutting down: unavailable/,
    );
  }
});
