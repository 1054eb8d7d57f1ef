// A Node process of a fleet serving many sellers, their tokens in one PostgreSQL table. Run as
// many processes as you like: for each seller exactly one renews at a time (the lease is timed
// by the database's clock), and a rotated refresh token is written only over the set its renewal
// started from.
//   DATABASE_URL=postgres://… AVITO_CLIENT_ID=… AVITO_CLIENT_SECRET=… ACCOUNT_ID=42 node accounts.mjs
// Your sign-in callback stores a seller's tokens once:
//   await accounts.signIn(sellerId, await auth.exchangeCode(code));
import pg from "pg";
import { AccountTokens, AvitoAuth } from "avito-auth";
import { PostgresTokenStore, createTable } from "avito-auth/postgres";

export async function createAccounts({ connectionString = process.env.DATABASE_URL, host, leaseMs = 10_000, timeoutMs, maxAccounts = 1000, onTokens } = {}) {
  const pool = new pg.Pool({ connectionString, max: 10 });
  // An idle connection the server dropped (a restart, a failover): the pool replaces it; without
  // a listener Node would treat the event as an uncaught error.
  pool.on("error", () => {});
  await createTable(pool); // or run the DDL from the README in your migrations
  const auth = new AvitoAuth({ clientId: process.env.AVITO_CLIENT_ID ?? "demo-client", clientSecret: process.env.AVITO_CLIENT_SECRET ?? "demo-secret", host, retries: false, timeoutMs });
  const accounts = new AccountTokens({
    auth,
    store: (accountId) => new PostgresTokenStore({ client: pool, key: `avito:${accountId}` }),
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
