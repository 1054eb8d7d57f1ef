// A TokenStore over a shared Map, as a database would hold it (JSON text per key): `mapStores()`
// returns makeStore(key); handles made for one key share that key's row. `broken` switches on one
// flaw, for the conformance kit's own tests (tests/node/store-kit.test.mjs). `rows` exposes the data.
// The compare rule is the package's own (store-protocol.js, as installed from the tarball).
import path from "node:path";
import { pathToFileURL } from "node:url";
import { SCRATCH } from "./load.mjs";

const { asText: text, tokensMatch: matches } = await import(pathToFileURL(path.join(SCRATCH, "node_modules/avito-auth/store-protocol.js")).href);
const tick = () => new Promise((r) => setTimeout(r, 1));

/** A correct store over a shared Map (JSON copies, like a database), with one flaw switched on by `broken`. */
export function mapStores(broken = null) {
  const data = new Map();
  const make = (key) => {
    if (!data.has(key)) data.set(key, { json: undefined, lease: null });
    const row = data.get(key);
    let n = 0;
    return {
      async get() {
        if (broken === "hang") await new Promise(() => {});
        if (row.json === undefined) return broken === "null-when-empty" ? null : undefined;
        const v = JSON.parse(row.json);
        if (broken === "drops-unknown") return { access_token: v.access_token, refresh_token: v.refresh_token, expires_at: v.expires_at, token_type: v.token_type, expires_in: v.expires_in };
        return v;
      },
      async compareAndSet(expected, next) {
        const stored = row.json === undefined ? undefined : JSON.parse(row.json);
        if (broken === "not-atomic") await tick();
        let ok = matches(stored, expected);
        if (broken === "ignores-renewal-id" && expected != null && stored != null) ok = text(stored.access_token) === text(expected.access_token) && text(stored.refresh_token) === text(expected.refresh_token);
        if (broken === "overwrites-when-empty-expected" && expected == null) ok = true;
        if (!ok) return false;
        row.json = JSON.stringify(next);
        return true;
      },
      async acquireLease(ttl) {
        if (broken === "lease-not-exclusive") return `lease-${++n}`;
        const now = Date.now();
        if (row.lease && (broken === "lease-never-expires" || row.lease.until > now)) return undefined;
        row.lease = { id: `lease-${key}-${Math.random()}`, until: now + ttl };
        return row.lease.id;
      },
      async releaseLease(id) {
        if (broken === "release-any-id" || row.lease?.id === id) row.lease = null;
      },
    };
  };
  make.rows = data;
  return make;
}
