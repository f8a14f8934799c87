import assert from "node:assert/strict";
import { BerthError, Code, DOCKER, OCI } from "../types/mod.ts";
import {
  isConfig,
  isIndex,
  isLayer,
  isManifest,
  isNonDistributable,
  isSchema1,
  layerCompression,
  refuseSchema1,
} from "./mediatypes.ts";

Deno.test("predicates know OCI and Docker types", () => {
  assert.ok(isIndex(OCI.INDEX));
  assert.ok(isIndex(DOCKER.MANIFEST_LIST));
  assert.ok(!isIndex(OCI.MANIFEST));
  assert.ok(isManifest(OCI.MANIFEST));
  assert.ok(isManifest(`${DOCKER.MANIFEST}; charset=utf-8`));
  assert.ok(!isManifest(DOCKER.MANIFEST_SCHEMA1_SIGNED));
  assert.ok(isConfig(OCI.CONFIG));
  assert.ok(isConfig(DOCKER.CONFIG));
  assert.ok(!isConfig(OCI.LAYER));
  for (
    const layer of [
      OCI.LAYER,
      OCI.LAYER_GZIP,
      OCI.LAYER_ZSTD,
      OCI.LAYER_NONDISTRIBUTABLE_GZIP,
      `${OCI.LAYER_GZIP}+encrypted`,
      DOCKER.LAYER,
      DOCKER.LAYER_GZIP,
      DOCKER.LAYER_FOREIGN_GZIP,
    ]
  ) {
    assert.ok(isLayer(layer), layer);
  }
  assert.ok(!isLayer(OCI.CONFIG));
  assert.ok(!isLayer("application/octet-stream"));
  assert.ok(isNonDistributable(OCI.LAYER_NONDISTRIBUTABLE));
  assert.ok(isNonDistributable(DOCKER.LAYER_FOREIGN));
  assert.ok(!isNonDistributable(OCI.LAYER_GZIP));
});

Deno.test("layerCompression follows containerd's DiffCompression", () => {
  assert.equal(layerCompression(OCI.LAYER), "none");
  assert.equal(layerCompression(OCI.LAYER_GZIP), "gzip");
  assert.equal(layerCompression(OCI.LAYER_NONDISTRIBUTABLE_ZSTD), "zstd");
  assert.equal(layerCompression(DOCKER.LAYER), "unknown");
  assert.equal(layerCompression(DOCKER.LAYER_GZIP), "gzip");
  assert.throws(
    () => layerCompression(OCI.CONFIG),
    (err) => BerthError.is(err, Code.Unimplemented),
  );
});

Deno.test("schema 1 is refused", () => {
  assert.ok(isSchema1(DOCKER.MANIFEST_SCHEMA1_SIGNED));
  assert.ok(isSchema1(DOCKER.MANIFEST_SCHEMA1));
  refuseSchema1(OCI.MANIFEST);
  assert.throws(
    () => refuseSchema1(DOCKER.MANIFEST_SCHEMA1_SIGNED),
    (err) =>
      BerthError.is(err, Code.Unimplemented) && /schema 1/.test(err.message),
  );
});
