import assert from "node:assert/strict";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as http2 from "node:http2";
import { join } from "node:path";
import { Containers } from "../gen/containerd/services/containers/v1/containers_pb.ts";
import { Content } from "../gen/containerd/services/content/v1/content_pb.ts";
import { Events } from "../gen/containerd/services/events/v1/events_pb.ts";
import { Namespaces } from "../gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { Version } from "../gen/containerd/services/version/v1/version_pb.ts";
import { CoreClient } from "./core.ts";
import { NotFoundError } from "./errors.ts";
import { h2Transport } from "./h2_transport.ts";

const CHUNK = 100_000;

/** What the fake services saw. */
interface Seen {
  /** Signals of the Subscribe calls, to see the client's cancel arrive. */
  subscriptions: AbortSignal[];
}

function routes(seen: Seen) {
  return (router: ConnectRouter) => {
    router.service(Version, {
      // The revision echoes the namespace header, to see headers travel.
      version: (_req, ctx) => {
        ctx.responseHeader.set("x-header", "h");
        ctx.responseTrailer.set("x-trailer", "t");
        return {
          version: "v1",
          revision: ctx.requestHeader.get("containerd-namespace") ?? "",
        };
      },
    });
    router.service(Containers, {
      get: (req) => {
        throw new ConnectError(
          `container "${req.id}" in namespace "ns": not found`,
          Code.NotFound,
        );
      },
    });
    router.service(Content, {
      // `size` chunks of CHUNK bytes, each filled with its index.
      async *read(req) {
        for (let i = 0; i < Number(req.size); i++) {
          yield {
            offset: BigInt(i * CHUNK),
            data: new Uint8Array(CHUNK).fill(i),
          };
        }
      },
      // Answers each request with the bytes written so far.
      async *write(requests) {
        let offset = 0n;
        for await (const req of requests) {
          offset += BigInt(req.data.length);
          yield { digest: req.ref, offset };
        }
      },
    });
    router.service(Events, {
      // One event per filter, then waits until the client goes.
      async *subscribe(req, ctx) {
        seen.subscriptions.push(ctx.signal);
        for (const topic of req.filters) yield { topic };
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve)
        );
      },
    });
  };
}

/** A connect-node gRPC server of the fakes on a UNIX socket. */
async function serve(seen: Seen) {
  const dir = await Deno.makeTempDir({ prefix: "berth-h2-transport-" });
  const address = join(dir, "s.sock");
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(
    connectNodeAdapter({ routes: routes(seen) }),
  );
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(address, resolve));
  return {
    address,
    async [Symbol.asyncDispose]() {
      for (const session of sessions) session.close();
      await new Promise((resolve) => server.close(resolve));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const one of stream) out.push(one);
  return out;
}

Deno.test("h2Transport: unary calls carry headers and return the message, response headers and trailers", async () => {
  await using server = await serve({ subscriptions: [] });
  const version = createClient(Version, h2Transport(server.address));
  const answers = await Promise.all(
    ["a", "b", "c"].map((ns) =>
      version.version({}, { headers: { "containerd-namespace": ns } })
    ),
  );
  assert.deepEqual(answers.map((a) => [a.version, a.revision]), [
    ["v1", "a"],
    ["v1", "b"],
    ["v1", "c"],
  ]);
  const seen: (string | null)[] = [];
  await version.version({}, {
    onHeader: (header) => seen.push(header.get("x-header")),
    onTrailer: (trailer) => seen.push(trailer.get("x-trailer")),
  });
  assert.deepEqual(seen, ["h", "t"]);
});

Deno.test("h2Transport: a failed call is a ConnectError with the server's code and message", async () => {
  await using server = await serve({ subscriptions: [] });
  const containers = createClient(Containers, h2Transport(server.address));
  await assert.rejects(containers.get({ id: "nope" }), (err) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.NotFound);
    assert.equal(
      err.rawMessage,
      'container "nope" in namespace "ns": not found',
    );
    return true;
  });
  // Through the library's client: its typed error.
  const client = new CoreClient({ transport: h2Transport(server.address) });
  await assert.rejects(client.loadContainer("nope"), NotFoundError);
});

