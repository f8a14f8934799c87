import assert from "node:assert/strict";
import { join } from "node:path";
import { BerthError, Code, OCI } from "../types/mod.ts";
import { FakeRegistry } from "./_testing.ts";
import { RegistryClient } from "./client.ts";

const hasOpenssl = (() => {
  try {
    return new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
})();

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** A CA and a server certificate for 127.0.0.1 signed by it. */
async function makeCerts(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=berth-test-ca",
  );
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "key.pem",
    "-out",
    "srv.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return {
    ca: join(dir, "ca.pem"),
    cert: await Deno.readTextFile(join(dir, "cert.pem")),
    key: await Deno.readTextFile(join(dir, "key.pem")),
  };
}

Deno.test({
  name:
    "TLS: per-host CA from hosts.toml, skip_verify, and a clear error otherwise",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "berth-tls-" });
    const certs = await makeCerts(dir);
    const registry = FakeRegistry.start({
      tls: { cert: certs.cert, key: certs.key },
    });
    try {
      const bytes = new TextEncoder().encode('{"schemaVersion":2,"layers":[]}');
      const desc = registry.addManifest(
        "x",
        OCI.MANIFEST,
        bytes,
        "v",
      );
      const hostsDir = join(dir, "certs.d");
      const write = async (name: string, toml: string) => {
        await Deno.mkdir(join(hostsDir, name), { recursive: true });
        await Deno.writeTextFile(join(hostsDir, name, "hosts.toml"), toml);
      };
      await write(
        "with-ca.test",
        `server = "https://${registry.host}"\nca = "${certs.ca}"\n`,
      );
      await write(
        "skip.test",
        `server = "https://${registry.host}"\nskip_verify = true\n`,
      );
      await write("plain.test", `server = "https://${registry.host}"\n`);
      using c = new RegistryClient({ hostsDir, retries: 0 });

      assert.deepEqual((await c.resolve("with-ca.test/x:v")).descriptor, desc);
      const stream = await c.fetch("with-ca.test/x:v", desc);
      assert.equal(
        await new Response(stream).text(),
        new TextDecoder().decode(bytes),
      );

      // skip_verify goes through node:https with rejectUnauthorized: false.
      assert.deepEqual((await c.resolve("skip.test/x:v")).descriptor, desc);
      const skipped = await c.fetch("skip.test/x:v", desc);
      assert.equal(
        await new Response(skipped).text(),
        new TextDecoder().decode(bytes),
      );
      const pushed = new TextEncoder().encode(
        '{"schemaVersion":2,"layers":[],"n":1}',
      );
      const pushedDesc = {
        ...desc,
        digest: registry.addBlob("tmp", pushed).digest,
        size: pushed.byteLength,
      };
      assert.equal(
        (await c.push("skip.test/y:v", pushedDesc, pushed)).status,
        "uploaded",
      );
      assert.deepEqual(registry.manifests.get("y")?.get("v")?.bytes, pushed);
      const blob = new Uint8Array(3000).fill(7);
      const blobDesc = {
        ...registry.addBlob("tmp", blob),
        mediaType: "application/octet-stream",
      };
      assert.equal(
        (await c.push("skip.test/y:v", blobDesc, new Response(blob).body!))
          .status,
        "uploaded",
      );

      await assert.rejects(c.resolve("plain.test/x:v"), (err: unknown) => {
        assert.ok(BerthError.is(err, Code.Unavailable), String(err));
        assert.match(
          err.message,
          /HEAD https:\/\/127.0.0.1:\d+\/v2\/x\/manifests\/v\?ns=plain.test/,
        );
        return true;
      });

      // A CA file that is not there.
      await write(
        "missing-ca.test",
        `server = "https://${registry.host}"\nca = "nope.pem"\n`,
      );
      await assert.rejects(
        c.resolve("missing-ca.test/x:v"),
        /unable to read CA certificate/,
      );
    } finally {
      await registry.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
