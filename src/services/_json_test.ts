import assert from "node:assert/strict";
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { RuncOptionsSchema } from "../gen/containerd/runtime/linux/runctypes/runc_pb.ts";
import type { UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import {
  type GetContainerResponse,
  GetContainerResponseSchema,
} from "../gen/containerd/services/containers/v1/containers_pb.ts";
import { Containers } from "./containers.ts";
import { jsonAnyInterceptor, jsonRegistry } from "./_json.ts";

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

Deno.test("a JSON call's answer is rewritten in a copy: the service's own answer (perhaps kept for every caller) is unchanged", async () => {
  const spec = new TextEncoder().encode('{"ociVersion":"1.1.0"}');
  const answer = create(GetContainerResponseSchema, {
    container: {
      id: "c1",
      spec: {
        typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
        value: spec,
      },
    },
  });
  const call = jsonAnyInterceptor((req) =>
    Promise.resolve({
      stream: false,
      method: req.method,
      message: answer,
    } as unknown as UnaryResponse)
  );
  const res = await call({
    stream: false,
    method: Containers.method.get,
    header: new Headers({ "content-type": "application/json" }),
    message: create(Containers.method.get.input, { id: "c1" }),
  } as unknown as UnaryRequest);
  const sent = res.message as GetContainerResponse;
  assert.notDeepEqual(sent.container?.spec?.value, spec);
  assert.deepEqual(answer.container?.spec?.value, spec);
});
