import assert from "node:assert/strict";
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { RuncOptionsSchema } from "../gen/containerd/runtime/linux/runctypes/runc_pb.ts";
import { jsonRegistry } from "./_json.ts";

Deno.test("the v1 runtime's RuncOptions in an Any go to JSON and back", () => {
  const any = anyPack(
    RuncOptionsSchema,
    create(RuncOptionsSchema, { runtime: "/usr/bin/runc", runtimeRoot: "/r" }),
  );
  const json = toJson(AnySchema, any, { registry: jsonRegistry });
  assert.deepEqual(json, {
    "@type": "type.googleapis.com/containerd.linux.runc.RuncOptions",
    runtime: "/usr/bin/runc",
    runtimeRoot: "/r",
  });
  const back = fromJson(AnySchema, json, { registry: jsonRegistry });
  assert.deepEqual(back.value, any.value);
});
