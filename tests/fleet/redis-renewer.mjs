// One process of the Redis fleet test: the shipped example (examples/node-redis/renewer.mjs)
// with the tarball's avito-auth, waiting for a common start time before asking for a token.
// Args: <scratchDir> <redisUrl> <tokenServerUrl> <startAtMs> <leaseMs> [options JSON]
// With options ({ clientId, clientSecret, timeoutMs, strictRotation }) the manager is built here
// the same way with those settings (the example keeps its defaults: a 30 s timeout).
import { pathToFileURL } from "node:url";

const [scratch, redisUrl, host, startAt, leaseMs, optionsJson] = process.argv.slice(2);
const key = "avito:tokens:acct-1";
let tm, close;
if (optionsJson) {
  const o = JSON.parse(optionsJson);
  const { AvitoAuth, TokenManager } = await import(pathToFileURL(`${scratch}/esm.mjs`).href);
  const { RedisTokenStore } = await import(pathToFileURL(`${scratch}/redis.mjs`).href);
  const { createClient } = await import("redis");
  const client = await createClient({ url: redisUrl }).connect();
  const auth = new AvitoAuth({ clientId: o.clientId, clientSecret: o.clientSecret, host, retries: false, timeoutMs: o.timeoutMs, headers: { "x-soak-worker": `pid${process.pid}` } });
  tm = new TokenManager({ auth, grant: "refresh_token", store: new RedisTokenStore({ client, key }), leaseMs: Number(leaseMs), strictRotation: !!o.strictRotation });
  close = () => client.quit();
} else {
  const { createManager } = await import(pathToFileURL(`${scratch}/node-redis-renewer.mjs`).href);
  ({ tm, close } = await createManager({ redisUrl, key, host, leaseMs: Number(leaseMs) }));
}
const wait = Number(startAt) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
try {
  console.log("TOKEN " + (await tm.getAccessToken()));
} catch (e) {
  console.log("ERROR " + e.kind + " " + (e.signInRequired ? "signInRequired " : "") + e.message);
}
await close();
