// A Node process of a fleet serving many sellers, their tokens in one PostgreSQL table. Run as
// many processes as you like: for each seller exactly one renews at a time (the lease is timed
// by the database's clock), and a rotated refresh token is written only over the set its renewal
// started from.
//   DATABASE_URL=postgres://… AVITO_CLIENT_ID=… AVITO_CLIENT_SECRET=… AVITO_SEAL_KEYS=… ACCOUNT_ID=42 node accounts.mjs
// AVITO_SEAL_KEYS seals every seller's tokens at rest (README "Tokens at rest"): the table then
// holds fingerprints and ciphertext, never a token. `id:key` pairs, comma-separated; each key is
// 32 random bytes in base64 (`openssl rand -base64 32`), each id a name of yours ("2026-12").
// The first key seals, every key opens. Rotating: add the new key LAST on every process, then
// move it first, process by process; run `reseal()` over every seller; drop the old key.
// Without AVITO_SEAL_KEYS the tokens are stored in plaintext (a development database only).
// Your sign-in callback stores a seller's tokens once:
//   await accounts.signIn(sellerId, await auth.exchangeCode(code));
import pg from "pg";
import { AccountTokens, AvitoAuth } from "avito-auth";
import { PostgresTokenStore, createTable } from "avito-auth/postgres";

/** AVITO_SEAL_KEYS as `sealedStore`'s `keys`: "id:key,id:key" → [{ id, key }] (undefined when unset). */
export const sealKeysFrom = (text) => text?.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));

export async function createAccounts({ connectionString = process.env.DATABASE_URL, host, leaseMs = 10_000, timeoutMs, maxAccounts = 1000, onTokens, sealKeys = sealKeysFrom(process.env.AVITO_SEAL_KEYS) } = {}) {
  const pool = new pg.Pool({ connectionString, max: 10 });
  // An idle connection the server dropped (a restart, a failover): the pool replaces it; without
  // a listener Node would treat the event as an uncaught error.
  pool.on("error", () => {});
  await createTable(pool); // or run the DDL from the README in your migrations
  const auth = new AvitoAuth({ clientId: process.env.AVITO_CLIENT_ID ?? "demo-client", clientSecret: process.env.AVITO_CLIENT_SECRET ?? "demo-secret", host, retries: false, timeoutMs });
  const accounts = new AccountTokens({
    auth,
    store: (accountId) => new PostgresTokenStore({ client: pool, key: `avito:${accountId}` }),
    // Every account's store sealed, with its account id as the context: a row copied to another
    // seller's key does not open.
    seal: sealKeys && { keys: sealKeys },
    maxAccounts,
    leaseMs,
    onTokens,
  });
  return { auth, accounts, pool, close: () => pool.end() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { accounts, close } = await createAccounts({ host: process.env.AVITO_HOST });
  console.log(await accounts.manager(process.env.ACCOUNT_ID ?? "default").authorizationHeader());
  await close();
}
