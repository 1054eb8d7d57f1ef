// A Deno process (or a Deno Deploy isolate) renewing a seller's Avito tokens kept in Deno KV.
// Run as many as you like on one KV: exactly one renews at a time.
//   deno run --unstable-kv --allow-net --allow-env --allow-read --allow-write renewer.mjs
// (deno.json: { "imports": { "avito-auth": "npm:avito-auth", "avito-auth/": "npm:avito-auth/" } })
// Your sign-in callback stores the tokens once:
//   await new DenoKvTokenStore({ kv, key }).compareAndSet(undefined, await auth.exchangeCode(code));
import { AvitoAuth, TokenManager } from "avito-auth";
import { DenoKvTokenStore } from "avito-auth/deno-kv";

export async function createManager({ kvPath, key = "default", host, leaseMs = 10_000 } = {}) {
  // No path: Deno Deploy's KV (or a local default); a path: a SQLite file shared on this host.
  const kv = await Deno.openKv(kvPath);
  const auth = new AvitoAuth({ clientId: Deno.env.get("AVITO_CLIENT_ID") ?? "demo-client", clientSecret: Deno.env.get("AVITO_CLIENT_SECRET") ?? "demo-secret", host, retries: false });
  const store = new DenoKvTokenStore({ kv, key });
  const tm = new TokenManager({ auth, grant: "refresh_token", store, leaseMs });
  return { tm, store, kv, close: () => kv.close() };
}

if (import.meta.main) {
  const { tm, close } = await createManager({ kvPath: Deno.env.get("KV_PATH"), key: Deno.env.get("ACCOUNT_ID") ?? "default", host: Deno.env.get("AVITO_HOST") });
  console.log(await tm.authorizationHeader());
  close();
}
