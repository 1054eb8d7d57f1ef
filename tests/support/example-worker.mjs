// A Worker from this repository under workerd, against the packed avito-auth of the scratch
// project, and the renewal storm the example Workers (examples/worker-*/worker.mjs) are tested with.
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "./load.mjs";
import { bundleWithWrangler, startWorker } from "./worker.mjs";

/**
 * Copies `source` (a module Worker, relative to the repository) into the scratch project as
 * `<name>.mjs`, so that `import "avito-auth"` resolves to the tarball, bundles it with wrangler
 * into `<name>/` and runs it; `options` go to Miniflare (bindings, d1Databases, durableObjects…).
 */
export async function startRepoWorker(source, name, options = {}) {
  const entry = path.join(SCRATCH, `${name}.mjs`);
  copyFileSync(path.join(ROOT, source), entry);
  return startWorker(await bundleWithWrangler(entry, path.join(SCRATCH, name)), options);
}

/**
 * Stores an expired TokenSet for `account` (POST /tokens; its refresh token is one the mock
 * accepts), then sends `requests` concurrent GET /token. Every request must be answered 200 with
 * the same token, renewed by exactly one refresh grant; resolves with that token.
 */
export async function renewalStorm(mf, mock, { account = "42", requests = 60 } = {}) {
  const expired = { access_token: "expired", refresh_token: mock.grantRefresh(), expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
  const stored = await mf.dispatchFetch(`http://w/tokens?account=${account}`, { method: "POST", body: JSON.stringify(expired) });
  assert.equal(await stored.text(), "stored\n");
  const refreshesBefore = mock.counts.refresh;
  const responses = await Promise.all(Array.from({ length: requests }, () => mf.dispatchFetch(`http://w/token?account=${account}`)));
  const bodies = await Promise.all(responses.map((r) => r.text()));
  assert.deepEqual(responses.map((r) => r.status).filter((s) => s !== 200), [], bodies.find((b) => !b.startsWith("at_")));
  assert.deepEqual([...new Set(bodies)], [bodies[0]], "every request got the same token");
  assert.equal(mock.counts.refresh - refreshesBefore, 1, "exactly one refresh reached the token server");
  return bodies[0];
}
