import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type GetContainerResponse,
  GetContainerResponseSchema,
} from "../gen/containerd/services/containers/v1/containers_pb.ts";
import { encodeAnswer, KeptAnswers } from "./_kept_answers.ts";

const answer = (id: string) =>
  create(GetContainerResponseSchema, { container: { id } });

Deno.test("kept answers: the oldest goes past the limit; forgotten ones are gone", () => {
  const answers = new KeptAnswers<GetContainerResponse>({ max: 2 });
  const a = answers.keep("a", answer("a"));
  answers.keep("b", answer("b"));
  answers.keep("a", a);
  assert.equal(answers.get("a"), a);
  answers.keep("c", answer("c"));
  assert.equal(answers.get("a"), undefined);
  assert.equal(answers.get("b")?.container?.id, "b");
  answers.forget("b");
  assert.equal(answers.get("b"), undefined);
  assert.equal(answers.get("c")?.container?.id, "c");
});

Deno.test("a kept answer is encoded once, as protobuf-es encodes it; any other each time", () => {
  const answers = new KeptAnswers<GetContainerResponse>({ max: 2 });
  const kept = answers.keep("a", answer("a"));
  const bytes = encodeAnswer(GetContainerResponseSchema, kept);
  assert.deepEqual(bytes, toBinary(GetContainerResponseSchema, kept));
  assert.equal(encodeAnswer(GetContainerResponseSchema, kept), bytes);
  const fresh = answer("b");
  const first = encodeAnswer(GetContainerResponseSchema, fresh);
  fresh.container!.id = "changed";
  assert.deepEqual(
    encodeAnswer(GetContainerResponseSchema, fresh),
    toBinary(GetContainerResponseSchema, fresh),
  );
  assert.notDeepEqual(encodeAnswer(GetContainerResponseSchema, fresh), first);
});
