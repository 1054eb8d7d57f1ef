// A cron job that renews, ahead of time, every seller whose tokens expire within the hour, so
// that no seller's renewal waits for their next request (and a seller whose refresh token died
// is found now, not when a request fails). Safe beside the processes serving traffic: each
// renewal goes through the same protocol (the store's lease and the renewal mark).
//   */15 * * * *  DATABASE_URL=postgres://… AVITO_CLIENT_ID=… AVITO_CLIENT_SECRET=… node renew-due.mjs
// Prints one line per seller to ask for a sign-in, one per failure (stderr), then the counts as
// JSON; exits 1 when a renewal failed, so that cron's mail (or your monitor) tells you.
import { createAccounts } from "./accounts.mjs";

/** Every seller in the table: accounts.mjs keys their rows `avito:<sellerId>`. */
export async function sellerIds(pool) {
  const { rows } = await pool.query("SELECT key FROM avito_tokens WHERE key LIKE 'avito:%' ORDER BY key");
  return rows.map((r) => r.key.slice("avito:".length));
}

/** renewDue over `ids` in calls of at most 10,000 sellers; the results and their counts. */
export async function renewDueSellers(accounts, ids, { within = 3_600_000, concurrency, signal } = {}) {
  const results = [];
  for (let i = 0; i < ids.length; i += 10_000) results.push(...(await accounts.renewDue(ids.slice(i, i + 10_000), { within, concurrency, signal })));
  const counts = { renewed: 0, fresh: 0, sign_in_required: 0, failed: 0 };
  for (const r of results) counts[r.result]++;
  return { results, counts };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { accounts, pool, close } = await createAccounts({ host: process.env.AVITO_HOST });
  // One run must end before the next starts: what has not started after 10 minutes is left for
  // the next run (renewals already started finish).
  const signal = AbortSignal.timeout(10 * 60_000);
  const { results, counts } = await renewDueSellers(accounts, await sellerIds(pool), { signal });
  for (const r of results) {
    if (r.result === "sign_in_required") console.log(`sign-in required: ${r.accountId}`); // e.g. email the seller a sign-in link
    if (r.result === "failed") console.error(`failed: ${r.accountId} (${r.kind}): ${r.error?.message}`);
  }
  console.log(JSON.stringify(counts));
  await close();
  process.exitCode = counts.failed ? 1 : 0;
}
