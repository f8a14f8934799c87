import assert from "node:assert/strict";
import { join } from "node:path";
import { BerthError, Code, DOCKER, OCI } from "../types/mod.ts";
import { FakeRegistry, type FakeRegistryOptions } from "./_testing.ts";
import { RegistryClient, type RegistryClientOptions } from "./client.ts";

const encoder = new TextEncoder();

function manifestBytes(mediaType: string, extra = ""): Uint8Array {
  return encoder.encode(
    JSON.stringify({ schemaVersion: 2, mediaType, layers: [], extra }),
  );
}

async function withRegistry(
  options: FakeRegistryOptions,
  fn: (registry: FakeRegistry) => Promise<void>,
): Promise<void> {
  const registry = FakeRegistry.start(options);
  try {
    await fn(registry);
  } finally {
    await registry.close();
  }
}

function client(options: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient({ retryDelay: 1, ...options });
}

Deno.test("resolve by tag takes each manifest type from HEAD alone", async () => {
  await withRegistry({}, async (registry) => {
    using c = client();
    for (
      const mediaType of [
        OCI.INDEX,
        OCI.MANIFEST,
        DOCKER.MANIFEST_LIST,
        DOCKER.MANIFEST,
      ]
    ) {
      const tag = mediaType.split(".").slice(-2).join("-").replace(/\+/g, "_");
      const desc = registry.addManifest(
        "app/web",
        mediaType,
        manifestBytes(mediaType),
        tag,
      );
      registry.requests.length = 0;
      const resolved = await c.resolve(`${registry.host}/app/web:${tag}`);
      assert.deepEqual(resolved, {
        name: `${registry.host}/app/web:${tag}`,
        descriptor: desc,
      });
      assert.deepEqual(registry.requests.map((r) => [r.method, r.path]), [
        ["HEAD", `/v2/app/web/manifests/${tag}`],
      ]);
      const accept = registry.requests[0].headers.get("accept") ?? "";
      for (
        const type of [
          OCI.INDEX,
          OCI.MANIFEST,
          DOCKER.MANIFEST_LIST,
          DOCKER.MANIFEST,
        ]
      ) assert.ok(accept.includes(type), accept);
      assert.match(
        registry.requests[0].headers.get("user-agent") ?? "",
        /berth/,
      );
    }
  });
});

Deno.test("resolve computes the digest from the body when the header is missing", async () => {
  await withRegistry({ digestHeader: false }, async (registry) => {
    using c = client();
    const desc = registry.addManifest(
      "x",
      OCI.MANIFEST,
      manifestBytes(OCI.MANIFEST),
      "v1",
    );
    const resolved = await c.resolve(`${registry.host}/x:v1`);
    assert.deepEqual(resolved.descriptor, desc);
    assert.deepEqual(registry.requests.map((r) => r.method), ["HEAD", "GET"]);
  });
});

Deno.test("resolve sniffs the media type when the registry sends a generic one", async () => {
  await withRegistry({ digestHeader: false }, async (registry) => {
    using c = client();
    const bytes = encoder.encode(
      JSON.stringify({ schemaVersion: 2, manifests: [] }),
    );
    registry.addManifest("x", "application/json", bytes, "idx");
    const { descriptor } = await c.resolve(`${registry.host}/x:idx`);
    assert.equal(descriptor.mediaType, OCI.INDEX);
  });
});

Deno.test("resolve by digest checks what the registry serves", async () => {
  await withRegistry({}, async (registry) => {
    using c = client();
    const desc = registry.addManifest(
      "x",
      OCI.MANIFEST,
      manifestBytes(OCI.MANIFEST),
    );
    const resolved = await c.resolve(`${registry.host}/x@${desc.digest}`);
    assert.deepEqual(resolved.descriptor, desc);
    assert.equal(resolved.name, `${registry.host}/x@${desc.digest}`);

    // A registry that answers a digest with other content.
    const other = manifestBytes(OCI.MANIFEST, "evil");
    const wrong = "sha256:" + "0".repeat(64);
    registry.manifests.get("x")!.set(wrong, {
      mediaType: OCI.MANIFEST,
      bytes: other,
    });
    await assert.rejects(
      c.resolve(`${registry.host}/x@${wrong}`),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.FailedPrecondition));
        assert.match(
          err.message,
          /served digest sha256:[a-f0-9]{64}, expected sha256:0{64}/,
        );
        return true;
      },
    );
  });
});

