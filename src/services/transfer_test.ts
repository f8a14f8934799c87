import assert from "node:assert/strict";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { ImportRequestSchema } from "../gen/berth/services/transfer/v1/transfer_pb.ts";
import type { Image } from "../metadata/mod.ts";
import type {
  ExportImagesOptions,
  ImageTransfers,
  ImportImagesOptions,
  PullOptions,
  PushOptions,
  RegistryTransferOptions,
} from "../transfer/mod.ts";
import { notFound } from "../types/mod.ts";
import { Transfer, transferService } from "./transfer.ts";
import { routerClient } from "./_testing.ts";

const INDEX = {
  mediaType: "application/vnd.oci.image.index.v1+json",
  digest: `sha256:${"a".repeat(64)}`,
  size: 321,
};
const LAYER = {
  mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  digest: `sha256:${"c".repeat(64)}`,
  size: 4096,
};
const AT = new Date(Date.UTC(2024, 3, 5, 6, 7, 8));

function image(name: string): Image {
  return { name, labels: {}, target: INDEX, createdAt: AT, updatedAt: AT };
}

/** Transfers that keep what they were asked, and answer from the test. */
function fakeTransfers() {
  const pulls: RegistryTransferOptions<PullOptions>[] = [];
  const pushes: RegistryTransferOptions<PushOptions>[] = [];
  const imports: { archive: string; options: ImportImagesOptions }[] = [];
  const exports: ExportImagesOptions[] = [];
  const fake = {
    pulls,
    pushes,
    imports,
    exports,
    /** What a pull does; by default it reports a layer and names the image. */
    pull: (options: RegistryTransferOptions<PullOptions>) => {
      options.progress.set("layer", LAYER, "done", LAYER.size);
      return Promise.resolve({
        image: image(options.reference),
        snapshot: "sha256:chain",
      });
    },
    /** The images an import makes. */
    imported: [image("a:1"), image("b:2")],
    /** The chunks an export streams. */
    exported: [new Uint8Array([1, 2]), new Uint8Array([3])],
  };
  const transfers: ImageTransfers = {
    pull(options) {
      pulls.push(options);
      return fake.pull(options);
    },
    push(options) {
      pushes.push(options);
      return Promise.resolve(INDEX);
    },
    async importImages(archive, options) {
      const chunks: number[] = [];
      for await (const chunk of archive) chunks.push(...chunk);
      imports.push({ archive: chunks.join(","), options });
      return fake.imported;
    },
    exportImages(options) {
      exports.push(options);
      return Promise.resolve(ReadableStream.from(fake.exported));
    },
  };
  return { fake, transfers };
}

function setup(namespace?: string) {
  const { fake, transfers } = fakeTransfers();
  const client = routerClient(
    Transfer,
    transferService({
      transfers,
      hostsDir: "/etc/berth/certs.d",
      maxConcurrentDownloads: 3,
    }),
    { namespace },
  );
  return { fake, client };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of stream) all.push(item);
  return all;
}

async function* importRequests(
  ...requests: MessageInitShape<typeof ImportRequestSchema>[]
) {
  yield* requests;
}

Deno.test("Transfer.Pull maps the request to a pull and ends with the image, target, snapshot and blobs", async () => {
  const { fake, client } = setup("ns1");
  const messages = await collect(client.pull({
    reference: "127.0.0.1:5000/busybox:1",
    platforms: ["linux/amd64"],
    snapshotter: "overlayfs",
    maxConcurrentDownloads: 5,
    labels: { k: "v" },
    registry: {
      plainHttp: true,
      credentials: "user:pass:word",
      hostsDir: "/hosts",
    },
  }));
  const [pulled] = fake.pulls;
  const { registry, progress, signal, ...rest } = pulled;
  assert.ok(progress);
  assert.ok(signal instanceof AbortSignal);
  assert.deepEqual(rest, {
    reference: "127.0.0.1:5000/busybox:1",
    namespace: "ns1",
    platforms: { platforms: ["linux/amd64"], all: false },
    snapshotter: "overlayfs",
    labels: { k: "v" },
    concurrency: 5,
  });
  const { credentials, ...settings } = registry;
  assert.deepEqual(settings, {
    plainHttp: true,
    hostsDir: "/hosts",
    concurrency: 5,
  });
  assert.deepEqual(await credentials?.("127.0.0.1:5000"), {
    username: "user",
    password: "pass:word",
  });
  const last = messages.at(-1)!;
  assert.equal(last.image, "127.0.0.1:5000/busybox:1");
  assert.equal(last.target?.digest, INDEX.digest);
  assert.equal(last.target?.size, 321n);
  assert.equal(last.snapshot, "sha256:chain");
  assert.deepEqual(
    last.blobs.map((b) => [b.kind, b.descriptor?.digest, b.state, b.offset]),
    [["layer", LAYER.digest, "done", 4096n]],
  );
  assert.ok(messages.slice(0, -1).every((m) => m.image === ""));
});

Deno.test("Transfer.Pull without registry options uses the daemon's defaults", async () => {
  const { fake, client } = setup("ns1");
  await collect(client.pull({ reference: "r:1", allPlatforms: true }));
  const [pulled] = fake.pulls;
  assert.deepEqual(pulled.registry, {
    plainHttp: undefined,
    hostsDir: "/etc/berth/certs.d",
    concurrency: 3,
    credentials: undefined,
  });
  assert.equal(pulled.concurrency, 3);
  assert.equal(pulled.snapshotter, undefined);
  assert.deepEqual(pulled.platforms, { platforms: [], all: true });
});

