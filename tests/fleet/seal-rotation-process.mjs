// One Node process of the key-rotation fleet (tests/fleet/seal-rotation.test.mjs): AccountTokens
// with `seal: { keys }` over one PostgreSQL table shared by every process, against the rotating
// token server. Args: <scratchDir> <config JSON>: { name, databaseUrl, host, keys, sellers,
// runMs }. For runMs, every seller in turn calls the API through tm.fetch (renewing as its short
// tokens expire) and asks for its access token; with runMs 0, each seller asks once.
// Prints "ERROR <seller> <kind> [signInRequired] <message>" for each failure, "TOKEN <seller> <token>"
// for each token of a runMs 0 run, then "DONE <calls> <non-200 answers>".
import { pathToFileURL } from "node:url";
import pg from "pg";

const [scratch, configJson] = process.argv.slice(2);
const { name, databaseUrl, host, keys, sellers, runMs } = JSON.parse(configJson);
const { AccountTokens, AvitoAuth } = await import(pathToFileURL(`${scratch}/esm.mjs`).href);
const { PostgresTokenStore } = await import(pathToFileURL(`${scratch}/postgres.mjs`).href);

const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
pool.on("error", () => {});
const auth = new AvitoAuth({ clientId: "soak-client", clientSecret: "soak-secret", host, retries: false, timeoutMs: 5000, headers: { "x-soak-worker": name } });
// The server's tokens live 2 s; renewing 1 s before expiry renews each seller about once a second.
const accounts = new AccountTokens({ auth, store: (id) => new PostgresTokenStore({ client: pool, key: `avito:${id}` }), seal: { keys }, refreshSkewMs: 1000, leaseMs: 3000 });

let calls = 0, refused = 0;
const failed = (seller, e) => console.log(`ERROR ${seller} ${e?.kind} ${e?.signInRequired ? "signInRequired " : ""}${e?.message}`);
const deadline = Date.now() + runMs;
await Promise.all(sellers.map(async (seller, i) => {
  if (runMs === 0) {
    try {
      console.log(`TOKEN ${seller} ${await accounts.manager(seller).getAccessToken()}`);
    } catch (e) {
      failed(seller, e);
    }
    return;
  }
  await new Promise((r) => setTimeout(r, (i * 37) % 200)); // spread the sellers' calls
  while (Date.now() < deadline) {
    try {
      const answer = await accounts.manager(seller).fetch(`${host}/core/v1/accounts/self`);
      calls++;
      if (answer.status !== 200 && refused++ < 3) console.log(`REFUSED ${seller} ${answer.status} ${Date.now()}`);
      await answer.arrayBuffer();
    } catch (e) {
      failed(seller, e);
      return;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}));
console.log(`DONE ${calls} ${refused}`);
await pool.end();
