/** Fuzzing manifest, index and config JSON (src/images/manifest.ts). */
import fc from "fast-check";
import {
  parseConfig,
  parseIndex,
  parseManifest,
} from "../../src/images/manifest.ts";
import { DOCKER, OCI } from "../../src/types/mod.ts";
import { fuzzParameters, parsesOrFailsClearly } from "./_fuzz.ts";

const encoder = new TextEncoder();

const digest = fc.oneof(
  fc.stringMatching(/^sha256:[a-f0-9]{64}$/),
  fc.string({ maxLength: 80 }),
);

/** Descriptors right in shape, with wrong types and values mixed in. */
const descriptor = fc.record({
  mediaType: fc.oneof(
    fc.constantFrom(OCI.MANIFEST, OCI.INDEX, OCI.CONFIG, DOCKER.MANIFEST),
    fc.anything(),
  ),
  digest: fc.oneof(digest, fc.anything()),
  size: fc.oneof(fc.integer(), fc.double(), fc.anything()),
  annotations: fc.oneof(
    fc.dictionary(fc.string(), fc.string()),
    fc.anything(),
  ),
  platform: fc.oneof(
    fc.record({
      os: fc.string(),
      architecture: fc.string(),
      variant: fc.anything(),
      "os.features": fc.anything(),
    }, { requiredKeys: [] }),
    fc.anything(),
  ),
  urls: fc.anything(),
}, { requiredKeys: [] });

/** Documents near a manifest, index or config, or anything at all. */
const document = fc.oneof(
  fc.record({
    schemaVersion: fc.oneof(fc.constant(2), fc.anything()),
    mediaType: fc.oneof(
      fc.constantFrom(OCI.MANIFEST, OCI.INDEX, DOCKER.MANIFEST),
      fc.anything(),
    ),
    // A manifest's config descriptor, or an image config's own config.
    config: fc.oneof(descriptor, fc.anything()),
    layers: fc.oneof(fc.array(descriptor, { maxLength: 3 }), fc.anything()),
    manifests: fc.oneof(fc.array(descriptor, { maxLength: 3 }), fc.anything()),
    subject: fc.oneof(descriptor, fc.anything()),
    annotations: fc.anything(),
    architecture: fc.anything(),
    os: fc.anything(),
    variant: fc.anything(),
    rootfs: fc.oneof(
      fc.record({ type: fc.anything(), diff_ids: fc.array(fc.anything()) }),
      fc.anything(),
    ),
  }, { requiredKeys: [] }),
  fc.jsonValue(),
).map((value) => encoder.encode(JSON.stringify(value)));

/** Bytes: documents, truncated documents, or noise. */
const bytes = fc.oneof(
  document,
  fc.tuple(document, fc.nat()).map(([doc, cut]) =>
    doc.subarray(0, cut % (doc.length + 1))
  ),
  fc.uint8Array({ maxLength: 64 }),
);

Deno.test("fuzz: manifests, indexes and configs parse or fail with InvalidArgument", () => {
  fc.assert(
    fc.property(
      bytes,
      fc.option(fc.constantFrom(OCI.MANIFEST, OCI.INDEX, DOCKER.MANIFEST)),
      (data, mediaType) => {
        const options = { mediaType: mediaType ?? undefined };
        parsesOrFailsClearly(() => parseManifest(data, options));
        parsesOrFailsClearly(() => parseIndex(data, options));
        parsesOrFailsClearly(() => parseConfig(data));
      },
    ),
    fuzzParameters(1500),
  );
});
