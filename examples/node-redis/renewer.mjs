// A Node process of a fleet sharing one Avito account's tokens through Redis. Run as many as
// you like: exactly one renews at a time; a renewer that dies frees its lease after leaseMs.
//   REDIS_URL=redis://127.0.0.1:6379 AVITO_CLIENT_ID=… AVITO_CLIENT_SECRET=… AVITO_SEAL_KEYS=… node renewer.mjs
// AVITO_SEAL_KEYS seals the tokens at rest (README "Tokens at rest"): Redis then holds
// fingerprints and ciphertext, never a token, in the value, its DUMP and the RDB/AOF files.
// `id:key` pairs, comma-separated; each key is 32 random bytes in base64 (`openssl rand -base64 32`),
// each id a name of yours ("2026-12"). The first key seals, every key opens. Rotating: add the new
// key LAST on every process, then move it first, process by process; run `reseal()`; drop the old
// key. Without AVITO_SEAL_KEYS the tokens are stored in plaintext (a development Redis only).
// (Tokens must be stored once under the key first, e.g. by your sign-in callback:
//  await (await createManager()).store.compareAndSet(undefined, tokenSetFromExchangeCode).)
import { createClient } from "redis";
import { AvitoAuth, TokenManager, sealedStore } from "avito-auth";
import { RedisTokenStore } from "avito-auth/redis";

/** AVITO_SEAL_KEYS as `sealedStore`'s `keys`: "id:key,id:key" → [{ id, key }] (undefined when unset). */
export const sealKeysFrom = (text) => text?.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));

export async function createManager({ redisUrl = process.env.REDIS_URL, key = "avito:tokens:default", host, leaseMs = 10_000, onTokens, sealKeys = sealKeysFrom(process.env.AVITO_SEAL_KEYS) } = {}) {
  const client = await createClient({ url: redisUrl }).connect();
  const auth = new AvitoAuth({ clientId: process.env.AVITO_CLIENT_ID ?? "demo-client", clientSecret: process.env.AVITO_CLIENT_SECRET ?? "demo-secret", host, retries: false });
  // The key is the context: a value copied under another account's key does not open.
  const plain = new RedisTokenStore({ client, key });
  const store = sealKeys ? sealedStore(plain, { keys: sealKeys, context: key }) : plain;
  const tm = new TokenManager({ auth, grant: "refresh_token", store, leaseMs, onTokens });
  return { tm, store, close: () => client.quit() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { tm, close } = await createManager({ host: process.env.AVITO_HOST });
  console.log(await tm.authorizationHeader());
  await close();
}
