import assert from "node:assert/strict";
import { BerthError } from "../types/mod.ts";
import {
  formatIP,
  formatMac,
  formatPrefix,
  parseIP,
  parseMac,
  parsePrefix,
} from "./ip.ts";

Deno.test("IPv4 and IPv6 addresses round-trip in ip's short form", () => {
  for (
    const text of [
      "10.0.0.1",
      "0.0.0.0",
      "255.255.255.255",
      "::",
      "::1",
      "fe80::fc:ff:fe00:1",
      "fd00::2",
      "2001:db8::1:0:0:1",
      "2001:db8:0:1:1:1:1:1",
      "1::",
    ]
  ) assert.equal(formatIP(parseIP(text)!), text);
  assert.equal(formatIP(parseIP("2001:0db8:0:0:0:0:0:0001")!), "2001:db8::1");
  assert.equal(formatIP(parseIP("::ffff:1.2.3.4")!), "::ffff:1.2.3.4");
  assert.equal(formatIP(parseIP("::102:304")!), "::1.2.3.4");
  assert.equal(formatIP(parseIP("::2")!), "::2");
  for (
    const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "12345::", "x"]
  ) assert.equal(parseIP(bad), undefined, bad);
});

Deno.test("prefixes: a bare address is a host prefix; bad ones are InvalidArgument", () => {
  assert.equal(
    formatPrefix(parsePrefix("10.1.0.0/16", "route")),
    "10.1.0.0/16",
  );
  assert.equal(formatPrefix(parsePrefix("fd00::1", "address")), "fd00::1/128");
  assert.equal(
    parsePrefix("default", "route", { allowDefault: true }).length,
    0,
  );
  for (const bad of ["10.0.0.1/33", "fd00::/129", "default", "1.2.3.4/x"]) {
    assert.throws(() => parsePrefix(bad, "address"), BerthError, bad);
  }
});

Deno.test("MAC addresses", () => {
  assert.equal(formatMac(parseMac("02:AA:bb:0c:00:ff")), "02:aa:bb:0c:00:ff");
  assert.throws(() => parseMac("02:aa:bb:0c:00"), BerthError);
});
