import assert from "node:assert/strict";
import { Version, versionService } from "./version.ts";
import { routerClient } from "./_testing.ts";

Deno.test("Version answers the version and revision it was built with", async () => {
  const client = routerClient(
    Version,
    versionService({ version: "v1.2.3", revision: "abc123" }),
  );
  const answer = await client.version({});
  assert.deepEqual([answer.version, answer.revision], ["v1.2.3", "abc123"]);
});