Deno.test("h2Transport: server streams arrive whole and in order, an empty one ends", async () => {
  await using server = await serve({ subscriptions: [] });
  const content = createClient(Content, h2Transport(server.address));
  const chunks = await collect(content.read({ digest: "x", size: 20n }));
  assert.equal(chunks.length, 20);
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.offset, BigInt(i * CHUNK));
    assert.equal(chunk.data.length, CHUNK);
    assert.ok(chunk.data.every((byte) => byte === i));
  });
  assert.deepEqual(await collect(content.read({ digest: "x", size: 0n })), []);
});

Deno.test("h2Transport: a bidirectional stream answers each request", async () => {
  await using server = await serve({ subscriptions: [] });
  const content = createClient(Content, h2Transport(server.address));
  async function* requests() {
    for (let i = 1; i <= 5; i++) {
      yield { ref: "r", data: new Uint8Array(i * 1000) };
    }
  }
  const answers = await collect(content.write(requests()));
  assert.deepEqual(
    answers.map((a) => [a.digest, a.offset]),
    [1000n, 3000n, 6000n, 10000n, 15000n].map((o) => ["r", o]),
  );
});

Deno.test("h2Transport: an abort cancels the call on both ends", async () => {
  const seen: Seen = { subscriptions: [] };
  await using server = await serve(seen);
  const events = createClient(Events, h2Transport(server.address));
  const abort = new AbortController();
  const topics: string[] = [];
  await assert.rejects(
    (async () => {
      const stream = events.subscribe({ filters: ["/one"] }, {
        signal: abort.signal,
      });
      for await (const envelope of stream) {
        topics.push(envelope.topic);
        abort.abort();
      }
    })(),
    (err) => err instanceof ConnectError && err.code === Code.Canceled,
  );
  assert.deepEqual(topics, ["/one"]);
  const [signal] = seen.subscriptions;
  if (!signal.aborted) {
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
  }
});

Deno.test("h2Transport: a call past its deadline fails with DeadlineExceeded", async () => {
  await using server = await serve({ subscriptions: [] });
  const events = createClient(Events, h2Transport(server.address));
  await assert.rejects(
    collect(events.subscribe({ filters: [] }, { timeoutMs: 50 })),
    (err) => err instanceof ConnectError && err.code === Code.DeadlineExceeded,
  );
});

Deno.test("h2Transport: an unserved method is Unimplemented; an aborted signal sends nothing", async () => {
  await using server = await serve({ subscriptions: [] });
  const namespaces = createClient(Namespaces, h2Transport(server.address));
  await assert.rejects(
    namespaces.list({}),
    (err) => err instanceof ConnectError && err.code === Code.Unimplemented,
  );
  const version = createClient(Version, h2Transport(server.address));
  await assert.rejects(
    version.version({}, { signal: AbortSignal.abort() }),
    (err) => err instanceof ConnectError && err.code === Code.Canceled,
  );
});

Deno.test("h2Transport: no daemon on the socket is Unavailable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const version = createClient(Version, h2Transport(join(dir, "none.sock")));
    await assert.rejects(
      version.version({}),
      (err) => err instanceof ConnectError && err.code === Code.Unavailable,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("h2Transport: an idle connection does not keep the process alive", async () => {
  await using server = await serve({ subscriptions: [] });
  const program = [
    `import { createClient } from "@connectrpc/connect";`,
    `import { Version } from "${new URL(
      "../gen/containerd/services/version/v1/version_pb.ts",
      import.meta.url,
    )}";`,
    `import { h2Transport } from "${new URL(
      "./h2_transport.ts",
      import.meta.url,
    )}";`,
    `const version = createClient(Version, h2Transport(${
      JSON.stringify(server.address)
    }));`,
    `console.log((await version.version({})).version);`,
  ].join("\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", program],
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    // Only so that a child kept alive fails the test instead of hanging it.
    signal: AbortSignal.timeout(60_000),
  });
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout), "v1\n");
});
