import assert from "node:assert/strict";
import { BerthError, Code } from "./errors.ts";
import {
  ALL_PLATFORMS,
  anyPlatform,
  compatiblePlatforms,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  onlyPlatform,
  onlyPlatformStrict,
  parsePlatform,
  type Platform,
  platformFromJSON,
  platformMatcher,
  platformToJSON,
} from "./platform.ts";

const p = (os: string, architecture: string, variant?: string): Platform =>
  variant ? { os, architecture, variant } : { os, architecture };

Deno.test("parsePlatform normalises like containerd", () => {
  assert.deepEqual(parsePlatform("linux/arm64/v8"), p("linux", "arm64", "v8"));
  assert.deepEqual(parsePlatform("linux/aarch64"), p("linux", "arm64"));
  assert.deepEqual(parsePlatform("linux/arm64/8"), p("linux", "arm64", "v8"));
  assert.deepEqual(parsePlatform("linux/x86_64"), p("linux", "amd64"));
  assert.deepEqual(parsePlatform("Linux/AMD64"), p("linux", "amd64"));
  assert.deepEqual(parsePlatform("linux/amd64/v1"), p("linux", "amd64"));
  assert.deepEqual(parsePlatform("linux/amd64/v3"), p("linux", "amd64", "v3"));
  assert.deepEqual(parsePlatform("linux/arm"), p("linux", "arm"));
  assert.deepEqual(parsePlatform("linux/arm/7"), p("linux", "arm", "v7"));
  assert.deepEqual(parsePlatform("linux/armhf"), p("linux", "arm"));
  assert.deepEqual(parsePlatform("linux/armel"), p("linux", "arm", "v6"));
  assert.deepEqual(parsePlatform("linux/i386"), p("linux", "386"));
  assert.deepEqual(parsePlatform("macos/arm64"), p("darwin", "arm64"));
  const host = hostPlatform();
  assert.equal(parsePlatform("linux").architecture, host.architecture);
  assert.equal(parsePlatform("s390x").os, host.os);
  assert.equal(parsePlatform("s390x").architecture, "s390x");
});

Deno.test("parsePlatform refuses bad specifiers", () => {
  for (
    const bad of [
      "",
      "linux/*",
      "linux//amd64",
      "a/b/c/d",
      "nope",
      "li nux/amd64",
    ]
  ) {
    assert.throws(
      () => parsePlatform(bad),
      (err) => BerthError.is(err, Code.InvalidArgument),
      bad,
    );
  }
});

Deno.test("formatPlatform joins the parts", () => {
  assert.equal(formatPlatform(p("linux", "arm64", "v8")), "linux/arm64/v8");
  assert.equal(formatPlatform(p("linux", "amd64")), "linux/amd64");
  assert.equal(formatPlatform(p("", "amd64")), "unknown");
});

Deno.test("normalizePlatform drops default variants", () => {
  assert.deepEqual(
    normalizePlatform(p("linux", "arm64", "v8")),
    p("linux", "arm64"),
  );
  assert.deepEqual(
    normalizePlatform(p("linux", "aarch64")),
    p("linux", "arm64"),
  );
  assert.deepEqual(
    normalizePlatform(p("linux", "arm")),
    p("linux", "arm", "v7"),
  );
});

Deno.test("hostPlatform uses Go's names", () => {
  const host = hostPlatform();
  assert.equal(host.os, Deno.build.os === "darwin" ? "darwin" : Deno.build.os);
  assert.ok(["amd64", "arm64"].includes(host.architecture));
  if (host.architecture === "arm64") assert.equal(host.variant, "v8");
});

