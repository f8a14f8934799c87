import assert from "node:assert/strict";
import { fileIdentity, holdSealedCopy, makeSealedCopy } from "./sealed_copy.ts";

Deno.test("a sealed copy runs, cannot be written, and is held by another opener", async () => {
  const dir = await Deno.makeTempDir();
  const program = `${dir}/say`;
  await Deno.writeTextFile(program, "#!/bin/sh\necho said\n", { mode: 0o755 });
  const own = makeSealedCopy(program);
  try {
    assert.equal(own.copy.source, program);
    assert.equal(own.copy.identity, fileIdentity(program));
    assert.match(own.copy.path, new RegExp(`^/proc/${Deno.pid}/fd/\\d+$`));
    const out = await new Deno.Command(own.copy.path).output();
    assert.equal(new TextDecoder().decode(out.stdout), "said\n");
    assert.throws(() => Deno.writeTextFileSync(own.copy.path, "x"));
    const held = holdSealedCopy(own.copy);
    assert.ok(held);
    assert.notEqual(held.path, own.copy.path);
    own.close();
    // The holder's descriptor keeps the copy after its maker let it go.
    const again = await new Deno.Command(held.path).output();
    assert.equal(new TextDecoder().decode(again.stdout), "said\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("only a fully sealed copy is held; a rewritten program has another identity", async () => {
  const dir = await Deno.makeTempDir();
  const program = `${dir}/say`;
  await Deno.writeTextFile(program, "#!/bin/sh\necho said\n", { mode: 0o755 });
  try {
    const identity = fileIdentity(program);
    assert.equal(
      holdSealedCopy({ source: program, identity: "", path: program }),
      undefined,
    );
    assert.equal(
      holdSealedCopy({ source: program, identity: "", path: `${dir}/none` }),
      undefined,
    );
    await Deno.writeTextFile(program, "#!/bin/sh\necho other\n");
    assert.notEqual(fileIdentity(program), identity);
    assert.equal(fileIdentity(`${dir}/none`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
