import assert from "node:assert/strict";
import { hostsFile, resolvConf } from "./etc_files.ts";

Deno.test("resolv.conf drops loopback nameservers and keeps the rest", () => {
  assert.equal(
    resolvConf(
      "# generated\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.2\nsearch example.org\n",
    ),
    "# generated\nnameserver 10.0.0.2\nsearch example.org\n",
  );
});

Deno.test("hosts: loopback names, then the addresses under the name", () => {
  const text = hostsFile("web", ["10.1.0.2"]);
  assert.match(
    text,
    /^127\.0\.0\.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n/,
  );
  assert.match(text, /\n10\.1\.0\.2\tweb\n$/);
});
