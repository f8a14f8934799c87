import assert from "node:assert/strict";
import { adaptLabels, fieldsAdaptor } from "./filter.ts";

Deno.test("adaptLabels: joins the path into one key", () => {
  const labels = { "com.example.x": "1", plain: "", "": "empty key" };
  assert.equal(adaptLabels(labels, ["com", "example", "x"]), "1");
  assert.equal(adaptLabels(labels, ["com.example.x"]), "1");
  assert.equal(adaptLabels(labels, ["plain"]), "");
  assert.equal(adaptLabels(labels, []), "empty key");
  assert.equal(adaptLabels(labels, ["com"]), undefined);
  assert.equal(adaptLabels(undefined, ["plain"]), undefined);
});

Deno.test("adaptLabels: only own keys", () => {
  assert.equal(adaptLabels({}, ["constructor"]), undefined);
  assert.equal(adaptLabels({}, ["__proto__"]), undefined);
  assert.equal(adaptLabels({ key: undefined }, ["key"]), undefined);
});

Deno.test("fieldsAdaptor: string, map and absent fields", () => {
  const adaptor = fieldsAdaptor({
    name: "alpine",
    parent: "",
    image: undefined,
    target: { digest: "sha256:abc", mediatype: undefined },
    labels: { "a.b": "c" },
  });
  assert.equal(adaptor.field(["name"]), "alpine");
  // As in containerd, a string field ignores the rest of the path.
  assert.equal(adaptor.field(["name", "more"]), "alpine");
  assert.equal(adaptor.field(["parent"]), "");
  assert.equal(adaptor.field(["image"]), undefined);
  assert.equal(adaptor.field(["target", "digest"]), "sha256:abc");
  assert.equal(adaptor.field(["target", "mediatype"]), undefined);
  assert.equal(adaptor.field(["target"]), undefined);
  assert.equal(adaptor.field(["labels", "a", "b"]), "c");
  assert.equal(adaptor.field(["labels", "a.b"]), "c");
  assert.equal(adaptor.field(["size"]), undefined);
  assert.equal(adaptor.field(["toString"]), undefined);
  assert.equal(adaptor.field([]), undefined);
});
