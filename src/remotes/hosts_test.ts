import assert from "node:assert/strict";
import { join } from "node:path";
import { BerthError, Code } from "../types/mod.ts";
import {
  hostDirectory,
  isLocalhost,
  loadRegistryHosts,
  parseHostsFile,
} from "./hosts.ts";

Deno.test("isLocalhost knows loopback names and addresses", () => {
  for (
    const host of [
      "localhost",
      "localhost:5000",
      "127.0.0.1",
      "127.1.2.3:80",
      "[::1]:5000",
      "::1",
      "[::ffff:127.0.0.1]:5000",
    ]
  ) assert.ok(isLocalhost(host), host);
  for (
    const host of [
      "docker.io",
      "10.0.0.1:5000",
      "128.0.0.1",
      "[::2]:1",
      "localhost.example",
    ]
  ) assert.ok(!isLocalhost(host), host);
});

Deno.test("default endpoints: https, docker.io's server, http on loopback", async () => {
  const [hub] = await loadRegistryHosts("docker.io");
  assert.deepEqual([hub.scheme, hub.host, hub.path], [
    "https",
    "registry-1.docker.io",
    "/v2",
  ]);
  assert.deepEqual(hub.capabilities, ["pull", "resolve", "push"]);
  const [other] = await loadRegistryHosts("quay.io");
  assert.deepEqual([other.scheme, other.host], ["https", "quay.io"]);
  const [local] = await loadRegistryHosts("127.0.0.1:5000");
  assert.deepEqual([local.scheme, local.host], ["http", "127.0.0.1:5000"]);
  const [plain] = await loadRegistryHosts("quay.io", { plainHttp: true });
  assert.equal(plain.scheme, "http");
  const [forced] = await loadRegistryHosts("localhost:5000", {
    plainHttp: false,
  });
  assert.equal(forced.scheme, "https");
});

Deno.test("parseHostsFile keeps mirrors in file order, then the server", () => {
  const entries = parseHostsFile(
    `
server = "https://registry.example.com"
ca = "server-ca.pem"

[host."https://z-mirror.example.com"]
  capabilities = ["pull", "resolve"]
  ca = ["a.pem", "/abs/b.pem"]
  skip_verify = true
  [host."https://z-mirror.example.com".header]
    x-one = "1"
    x-many = ["a", "b"]

[host."http://a-mirror.example.com:8080/prefix"]
  capabilities = ["pull"]
  client = [["c.cert", "c.key"], "d.pem"]

[host."https://raw.example.com/custom"]
  override_path = true
`,
    { baseDir: "/etc/certs.d/example.com" },
  );
  assert.deepEqual(
    entries.map((e) => [e.scheme, e.host, e.path, e.capabilities.join(",")]),
    [
      ["https", "z-mirror.example.com", "/v2", "pull,resolve"],
      ["http", "a-mirror.example.com:8080", "/prefix/v2", "pull"],
      ["https", "raw.example.com", "/custom", "pull,resolve,push"],
      ["https", "registry.example.com", "/v2", "pull,resolve,push"],
    ],
  );
  assert.deepEqual(entries[0].caCerts, [
    "/etc/certs.d/example.com/a.pem",
    "/abs/b.pem",
  ]);
  assert.equal(entries[0].skipVerify, true);
  assert.deepEqual(entries[0].headers, [
    ["x-one", "1"],
    ["x-many", "a"],
    ["x-many", "b"],
  ]);
  assert.deepEqual(entries[1].clientCerts, [
    {
      cert: "/etc/certs.d/example.com/c.cert",
      key: "/etc/certs.d/example.com/c.key",
    },
    { cert: "/etc/certs.d/example.com/d.pem" },
  ]);
  assert.equal(entries[1].skipVerify, undefined);
  assert.deepEqual(entries[3].caCerts, [
    "/etc/certs.d/example.com/server-ca.pem",
  ]);
});

Deno.test("parseHostsFile rejects bad files with the reason", () => {
  const bad: [string, RegExp][] = [
    ["server = [", /failed to parse TOML/],
    ['[host."https://m"]\ncapabilities = ["fly"]', /unknown capability "fly"/],
    [
      '[host."https://m"]\nskip_verify = "yes"',
      /skip_verify must be a boolean/,
    ],
    ["server = 5", /`server` must be a string/],
    ['[host."https://m"]\nca = 1', /ca must be a string or a list/],
  ];
  for (const [text, reason] of bad) {
    assert.throws(
      () => parseHostsFile(text, { baseDir: "/d", source: "/d/hosts.toml" }),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.InvalidArgument));
        assert.match(err.message, /hosts file "\/d\/hosts.toml"/);
        assert.match(err.message, reason);
        return true;
      },
    );
  }
});

Deno.test("loadRegistryHosts reads the host's directory, _default, and cert files", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-hosts-" });
  try {
    await Deno.mkdir(join(root, "example.com"));
    await Deno.writeTextFile(
      join(root, "example.com", "hosts.toml"),
      `[host."https://mirror.example.net"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    const hosts = await loadRegistryHosts("example.com", { hostsDir: root });
    assert.deepEqual(hosts.map((h) => `${h.scheme}://${h.host}${h.path}`), [
      "https://mirror.example.net/v2",
      "https://example.com/v2",
    ]);

    // No server line on a loopback registry: its default is plain HTTP.
    assert.equal(hostDirectory("127.0.0.1:5000"), "127.0.0.1_5000_");
    await Deno.mkdir(join(root, "127.0.0.1_5000_"));
    await Deno.writeTextFile(
      join(root, "127.0.0.1_5000_", "hosts.toml"),
      `[host."http://127.0.0.1:6000"]\n`,
    );
    const local = await loadRegistryHosts("127.0.0.1:5000", { hostsDir: root });
    assert.deepEqual(local.map((h) => `${h.scheme}://${h.host}`), [
      "http://127.0.0.1:6000",
      "http://127.0.0.1:5000",
    ]);

    await Deno.mkdir(join(root, "_default"));
    await Deno.writeTextFile(
      join(root, "_default", "hosts.toml"),
      `server = "https://proxy.example.org"\n`,
    );
    const fallback = await loadRegistryHosts("other.io", { hostsDir: root });
    assert.deepEqual(fallback.map((h) => h.host), ["proxy.example.org"]);

    await Deno.mkdir(join(root, "certs.io"));
    await Deno.writeTextFile(join(root, "certs.io", "ca.crt"), "x");
    await Deno.writeTextFile(join(root, "certs.io", "client.cert"), "x");
    await Deno.writeTextFile(join(root, "certs.io", "client.key"), "x");
    const [certs] = await loadRegistryHosts("certs.io", { hostsDir: root });
    assert.equal(certs.host, "certs.io");
    assert.deepEqual(certs.caCerts, [join(root, "certs.io", "ca.crt")]);
    assert.deepEqual(certs.clientCerts, [{
      cert: join(root, "certs.io", "client.cert"),
      key: join(root, "certs.io", "client.key"),
    }]);

    const [skip] = await loadRegistryHosts("quay.io", {
      hostsDir: join(root, "missing"),
      skipVerify: true,
    });
    assert.equal(skip.skipVerify, true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