Deno.test("compatiblePlatforms lists what a platform runs, best first", () => {
  assert.deepEqual(
    compatiblePlatforms(p("linux", "arm64")).map(formatPlatform),
    [
      "linux/arm64",
      "linux/arm/v8",
      "linux/arm/v7",
      "linux/arm/v6",
      "linux/arm/v5",
    ],
  );
  assert.deepEqual(
    compatiblePlatforms(p("linux", "amd64", "v3")).map(formatPlatform),
    [
      "linux/amd64/v3",
      "linux/amd64/v2",
      "linux/amd64/v1",
      "linux/386",
    ],
  );
  assert.deepEqual(
    compatiblePlatforms(p("linux", "arm", "v6")).map(formatPlatform),
    [
      "linux/arm/v6",
      "linux/arm/v5",
    ],
  );
});

Deno.test("onlyPlatform matches exact first, then compatible variants", () => {
  const m = onlyPlatform(p("linux", "arm64", "v8"));
  assert.ok(m.match(p("linux", "arm64")));
  assert.ok(m.match(p("linux", "aarch64", "v8")));
  assert.ok(m.match(p("linux", "arm", "v7")));
  assert.ok(!m.match(p("linux", "amd64")));
  assert.ok(!m.match(p("windows", "arm64")));
  const candidates = [
    p("linux", "arm", "v5"),
    p("linux", "amd64"),
    p("linux", "arm", "v7"),
    p("linux", "arm64", "v8"),
  ];
  // Array.prototype.sort is stable, as Go's sort.SliceStable.
  const sorted = candidates.filter((c) => m.match(c)).sort((a, b) =>
    m.less(a, b) ? -1 : m.less(b, a) ? 1 : 0
  );
  assert.deepEqual(sorted.map(formatPlatform), [
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/arm/v5",
  ]);
  const amd = onlyPlatform(p("linux", "amd64"));
  assert.ok(amd.match(p("linux", "386")));
  assert.ok(amd.less(p("linux", "amd64"), p("linux", "386")));
  assert.ok(!amd.less(p("linux", "386"), p("linux", "amd64")));
});

Deno.test("strict, any and all matchers", () => {
  const strict = onlyPlatformStrict(p("linux", "amd64"));
  assert.ok(strict.match(p("linux", "x86_64")));
  assert.ok(!strict.match(p("linux", "386")));
  const any = anyPlatform(p("linux", "amd64"), p("linux", "s390x"));
  assert.ok(any.match(p("linux", "s390x")));
  assert.ok(!any.match(p("linux", "386")));
  assert.ok(any.less(p("linux", "s390x"), p("linux", "ppc64le")));
  assert.ok(!any.less(p("linux", "s390x"), p("linux", "amd64")));
  assert.ok(ALL_PLATFORMS.match(p("plan9", "mips")));
  assert.ok(!ALL_PLATFORMS.less(p("linux", "amd64"), p("plan9", "mips")));
});

Deno.test("platformMatcher follows the selection", () => {
  assert.equal(
    platformMatcher({ all: true, platforms: ["linux/amd64"] }),
    ALL_PLATFORMS,
  );
  const one = platformMatcher({ platforms: ["linux/amd64"] });
  assert.ok(one.match(p("linux", "386")));
  const strict = platformMatcher({ platforms: ["linux/amd64"], strict: true });
  assert.ok(!strict.match(p("linux", "386")));
  const two = platformMatcher({ platforms: ["linux/s390x", "linux/ppc64le"] });
  assert.ok(two.match(p("linux", "ppc64le")) && !two.match(p("linux", "386")));
  const host = platformMatcher();
  assert.ok(host.match(hostPlatform()));
});

Deno.test("platform JSON round trip with os.version and os.features", () => {
  const json = {
    architecture: "amd64",
    os: "windows",
    "os.version": "10.0.17763.1",
    "os.features": ["win32k"],
  };
  const platform = platformFromJSON(json, "t");
  assert.deepEqual(platform, {
    os: "windows",
    architecture: "amd64",
    osVersion: "10.0.17763.1",
    osFeatures: ["win32k"],
  });
  assert.deepEqual(platformToJSON(platform), json);
  assert.throws(
    () => platformFromJSON({ os: 3 }, "t"),
    (err) => BerthError.is(err, Code.InvalidArgument),
  );
});
