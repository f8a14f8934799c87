import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { Authorizer, parseWwwAuthenticate, type Send } from "./auth.ts";

Deno.test("parseWwwAuthenticate reads one or several challenges", () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"',
    ),
    [{
      scheme: "bearer",
      parameters: {
        realm: "https://auth.example.com/token",
        service: "registry.example.com",
        scope: "repository:a/b:pull",
      },
    }],
  );
  assert.deepEqual(
    parseWwwAuthenticate(
      'Basic realm="x \\"quoted\\"", Bearer realm=https://t/token, service = s',
    ),
    [
      { scheme: "basic", parameters: { realm: 'x "quoted"' } },
      {
        scheme: "bearer",
        parameters: { realm: "https://t/token", service: "s" },
      },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate(""), []);
  assert.deepEqual(parseWwwAuthenticate("Negotiate"), [
    { scheme: "negotiate", parameters: {} },
  ]);
});

function bearerHeaders(extra = ""): Headers {
  return new Headers({
    "www-authenticate":
      `Bearer realm="http://auth.test/token",service="svc",scope="repository:a:pull"${extra}`,
  });
}

Deno.test("Authorizer fetches Bearer tokens per scope and caches them until expiry", async () => {
  let clock = 0;
  const seen: URL[] = [];
  let n = 0;
  const send: Send = (url, request) => {
    seen.push(url);
    assert.equal(request.method, "GET");
    assert.equal(request.headers.get("authorization"), "Basic dTpw");
    return Promise.resolve(
      Response.json({ access_token: `t${++n}`, expires_in: 100 }),
    );
  };
  const auth = new Authorizer({
    credentials: () => ({ username: "u", password: "p" }),
    now: () => clock,
  });
  assert.equal(
    await auth.authorize("reg", ["repository:a:pull"], send),
    undefined,
  );
  const result = await auth.handleChallenge("reg", bearerHeaders());
  assert.deepEqual(result, { retry: true, scopes: ["repository:a:pull"] });

  const [first, again] = await Promise.all([
    auth.authorize("reg", ["repository:a:pull"], send),
    auth.authorize("reg", ["repository:a:pull"], send),
  ]);
  assert.equal(first, "Bearer t1");
  assert.equal(again, "Bearer t1");
  assert.equal(seen.length, 1);
  assert.equal(seen[0].searchParams.get("service"), "svc");
  assert.deepEqual(seen[0].searchParams.getAll("scope"), ["repository:a:pull"]);

  // Another scope set is another token.
  assert.equal(
    await auth.authorize(
      "reg",
      ["repository:b:pull,push", "repository:a:pull"],
      send,
    ),
    "Bearer t2",
  );
  assert.deepEqual(seen[1].searchParams.getAll("scope"), [
    "repository:a:pull",
    "repository:b:pull,push",
  ]);

  // Expiry (100 s, refreshed 10 s early).
  clock = 89_000;
  assert.equal(
    await auth.authorize("reg", ["repository:a:pull"], send),
    "Bearer t1",
  );
  clock = 91_000;
  assert.equal(
    await auth.authorize("reg", ["repository:a:pull"], send),
    "Bearer t3",
  );
});

Deno.test("Authorizer gives up on a refused token and on refused Basic credentials", async () => {
  const send: Send = () => Promise.resolve(Response.json({ token: "t" }));
  const auth = new Authorizer();
  await auth.handleChallenge("reg", bearerHeaders());
  const header = await auth.authorize("reg", ["repository:a:pull"], send);
  assert.equal(header, "Bearer t");
  const refused = await auth.handleChallenge(
    "reg",
    bearerHeaders(',error="insufficient_scope"'),
    header,
  );
  assert.equal(refused.retry, false);

  const basic = new Headers({ "www-authenticate": 'Basic realm="r"' });
  assert.equal(
    (await new Authorizer().handleChallenge("reg", basic)).retry,
    false,
  );
  const withCreds = new Authorizer({
    credentials: (host) =>
      host === "reg" ? { username: "u", password: "p" } : undefined,
  });
  assert.equal((await withCreds.handleChallenge("other", basic)).retry, false);
  assert.equal((await withCreds.handleChallenge("reg", basic)).retry, true);
  const sent = await withCreds.authorize("reg", [], send);
  assert.equal(sent, `Basic ${btoa("u:p")}`);
  assert.equal(
    (await withCreds.handleChallenge("reg", basic, sent)).retry,
    false,
  );
});

Deno.test("Authorizer reports token endpoint failures", async () => {
  const auth = new Authorizer();
  await auth.handleChallenge("reg", bearerHeaders());
  await assert.rejects(
    auth.authorize(
      "reg",
      ["repository:a:pull"],
      () => Promise.resolve(new Response("no", { status: 401 })),
    ),
    (err: unknown) => {
      assert.ok(BerthError.is(err, Code.Unauthenticated));
      assert.match(
        err.message,
        /failed to fetch anonymous token from http:\/\/auth.test\/token: unexpected status 401/,
      );
      return true;
    },
  );
  await assert.rejects(
    auth.authorize(
      "reg",
      ["repository:a:pull"],
      () => Promise.resolve(Response.json({})),
    ),
    /did not include a token/,
  );
});

Deno.test("Authorizer uses an identity token with the OAuth2 refresh grant", async () => {
  let body = "";
  const auth = new Authorizer({
    credentials: () => ({ username: "", password: "refresh-me" }),
  });
  await auth.handleChallenge("reg", bearerHeaders());
  const header = await auth.authorize(
    "reg",
    ["repository:a:pull"],
    (_url, request) => {
      assert.equal(request.method, "POST");
      body = new TextDecoder().decode(request.body as Uint8Array);
      return Promise.resolve(Response.json({ access_token: "oauth" }));
    },
  );
  assert.equal(header, "Bearer oauth");
  const form = new URLSearchParams(body);
  assert.equal(form.get("grant_type"), "refresh_token");
  assert.equal(form.get("refresh_token"), "refresh-me");
  assert.equal(form.get("scope"), "repository:a:pull");
});
