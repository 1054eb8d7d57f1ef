// One process of the renewDue fleet test (tests/fleet/renew-due.test.mjs): the shipped Node
// example (examples/node-postgres: accounts.mjs, renew-due.mjs) with the tarball's avito-auth,
// waiting for a common start time, then running renewDue over every seller while live traffic in
// the same process asks for tokens. Prints "RESULT <account> <result> [kind]" per seller and
// "LIVE <account> <token>" or "LIVE <account> ERROR <kind> [signInRequired]" per live call.
// Args: <exampleDir> <databaseUrl> <mockUrl> <startAtMs> <account,account,…>
import { pathToFileURL } from "node:url";

const [dir, databaseUrl, mockUrl, startAt, list] = process.argv.slice(2);
const { createAccounts } = await import(pathToFileURL(`${dir}/accounts.mjs`).href);
const { renewDueSellers } = await import(pathToFileURL(`${dir}/renew-due.mjs`).href);
const { accounts, close } = await createAccounts({ connectionString: databaseUrl, host: mockUrl, leaseMs: 10_000 });
const ids = list.split(",");
const wait = Number(startAt) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));

// Live traffic: every seller once, in a shuffled order, 16 at a time, beside renewDue.
const order = ids.map((id) => [Math.random(), id]).sort((a, b) => a[0] - b[0]).map(([, id]) => id);
const live = Promise.all(Array.from({ length: 16 }, async (_, w) => {
  for (let i = w; i < order.length; i += 16) {
    const id = order[i];
    try {
      console.log(`LIVE ${id} ${await accounts.manager(id).getAccessToken()}`);
    } catch (e) {
      console.log(`LIVE ${id} ERROR ${e.kind}${e.signInRequired ? " signInRequired" : ""}`);
    }
  }
}));
const { results } = await renewDueSellers(accounts, ids);
await live;
for (const r of results) console.log(`RESULT ${r.accountId} ${r.result}${r.kind ? ` ${r.kind}` : ""}`);
await close();
