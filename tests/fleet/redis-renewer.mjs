// One process of the Redis fleet test: waits for the start time, asks its own TokenManager for
// a token (sharing nothing with its siblings but Redis), prints it.
// Args: <scratchDir> <redisUrl> <mockUrl> <startAtMs> <leaseMs>
import { createClient } from "redis";
import { pathToFileURL } from "node:url";

const [scratch, redisUrl, mockUrl, startAt, leaseMs] = process.argv.slice(2);
const { AvitoAuth, TokenManager } = await import(pathToFileURL(`${scratch}/esm.mjs`).href);
const { RedisTokenStore } = await import(pathToFileURL(`${scratch}/redis.mjs`).href);
const client = await createClient({ url: redisUrl }).connect();
const store = new RedisTokenStore({ client, key: "avito:tokens:acct-1" });
const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mockUrl, retries: false });
const tm = new TokenManager({ auth, grant: "refresh_token", store, leaseMs: Number(leaseMs) });
const wait = Number(startAt) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
console.log("STARTED");
try {
  console.log("TOKEN " + (await tm.getAccessToken()));
} catch (e) {
  console.log("ERROR " + e.kind + " " + e.message);
}
await client.quit();
