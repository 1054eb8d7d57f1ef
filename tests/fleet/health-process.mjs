// One process of the status() test in tests/fleet/postgres.test.mjs: the tarball's AccountTokens
// over PostgresTokenStore, doing one thing for one account and printing its result as
// "RESULT <json>" (with every event it saw).
// Args: <scratchDir> <databaseUrl> <mockUrl> <token|fetch|status|signout> <account> [apiPath]
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const [scratch, databaseUrl, mockUrl, action, account, apiPath] = process.argv.slice(2);
const lib = await import(pathToFileURL(`${scratch}/esm.mjs`).href);
const { PostgresTokenStore } = await import(pathToFileURL(`${scratch}/postgres.mjs`).href);
const pg = createRequire(`${scratch}/package.json`)("pg");
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const events = [];
const accounts = new lib.AccountTokens({
  auth: new lib.AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mockUrl }),
  store: (id) => new PostgresTokenStore({ client: pool, key: `avito:${id}` }),
  onEvent: (e) => events.push(e),
});
const result = { events };
try {
  if (action === "token") result.token = await accounts.manager(account).getAccessToken();
  if (action === "fetch") {
    result.status = (await accounts.manager(account).fetch(`${mockUrl}${apiPath}`)).status;
    // The scopes found missing are written in the background: wait (bounded) until they are stored.
    for (let i = 0; i < 50 && !(await accounts.status(account)).missingScopes; i++) await new Promise((r) => setTimeout(r, 20));
  }
  if (action === "signout") await accounts.signOut(account);
  if (action === "status") result.health = await accounts.status(account);
} catch (e) {
  result.error = { kind: e.kind, status: e.status, error: e.error, signInRequired: e.signInRequired };
}
await pool.end();
console.log(`RESULT ${JSON.stringify(result)}`);
