// A Deno process (or a Deno Deploy isolate) renewing a seller's Avito tokens kept in Deno KV.
// Run as many as you like on one KV: exactly one renews at a time.
//   deno run --unstable-kv --allow-net --allow-env --allow-read --allow-write renewer.mjs
// (deno.json: { "imports": { "avito-auth": "npm:avito-auth", "avito-auth/": "npm:avito-auth/" } })
// AVITO_SEAL_KEYS seals the tokens at rest (README "Tokens at rest"): KV then holds fingerprints
// and ciphertext, never a token. `id:key` pairs, comma-separated; each key is 32 random bytes in
// base64 (`openssl rand -base64 32`), each id a name of yours ("2026-12"). The first key seals,
// every key opens. Rotating: add the new key LAST everywhere, then move it first; run `reseal()`;
// drop the old key. Without AVITO_SEAL_KEYS the tokens are stored in plaintext (development only).
// Your sign-in callback stores the tokens once:
//   await (await createManager({ key })).store.compareAndSet(undefined, await auth.exchangeCode(code));
import { AvitoAuth, TokenManager, sealedStore } from "avito-auth";
import { DenoKvTokenStore } from "avito-auth/deno-kv";

/** AVITO_SEAL_KEYS as `sealedStore`'s `keys`: "id:key,id:key" → [{ id, key }] (undefined when unset). */
export const sealKeysFrom = (text) => text?.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));

export async function createManager({ kvPath, key = "default", host, leaseMs = 10_000, sealKeys = sealKeysFrom(Deno.env.get("AVITO_SEAL_KEYS")) } = {}) {
  // No path: Deno Deploy's KV (or a local default); a path: a SQLite file shared on this host.
  const kv = await Deno.openKv(kvPath);
  const auth = new AvitoAuth({ clientId: Deno.env.get("AVITO_CLIENT_ID") ?? "demo-client", clientSecret: Deno.env.get("AVITO_CLIENT_SECRET") ?? "demo-secret", host, retries: false });
  // The account key is the context: a value copied under another account does not open.
  const plain = new DenoKvTokenStore({ kv, key });
  const store = sealKeys ? sealedStore(plain, { keys: sealKeys, context: key }) : plain;
  const tm = new TokenManager({ auth, grant: "refresh_token", store, leaseMs });
  return { tm, store, kv, close: () => kv.close() };
}

if (import.meta.main) {
  const { tm, close } = await createManager({ kvPath: Deno.env.get("KV_PATH"), key: Deno.env.get("ACCOUNT_ID") ?? "default", host: Deno.env.get("AVITO_HOST") });
  console.log(await tm.authorizationHeader());
  close();
}
