// A Node process of a fleet sharing one Avito account's tokens through Redis. Run as many as
// you like: exactly one renews at a time; a renewer that dies frees its lease after leaseMs.
//   REDIS_URL=redis://127.0.0.1:6379 AVITO_CLIENT_ID=… AVITO_CLIENT_SECRET=… node renewer.mjs
// (Tokens must be stored once under the key first, e.g. by your sign-in callback:
//  await new RedisTokenStore({ client, key }).compareAndSet(undefined, tokenSetFromExchangeCode).)
import { createClient } from "redis";
import { AvitoAuth, TokenManager } from "avito-auth";
import { RedisTokenStore } from "avito-auth/redis";

export async function createManager({ redisUrl = process.env.REDIS_URL, key = "avito:tokens:default", host, leaseMs = 10_000, onTokens } = {}) {
  const client = await createClient({ url: redisUrl }).connect();
  const auth = new AvitoAuth({ clientId: process.env.AVITO_CLIENT_ID ?? "demo-client", clientSecret: process.env.AVITO_CLIENT_SECRET ?? "demo-secret", host, retries: false });
  const tm = new TokenManager({ auth, grant: "refresh_token", store: new RedisTokenStore({ client, key }), leaseMs, onTokens });
  return { tm, close: () => client.quit() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { tm, close } = await createManager({ host: process.env.AVITO_HOST });
  console.log(await tm.authorizationHeader());
  await close();
}
