import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import type { DiffContent } from "../diff/mod.ts";
import type { NamespacedWriter } from "../metadata/mod.ts";
import { alreadyExists, BerthError, Code as StatusCode } from "../types/mod.ts";
import { Diff, type DiffContentRecords, diffService } from "./diff.ts";
import { routerClient } from "./_testing.ts";

const LAYER = {
  mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  digest: `sha256:${"d".repeat(64)}`,
  size: 77n,
  annotations: { a: "b" },
};
const APPLIED = {
  mediaType: "application/vnd.oci.image.layer.v1.tar",
  digest: `sha256:${"e".repeat(64)}`,
  size: 512,
};

/** A content store whose writer commits as `commit` says; calls logged. */
function fakeContent(commit: () => Promise<string>) {
  const log: string[] = [];
  const writer = (ref: string, lease?: string): NamespacedWriter => {
    log.push(`writer ${ref} ${lease}`);
    return {
      status: () => Promise.reject(new Error("unused")),
      digest: () => "sha256:sofar",
      write(data) {
        log.push(`write ${data.length}`);
        return Promise.resolve();
      },
      truncate: () => Promise.resolve(),
      commit(options) {
        log.push(`commit ${JSON.stringify(options.labels)}`);
        return commit();
      },
      close() {
        log.push("close");
        return Promise.resolve();
      },
    };
  };
  const content: DiffContentRecords = {
    read: (_ns, digest) => {
      log.push(`read ${digest}`);
      return (async function* () {})();
    },
    info: (_ns, digest) => ({
      digest,
      size: 1,
      createdAt: new Date(0),
      updatedAt: new Date(0),
      labels: { "containerd.io/uncompressed": "sha256:u" },
    }),
    writer: (_ns, options) =>
      Promise.resolve(writer(options.ref, options.lease)),
    abort(_ns, ref) {
      log.push(`abort ${ref}`);
      return Promise.resolve();
    },
  };
  return { content, log };
}

/** A differ that records its inputs and writes one chunk on compare. */
function fakeDiffer() {
  const seen: unknown[] = [];
  return {
    seen,
    apply(
      content: Pick<DiffContent, "read" | "labels">,
      layer: typeof APPLIED & { annotations?: Record<string, string> },
      mounts: readonly unknown[],
    ) {
      seen.push({ layer, mounts, labels: content.labels(layer.digest) });
      return Promise.resolve(APPLIED);
    },
    async compare(
      content: DiffContent,
      lower: readonly unknown[],
      upper: readonly unknown[],
      options: {
        mediaType?: string;
        ref?: string;
        labels?: Record<string, string>;
      } = {},
    ) {
      seen.push({ lower, upper, options });
      const written = await content.write(
        options.ref ?? "r",
        new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(5));
            c.close();
          },
        }),
        Promise.resolve({ made: "late" }),
      );
      return { mediaType: options.mediaType ?? "", ...written };
    },
  };
}

function setup(commit = () => Promise.resolve(APPLIED.digest)) {
  const { content, log } = fakeContent(commit);
  const differ = fakeDiffer();
  const client = routerClient(Diff, diffService({ content, differ }), {
    namespace: "ns1",
    lease: "l1",
  });
  return { log, differ, client };
}

Deno.test("Diff.Apply maps the layer descriptor and mounts both ways", async () => {
  const { differ, client } = setup();
  const res = await client.apply({
    diff: LAYER,
    mounts: [{ type: "overlay", source: "overlay", options: ["lowerdir=/l"] }],
  });
  assert.deepEqual(differ.seen, [{
    layer: { ...LAYER, size: 77 },
    mounts: [{
      type: "overlay",
      source: "overlay",
      target: "",
      options: ["lowerdir=/l"],
    }],
    labels: { "containerd.io/uncompressed": "sha256:u" },
  }]);
  assert.deepEqual(
    [res.applied?.mediaType, res.applied?.digest, res.applied?.size],
    [APPLIED.mediaType, APPLIED.digest, 512n],
  );
});

Deno.test("Diff.Apply without a layer descriptor is InvalidArgument and applies nothing", async () => {
  const { differ, client } = setup();
  await assert.rejects(client.apply({ mounts: [] }), {
    code: Code.InvalidArgument,
    rawMessage: "diff descriptor must be set: invalid argument",
  });
  assert.deepEqual(differ.seen, []);
});

Deno.test("Diff.Diff writes the layer under the request's ref and lease, labels awaited before commit", async () => {
  const { log, differ, client } = setup();
  const res = await client.diff({
    left: [{ type: "bind", source: "/a" }],
    right: [{ type: "bind", source: "/b" }],
    mediaType: "application/vnd.oci.image.layer.v1.tar",
    ref: "my-ref",
    labels: { k: "v" },
  });
  assert.deepEqual(
    [res.diff?.digest, res.diff?.size, res.diff?.mediaType],
    [APPLIED.digest, 5n, "application/vnd.oci.image.layer.v1.tar"],
  );
  assert.deepEqual((differ.seen[0] as { options: unknown }).options, {
    mediaType: "application/vnd.oci.image.layer.v1.tar",
    ref: "my-ref",
    labels: { k: "v" },
  });
  assert.deepEqual(log, [
    "writer my-ref l1",
    "write 5",
    'commit {"made":"late"}',
    "close",
  ]);
});

Deno.test("Diff.Diff of a layer already stored succeeds with its digest", async () => {
  const { log, client } = setup(() =>
    Promise.reject(alreadyExists("content sha256:sofar"))
  );
  const res = await client.diff({ ref: "again" });
  assert.equal(res.diff?.digest, "sha256:sofar");
  assert.ok(!log.some((l) => l.startsWith("abort")), String(log));
});

Deno.test("Diff.Diff that fails to commit aborts its ingest and keeps the error's code", async () => {
  const { log, client } = setup(() =>
    Promise.reject(new BerthError(StatusCode.FailedPrecondition, "bad size"))
  );
  await assert.rejects(client.diff({ ref: "broken" }), {
    code: Code.FailedPrecondition,
    rawMessage: "bad size: failed precondition",
  });
  assert.ok(log.includes("abort broken"), String(log));
  assert.ok(log.includes("close"), String(log));
});
