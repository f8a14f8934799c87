/**
 * The client against the real registry (Debian's docker-registry, from
 * tests/fixtures/registry.ts): pull an image skopeo pushed, push one and
 * check it with `skopeo inspect`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildImage } from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";
import { type Descriptor, OCI } from "../src/types/mod.ts";
import { RegistryClient } from "../src/remotes/client.ts";

const available = ["docker-registry", "skopeo", "openssl"].every((tool) => {
  try {
    return new Deno.Command("which", {
      args: [tool],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
});

function descriptorOf(bytes: Uint8Array, mediaType: string): Descriptor {
  return {
    mediaType,
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    size: bytes.byteLength,
  };
}

async function bytesOf(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function skopeo(...args: string[]): Promise<string> {
  const out = await new Deno.Command("skopeo", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `skopeo ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "docker-registry: pull a pushed image, push one that skopeo reads back",
  ignore: !available,
  async fn() {
    const image = await buildImage("busybox");
    await using registry = await startRegistry();
    await pushLayout(registry, image.layout, "library/busybox:latest");
    using client = new RegistryClient({
      chunkThreshold: 256 * 1024,
      chunkSize: 100_000,
    });

    // Pull: resolve, then the manifest, config and layers, all verified.
    const ref = `${registry.host}/library/busybox:latest`;
    const { name, descriptor } = await client.resolve(ref);
    assert.equal(name, ref);
    assert.equal(descriptor.digest, image.digest);
    assert.equal(descriptor.mediaType, image.mediaType);
    const manifestBytes = await bytesOf(await client.fetch(ref, descriptor));
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    const blobs: Descriptor[] = [manifest.config, ...manifest.layers];
    assert.deepEqual(blobs.map((b) => b.digest), [
      image.config.digest,
      ...image.layers.map((l) => l.digest),
    ]);
    const pulled = new Map<string, Uint8Array>();
    for (const blob of blobs) {
      const bytes = await bytesOf(await client.fetch(ref, blob));
      assert.equal(bytes.byteLength, blob.size);
      pulled.set(blob.digest, bytes);
    }
    const byDigest = await client.resolve(
      `${registry.host}/library/busybox@${image.digest}`,
    );
    assert.equal(byDigest.descriptor.size, descriptor.size);

    // Push: a mounted layer, a chunked random layer, a monolithic config, a manifest.
    const target = `${registry.host}/berth/pushed:v1`;
    const source = {
      [`containerd.io/distribution.source.${registry.host}`]: "library/busybox",
    };
    const busyboxLayer = manifest.layers[0] as Descriptor;
    const mounted = await client.push(
      target,
      busyboxLayer,
      pulled.get(busyboxLayer.digest)!,
      {
        labels: source,
      },
    );
    assert.equal(mounted.status, "mounted");

    const random = new Uint8Array(700_000);
    for (let at = 0; at < random.length; at += 65536) {
      crypto.getRandomValues(
        random.subarray(at, Math.min(random.length, at + 65536)),
      );
    }
    const randomLayer = descriptorOf(
      random,
      "application/vnd.oci.image.layer.v1.tar",
    );
    const chunked = await client.push(
      target,
      randomLayer,
      () => new Response(random).body!,
    );
    assert.equal(chunked.status, "uploaded");

    const config = new TextEncoder().encode(JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
    }));
    const configDesc = descriptorOf(
      config,
      "application/vnd.oci.image.config.v1+json",
    );
    assert.equal(
      (await client.push(target, configDesc, () => new Response(config).body!))
        .status,
      "uploaded",
    );
    assert.equal(
      (await client.push(target, configDesc, config)).status,
      "exists",
    );

    const newManifest = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI.MANIFEST,
      config: configDesc,
      layers: [busyboxLayer, randomLayer],
    }));
    const manifestDesc = descriptorOf(newManifest, OCI.MANIFEST);
    assert.equal(
      (await client.push(target, manifestDesc, newManifest)).status,
      "uploaded",
    );
    assert.equal(
      (await client.push(target, manifestDesc, newManifest)).status,
      "exists",
    );

    const raw = await skopeo(
      "inspect",
      "--tls-verify=false",
      "--raw",
      `docker://${target}`,
    );
    assert.equal(raw, new TextDecoder().decode(newManifest));
    const inspected = JSON.parse(
      await skopeo("inspect", "--tls-verify=false", `docker://${target}`),
    );
    assert.equal(inspected.Digest, manifestDesc.digest);
    assert.deepEqual(inspected.Layers, [
      busyboxLayer.digest,
      randomLayer.digest,
    ]);

    // And our own client reads back the chunked layer.
    assert.deepEqual(
      await bytesOf(await client.fetch(target, randomLayer)),
      random,
    );
  },
});

Deno.test({
  name: "docker-registry: token auth with credentials",
  ignore: !available,
  async fn() {
    const image = await buildImage("busybox");
    await using registry = await startRegistry({ auth: "token" });
    await pushLayout(registry, image.layout, "private/busybox:latest");
    const ref = `${registry.host}/private/busybox:latest`;

    using anonymous = new RegistryClient();
    await assert.rejects(anonymous.resolve(ref), /pull access denied/);

    using client = new RegistryClient({
      credentials: () => registry.credentials,
    });
    const { descriptor } = await client.resolve(ref);
    assert.equal(descriptor.digest, image.digest);
    const config = await bytesOf(await client.fetch(ref, image.config));
    assert.equal(config.byteLength, image.config.size);

    const blob = new TextEncoder().encode("pushed with a token");
    const desc = descriptorOf(blob, "application/octet-stream");
    assert.equal(
      (await client.push(`${registry.host}/private/other:x`, desc, blob))
        .status,
      "uploaded",
    );
    assert.deepEqual(
      await bytesOf(
        await client.fetch(`${registry.host}/private/other:x`, desc),
      ),
      blob,
    );
  },
});
