// One process of the Redis fleet test: the shipped example (examples/node-redis/renewer.mjs)
// with the tarball's avito-auth, waiting for a common start time before asking for a token.
// Args: <scratchDir> <redisUrl> <mockUrl> <startAtMs> <leaseMs>
import { pathToFileURL } from "node:url";

const [scratch, redisUrl, mockUrl, startAt, leaseMs] = process.argv.slice(2);
const { createManager } = await import(pathToFileURL(`${scratch}/node-redis-renewer.mjs`).href);
const { tm, close } = await createManager({ redisUrl, key: "avito:tokens:acct-1", host: mockUrl, leaseMs: Number(leaseMs) });
const wait = Number(startAt) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
try {
  console.log("TOKEN " + (await tm.getAccessToken()));
} catch (e) {
  console.log("ERROR " + e.kind + " " + (e.signInRequired ? "signInRequired " : "") + e.message);
}
await close();
