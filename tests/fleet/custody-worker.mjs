// One process of the custody fleet tests (tests/fleet/custody.test.mjs): a TokenManager and an
// AccountTokens from the tarball over one account's row in PostgreSQL or Redis, driven by
// commands on stdin, one answer line each, in order:
//   token             → "TOKEN <access token>" or "ERROR <kind> [signInRequired] <message>"
//   signout-manager   → TokenManager.signOut():        "SIGNED_OUT" or the ERROR line
//   signout-accounts  → AccountTokens.signOut(<key>):  "SIGNED_OUT" or the ERROR line
// Prints "READY" once connected; ends when stdin closes.
// Args: <scratchDir> <postgres|redis> <databaseUrl> <tokenServerUrl> <key> <leaseMs> <timeoutMs>
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [scratch, backend, databaseUrl, host, key, leaseMs, timeoutMs] = process.argv.slice(2);
const scratchImport = (file) => import(pathToFileURL(`${scratch}/${file}`).href);
const { AccountTokens, AvitoAuth, TokenManager } = await scratchImport("esm.mjs");

let storeOf, close;
if (backend === "postgres") {
  const { default: pg } = await import("pg");
  const { PostgresTokenStore } = await scratchImport("postgres.mjs");
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // A connection the server dropped (the crash test) is replaced; unheard, Node would crash.
  pool.on("error", () => {});
  storeOf = (k) => new PostgresTokenStore({ client: pool, key: k });
  close = () => pool.end();
} else {
  const { createClient } = await import("redis");
  const { RedisTokenStore } = await scratchImport("redis.mjs");
  const client = await createClient({ url: databaseUrl }).on("error", () => {}).connect();
  storeOf = (k) => new RedisTokenStore({ client, key: k });
  close = () => client.quit();
}

const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host, retries: false, timeoutMs: Number(timeoutMs) });
const tm = new TokenManager({ auth, grant: "refresh_token", store: storeOf(key), leaseMs: Number(leaseMs) });
const accounts = new AccountTokens({ auth, store: storeOf, leaseMs: Number(leaseMs) });
const commands = {
  token: async () => `TOKEN ${await tm.getAccessToken()}`,
  "signout-manager": async () => (await tm.signOut(), "SIGNED_OUT"),
  "signout-accounts": async () => (await accounts.signOut(key), "SIGNED_OUT"),
};

console.log("READY");
// Commands run one after another: answers come in the order asked.
let previous = Promise.resolve();
for await (const line of createInterface({ input: process.stdin })) {
  const command = commands[line.trim()];
  previous = previous.then(async () => {
    try {
      console.log(command ? await command() : `ERROR unknown_command ${line}`);
    } catch (e) {
      console.log(`ERROR ${e.kind} ${e.signInRequired ? "signInRequired " : ""}${e.message}`);
    }
  });
}
await previous;
await close();