Deno.test("resolve by digest falls back to /blobs/", async () => {
  await withRegistry({}, async (registry) => {
    using c = client();
    const desc = registry.addBlob("x", manifestBytes(OCI.MANIFEST));
    const resolved = await c.resolve(`${registry.host}/x@${desc.digest}`);
    assert.equal(resolved.descriptor.digest, desc.digest);
    assert.equal(resolved.descriptor.mediaType, OCI.MANIFEST);
    assert.deepEqual(
      registry.requests.map((r) =>
        `${r.method} ${r.path.replace(/sha256:\w+/, "D")}`
      ),
      ["HEAD /v2/x/manifests/D", "HEAD /v2/x/blobs/D", "GET /v2/x/blobs/D"],
    );
  });
});

Deno.test("resolve reports a missing reference as NotFound", async () => {
  await withRegistry({}, async (registry) => {
    using c = client();
    await assert.rejects(
      c.resolve(`${registry.host}/nothing:here`),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.NotFound));
        assert.match(err.message, /nothing:here/);
        return true;
      },
    );
  });
});

Deno.test("resolve refuses manifests over the size limit", async () => {
  await withRegistry({}, async (registry) => {
    using c = client({ maxManifestSize: 100 });
    const big = manifestBytes(OCI.MANIFEST, "x".repeat(200));
    registry.addManifest("x", OCI.MANIFEST, big, "big");
    await assert.rejects(
      c.resolve(`${registry.host}/x:big`),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.FailedPrecondition));
        assert.match(
          err.message,
          /rejecting \d+ byte manifest over the 100 byte limit/,
        );
        return true;
      },
    );
  });
  // Without Content-Length or digest: refused while reading, not after.
  await withRegistry({}, async (registry) => {
    using c = client({ maxManifestSize: 1000 });
    let served = 0;
    registry.intercept = (req) => {
      const chunk = new Uint8Array(64 * 1024).fill(32);
      if (req.method === "HEAD") {
        return new Response(null, {
          headers: { "content-type": OCI.MANIFEST },
        });
      }
      return new Response(
        new ReadableStream({
          pull(controller) {
            served += chunk.byteLength;
            if (served > 256 * 1024 * 1024) controller.close();
            else controller.enqueue(chunk);
          },
        }),
        { headers: { "content-type": OCI.MANIFEST } },
      );
    };
    await assert.rejects(
      c.resolve(`${registry.host}/x:endless`),
      /over the 1000 byte limit/,
    );
    assert.ok(served < 64 * 1024 * 1024, `served ${served}`);
  });
});

Deno.test("resolve retries transient failures and falls back to GET on 405", async () => {
  await withRegistry({}, async (registry) => {
    using c = client();
    const desc = registry.addManifest(
      "x",
      OCI.MANIFEST,
      manifestBytes(OCI.MANIFEST),
      "v",
    );
    let failures = 2;
    registry.intercept = (req) => {
      if (failures > 0) {
        failures--;
        return new Response("busy", { status: 503 });
      }
      if (req.method === "HEAD") return new Response(null, { status: 405 });
      return undefined;
    };
    const resolved = await c.resolve(`${registry.host}/x:v`);
    assert.deepEqual(resolved.descriptor, desc);
    assert.deepEqual(registry.requests.map((r) => r.method), [
      "HEAD",
      "HEAD",
      "HEAD",
      "GET",
    ]);

    registry.intercept = () => new Response("down", { status: 502 });
    await assert.rejects(c.resolve(`${registry.host}/x:v`), (err: unknown) => {
      assert.ok(BerthError.is(err, Code.Unavailable));
      assert.match(err.message, /502/);
      return true;
    });
  });
});

Deno.test("resolve with a Bearer token registry sends the token for the repository scope", async () => {
  await withRegistry(
    { auth: { kind: "bearer", expiresIn: 300 } },
    async (registry) => {
      using c = client();
      const desc = registry.addManifest(
        "team/app",
        OCI.INDEX,
        manifestBytes(OCI.INDEX),
        "1",
      );
      const resolved = await c.resolve(`${registry.host}/team/app:1`);
      assert.deepEqual(resolved.descriptor, desc);
      assert.equal(registry.tokenRequests.length, 1);
      const { params, authorization } = registry.tokenRequests[0];
      assert.equal(params.get("service"), "fake");
      assert.deepEqual(params.getAll("scope"), ["repository:team/app:pull"]);
      assert.equal(authorization, "");
      assert.deepEqual(
        registry.requests.map((r) => [r.path, r.headers.get("authorization")]),
        [
          ["/v2/team/app/manifests/1", null],
          [registry.requests[1].path, null],
          ["/v2/team/app/manifests/1", "Bearer tok1"],
        ],
      );
      // The token is reused.
      await c.resolve(`${registry.host}/team/app:1`);
      assert.equal(registry.tokenRequests.length, 1);
      assert.equal(
        registry.requests.at(-1)?.headers.get("authorization"),
        "Bearer tok1",
      );
    },
  );
});

