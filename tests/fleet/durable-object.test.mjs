// Renewal across Worker invocations under workerd: each request builds its own TokenManager
// (no shared memory), and the AvitoTokensDurableObject serialises the renewal.
import { it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";


it("workerd + Durable Object: 60 concurrent requests, exactly one refresh, everyone gets the new token", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 300; // keep the renewal in flight while the other requests arrive
  const dir = path.join(SCRATCH, "do-worker");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(SCRATCH, "do-worker.mjs"), `
    import { AvitoAuth, TokenManager } from "avito-auth";
    import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";
    export { AvitoTokensDurableObject };
    export default {
      async fetch(request, env) {
        const store = new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName("account-42")));
        const url = new URL(request.url);
        if (url.pathname === "/seed") {
          await store.compareAndSet(await store.get(), await request.json());
          return new Response("seeded");
        }
        if (url.pathname === "/stored") return Response.json(await store.get());
        const auth = new AvitoAuth({ clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, host: env.AVITO_HOST });
        const tm = new TokenManager({ auth, grant: "refresh_token", store, leaseMs: 5000 });
        return new Response(await tm.getAccessToken());
      },
    };`);
  const script = await bundleWithWrangler(path.join(SCRATCH, "do-worker.mjs"), dir);
  const mf = await startWorker(script, {
    durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" },
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url },
  });
  try {
    const seed = { access_token: "expired", refresh_token: mock.grantRefresh(), expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
    assert.equal(await (await mf.dispatchFetch("http://w/seed", { method: "POST", body: JSON.stringify(seed) })).text(), "seeded");
    const responses = await Promise.all(Array.from({ length: 60 }, () => mf.dispatchFetch("http://w/token")));
    const tokens = await Promise.all(responses.map((r) => r.text()));
    assert.ok(responses.every((r) => r.status === 200), tokens.find((t) => !t.startsWith("at_")));
    assert.equal(new Set(tokens).size, 1, "every request got the same token");
    assert.notEqual(tokens[0], "expired");
    assert.equal(mock.counts.refresh, 1, "exactly one refresh reached the token server");
    const stored = await (await mf.dispatchFetch("http://w/stored")).json();
    assert.equal(stored.access_token, tokens[0]);
    assert.notEqual(stored.refresh_token, seed.refresh_token, "the rotated refresh token is stored");
  } finally {
    await mf.dispose();
    await mock.close();
  }
});
