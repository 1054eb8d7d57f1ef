// A Cloudflare service binding as the caller-supplied fetch, under real workerd: the Rust crate
// calls it as fetch(url, init) (README "fetch" option), both as a closure and as the bound method.
import { it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { bundleWithWrangler } from "../support/worker.mjs";

it("token requests through a workerd service binding (closure and bound method)", async () => {
  const mock = await startMockAvito();
  const dir = path.join(SCRATCH, "service-binding");
  mkdirSync(dir, { recursive: true });
  for (const f of ["main.mjs", "proxy.mjs"]) copyFileSync(path.join(ROOT, "tests/runtimes/service-binding", f), path.join(SCRATCH, `sb-${f}`));
  const main = await bundleWithWrangler(path.join(SCRATCH, "sb-main.mjs"), dir);
  const proxy = await bundleWithWrangler(path.join(SCRATCH, "sb-proxy.mjs"), dir);
  const { Miniflare } = await import(path.join(ROOT, "node_modules/miniflare/dist/src/index.js"));
  const rules = [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }];
  const mf = new Miniflare({
    workers: [
      { name: "main", modules: true, scriptPath: main, modulesRules: rules, compatibilityDate: "2025-09-01", serviceBindings: { AVITO_PROXY: "proxy" } },
      { name: "proxy", modules: true, scriptPath: proxy, modulesRules: rules, compatibilityDate: "2025-09-01", bindings: { UPSTREAM: mock.url } },
    ],
  });
  try {
    for (const style of ["closure", "bound"]) {
      mock.reset();
      const res = await mf.dispatchFetch(`http://w/?style=${style}&code=${encodeURIComponent(mock.grantCode())}`);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      const out = JSON.parse(body);
      assert.deepEqual(out.clientCredentials, { ok: true, expires_at: true });
      assert.equal(out.rotated, true);
      assert.deepEqual(out.spent, { instance: true, kind: "oauth", error: "invalid_grant", signInRequired: true });
      assert.equal(mock.requests.length, 4, style);
      for (const req of mock.requests) {
        assert.equal(req.headers["x-via-binding"], "1", "went through the binding");
        assert.equal(req.headers["content-type"], "application/x-www-form-urlencoded");
        assert.equal(req.form.client_secret, "demo-secret");
      }
      assert.deepEqual(mock.requests.map((r) => r.form.grant_type), ["client_credentials", "authorization_code", "refresh_token", "refresh_token"]);
    }
  } finally {
    await mf.dispose();
    await mock.close();
  }
});
