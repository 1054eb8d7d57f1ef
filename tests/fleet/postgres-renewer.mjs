// One process of the PostgreSQL fleet tests: the shipped example (examples/node-postgres/
// accounts.mjs) with the tarball's avito-auth, waiting for a common start time, then asking for a
// token for every account given (all at once). Prints "TOKEN <account> <token>" or
// "ERROR <account> <kind> [signInRequired] <message>" per account.
// Args: <scratchDir> <databaseUrl> <mockUrl> <startAtMs> <leaseMs> <account,account,…>
import { pathToFileURL } from "node:url";

const [scratch, databaseUrl, mockUrl, startAt, leaseMs, list] = process.argv.slice(2);
const { createAccounts } = await import(pathToFileURL(`${scratch}/node-postgres-accounts.mjs`).href);
const timeoutMs = process.env.AVITO_TIMEOUT_MS ? Number(process.env.AVITO_TIMEOUT_MS) : undefined;
const { accounts, close } = await createAccounts({ connectionString: databaseUrl, host: mockUrl, leaseMs: Number(leaseMs), timeoutMs });
const wait = Number(startAt) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
console.log("READY");
await Promise.all(list.split(",").map(async (account) => {
  try {
    console.log(`TOKEN ${account} ${await accounts.manager(account).getAccessToken()}`);
  } catch (e) {
    console.log(`ERROR ${account} ${e.kind} ${e.signInRequired ? "signInRequired " : ""}${e.message}`);
  }
}));
await close();