Deno.test("Transfer.Pull refuses bad input before pulling: no namespace, credentials without a colon", async () => {
  const { fake, client } = setup();
  await assert.rejects(collect(client.pull({ reference: "r:1" })), {
    code: Code.FailedPrecondition,
    rawMessage: "namespace is required: failed precondition",
  });
  const named = setup("ns1");
  await assert.rejects(
    collect(named.client.pull({
      reference: "r:1",
      registry: { credentials: "user" },
    })),
    {
      code: Code.InvalidArgument,
      rawMessage: "credentials must be user:password: invalid argument",
    },
  );
  assert.deepEqual([...fake.pulls, ...named.fake.pulls], []);
});

Deno.test("Transfer.Pull ends its stream with the pull's error and code", async () => {
  const { fake, client } = setup("ns1");
  fake.pull = () =>
    Promise.reject(notFound("127.0.0.1:5000/missing:1: failed to resolve"));
  await assert.rejects(collect(client.pull({ reference: "x" })), {
    code: Code.NotFound,
    rawMessage: "127.0.0.1:5000/missing:1: failed to resolve: not found",
  });
});

Deno.test("Transfer.Push maps the request and names the pushed reference, or the image", async () => {
  const { fake, client } = setup("ns1");
  const tagged = await collect(client.push({
    image: "local:1",
    reference: "127.0.0.1:5000/remote:1",
    platforms: ["linux/arm64"],
    registry: { plainHttp: true },
  }));
  const { registry, progress, signal, ...rest } = fake.pushes[0];
  assert.ok(progress && signal);
  assert.deepEqual(rest, {
    image: "local:1",
    reference: "127.0.0.1:5000/remote:1",
    namespace: "ns1",
    platforms: { platforms: ["linux/arm64"], all: false },
  });
  assert.deepEqual(registry, {
    plainHttp: true,
    hostsDir: "/etc/berth/certs.d",
    concurrency: 3,
    credentials: undefined,
  });
  assert.equal(tagged.at(-1)?.image, "127.0.0.1:5000/remote:1");
  assert.equal(tagged.at(-1)?.target?.digest, INDEX.digest);
  const own = await collect(client.push({ image: "local:1" }));
  assert.equal(own.at(-1)?.image, "local:1");
});

Deno.test("Transfer.Import reads the options from the first message and the archive from all", async () => {
  const { fake, client } = setup("ns1");
  const messages = await collect(client.import(importRequests(
    {
      options: {
        baseName: "base",
        digests: true,
        indexName: "idx",
        platforms: ["linux/amd64"],
        snapshotter: "native",
        labels: { k: "v" },
      },
      data: new Uint8Array([1]),
    },
    { data: new Uint8Array() },
    { data: new Uint8Array([2, 3]) },
  )));
  const [{ archive, options }] = fake.imports;
  assert.equal(archive, "1,2,3");
  const { signal, ...rest } = options;
  assert.ok(signal);
  assert.deepEqual(rest, {
    namespace: "ns1",
    baseName: "base",
    digests: true,
    indexName: "idx",
    platforms: { platforms: ["linux/amd64"], all: false },
    snapshotter: "native",
    labels: { k: "v" },
  });
  assert.equal(messages.at(-1)?.image, "a:1,b:2");
  assert.equal(messages.at(-1)?.target?.digest, INDEX.digest);
});

Deno.test("Transfer.Import refuses an empty call and an archive that names no image", async () => {
  const { fake, client } = setup("ns1");
  await assert.rejects(collect(client.import(importRequests())), {
    code: Code.InvalidArgument,
    rawMessage: "import needs an archive: invalid argument",
  });
  assert.equal(fake.imports.length, 0);
  fake.imported = [];
  await assert.rejects(
    collect(client.import(importRequests({ data: new Uint8Array([1]) }))),
    {
      code: Code.InvalidArgument,
      rawMessage: "the archive names no image: invalid argument",
    },
  );
  assert.deepEqual(fake.imports[0].options.platforms, {
    platforms: undefined,
    all: undefined,
  });
});

Deno.test("Transfer.Export maps the request and streams the archive; no image is InvalidArgument", async () => {
  const { fake, client } = setup("ns1");
  const messages = await collect(client.export({
    images: ["a:1", "b:2"],
    allPlatforms: true,
    skipNonDistributable: true,
    skipDockerManifest: true,
  }));
  assert.deepEqual(messages.map((m) => [...m.data]), [[1, 2], [3]]);
  const { signal, ...rest } = fake.exports[0];
  assert.ok(signal);
  assert.deepEqual(rest, {
    namespace: "ns1",
    images: ["a:1", "b:2"],
    platforms: { platforms: [], all: true },
    skipNonDistributable: true,
    skipDockerManifest: true,
  });
  await assert.rejects(collect(client.export({})), {
    code: Code.InvalidArgument,
    rawMessage: "export needs at least one image: invalid argument",
  });
  assert.equal(fake.exports.length, 1);
});