Deno.test("resolve sends credentials to the token endpoint, and fails clearly when denied", async () => {
  await withRegistry(
    {
      auth: {
        kind: "bearer",
        username: "alice",
        password: "s3cret",
        deny: ["secret"],
      },
    },
    async (registry) => {
      registry.addManifest(
        "open",
        OCI.MANIFEST,
        manifestBytes(OCI.MANIFEST),
        "v",
      );
      registry.addManifest(
        "secret",
        OCI.MANIFEST,
        manifestBytes(OCI.MANIFEST),
        "v",
      );
      using anonymous = client();
      await assert.rejects(
        anonymous.resolve(`${registry.host}/open:v`),
        (err: unknown) => {
          assert.ok(BerthError.is(err, Code.Unauthenticated), String(err));
          assert.match(err.message, /failed to fetch anonymous token/);
          return true;
        },
      );
      using c = client({
        credentials: (host) =>
          host === registry.host
            ? { username: "alice", password: "s3cret" }
            : undefined,
      });
      await c.resolve(`${registry.host}/open:v`);
      assert.equal(
        registry.tokenRequests.at(-1)?.authorization,
        `Basic ${btoa("alice:s3cret")}`,
      );
      await assert.rejects(
        c.resolve(`${registry.host}/secret:v`),
        (err: unknown) => {
          assert.ok(BerthError.is(err, Code.Unauthenticated), String(err));
          assert.match(err.message, /pull access denied/);
          return true;
        },
      );
    },
  );
});

Deno.test("resolve with Basic auth", async () => {
  await withRegistry({
    auth: { kind: "basic", username: "bob", password: "pw" },
  }, async (registry) => {
    const desc = registry.addManifest(
      "x",
      DOCKER.MANIFEST,
      manifestBytes(DOCKER.MANIFEST),
      "v",
    );
    using c = client({
      credentials: () => ({ username: "bob", password: "pw" }),
    });
    assert.deepEqual(
      (await c.resolve(`${registry.host}/x:v`)).descriptor,
      desc,
    );
    assert.equal(
      registry.requests.at(-1)?.headers.get("authorization"),
      `Basic ${btoa("bob:pw")}`,
    );
    using wrong = client({
      credentials: () => ({ username: "bob", password: "nope" }),
    });
    await assert.rejects(
      wrong.resolve(`${registry.host}/x:v`),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.Unauthenticated));
        return true;
      },
    );
  });
});

Deno.test("resolve tries mirrors from hosts.toml first, with ?ns=", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-mirrors-" });
  const upstream = FakeRegistry.start();
  const mirror = FakeRegistry.start();
  try {
    const desc = upstream.addManifest(
      "lib/app",
      OCI.MANIFEST,
      manifestBytes(OCI.MANIFEST),
      "v1",
    );
    mirror.addManifest(
      "lib/app",
      OCI.MANIFEST,
      manifestBytes(OCI.MANIFEST),
      "v1",
    );
    // The registry's own name is a made-up host; its server is the upstream.
    await Deno.mkdir(join(root, "registry.test"));
    await Deno.writeTextFile(
      join(root, "registry.test", "hosts.toml"),
      `server = "http://${upstream.host}"\n\n[host."http://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    using c = client({ hostsDir: root });
    const resolved = await c.resolve("registry.test/lib/app:v1");
    assert.deepEqual(resolved.descriptor, desc);
    assert.equal(resolved.name, "registry.test/lib/app:v1");
    assert.deepEqual(mirror.requests.map((r) => r.path), [
      "/v2/lib/app/manifests/v1?ns=registry.test",
    ]);
    assert.equal(upstream.requests.length, 0);

    // Not on the mirror: the server answers.
    const only = upstream.addManifest(
      "lib/app",
      OCI.MANIFEST,
      manifestBytes(OCI.MANIFEST, "2"),
      "v2",
    );
    assert.deepEqual(
      (await c.resolve("registry.test/lib/app:v2")).descriptor,
      only,
    );
    assert.equal(upstream.requests.length, 1);

    // A mirror that cannot be reached is skipped.
    await mirror.close();
    using c2 = client({ hostsDir: root, retries: 0 });
    assert.deepEqual(
      (await c2.resolve("registry.test/lib/app:v1")).descriptor,
      desc,
    );
  } finally {
    await mirror.close().catch(() => {});
    await upstream.close();
    await Deno.remove(root, { recursive: true });
  }
});
