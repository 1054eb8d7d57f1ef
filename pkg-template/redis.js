// Token storage for Node fleets in Redis: the TokenSet under `key`, compare-and-set in a Lua
// script, the renewal lease with SET NX PX (a renewer that dies frees it after `leaseMs`).
// Works with node-redis (v4/v5: `sendCommand`) and ioredis (`call`); the client is an optional
// peer dependency. This module does not load the wasm.
import { randomUUID } from "node:crypto";

const CAS = `
local cur = redis.call('GET', KEYS[1])
local a, r = '', ''
if cur then
  local t = cjson.decode(cur)
  if type(t.access_token) == 'string' then a = t.access_token end
  if type(t.refresh_token) == 'string' then r = t.refresh_token end
end
if a == ARGV[1] and r == ARGV[2] then redis.call('SET', KEYS[1], ARGV[3]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class RedisTokenStore {
  #send;
  #key;
  constructor({ client, key = "avito-auth:tokens" } = {}) {
    // ioredis first: it has a `sendCommand` too, but one that takes a Command object.
    if (client && typeof client.call === "function") this.#send = (args) => client.call(...args);
    else if (client && typeof client.sendCommand === "function") this.#send = (args) => client.sendCommand(args);
    else throw new TypeError("RedisTokenStore needs a connected node-redis or ioredis client");
    if (typeof key !== "string" || !key) throw new TypeError("key must be a non-empty string");
    this.#key = key;
  }
  async get() {
    const raw = await this.#send(["GET", this.#key]);
    return raw == null ? undefined : JSON.parse(String(raw));
  }
  async compareAndSet(expected, next) {
    const r = await this.#send(["EVAL", CAS, "1", this.#key, expected?.access_token ?? "", expected?.refresh_token ?? "", JSON.stringify(next)]);
    return Number(r) === 1;
  }
  async acquireLease(ttlMs) {
    const id = randomUUID();
    const ok = await this.#send(["SET", `${this.#key}:lease`, id, "NX", "PX", String(Math.ceil(ttlMs))]);
    return ok == null ? undefined : id;
  }
  async releaseLease(leaseId) {
    await this.#send(["EVAL", RELEASE, "1", `${this.#key}:lease`, leaseId]);
  }
}
