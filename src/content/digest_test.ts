import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import {
  DIGEST_PATTERN,
  digestHex,
  digestOf,
  validateDigest,
} from "./digest.ts";

const HEX = "a".repeat(64);

function assertInvalid(digest: string, reason: RegExp) {
  assert.throws(() => validateDigest(digest), (err) => {
    assert.ok(BerthError.is(err, Code.InvalidArgument), String(err));
    assert.match((err as Error).message, /failed validation/);
    assert.match((err as Error).message, reason);
    return true;
  });
}

Deno.test("validateDigest accepts sha256 and says why others fail", () => {
  validateDigest(`sha256:${HEX}`);
  assert.ok(DIGEST_PATTERN.test(`sha256:${HEX}`));
  assertInvalid("", /^"" failed validation: invalid checksum digest format/);
  assertInvalid("sha256:xyz", /invalid checksum digest length/);
  assertInvalid(`sha256:${"g".repeat(64)}`, /invalid checksum digest format/);
  assertInvalid(`sha256:${"A".repeat(64)}`, /invalid checksum digest format/);
  assertInvalid(`md5:${"a".repeat(32)}`, /unsupported digest algorithm/);
  assertInvalid(`sha512:${"a".repeat(128)}`, /unsupported digest algorithm/);
  assertInvalid("../../etc", /invalid checksum digest format/);
  assertInvalid(`sha256:../../${HEX}`, /invalid checksum digest/);
  assertInvalid("sha256:", /invalid checksum digest format/);
  assertInvalid(HEX, /invalid checksum digest format/);
  assertInvalid(`sha256:${HEX}\n`, /invalid checksum digest length/);
});

Deno.test("digestHex and digestOf", () => {
  assert.equal(digestHex(`sha256:${HEX}`), HEX);
  assert.throws(() => digestHex("md5:00"), BerthError);
  assert.equal(
    digestOf(""),
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(digestOf("abc"), digestOf(new TextEncoder().encode("abc")));
});
