// One Deno process of the Deno KV tests, run from the scratch project (the tarball's avito-auth),
// all sharing one KV file. With AVITO_SEAL_KEYS ("id:key,…", the first seals) in the environment,
// seed, read and the example seal (context: the account key "acct-1"). Modes:
//   seed  <kvPath> <tokenSetJson>                      store a TokenSet under "acct-1"
//   read  <kvPath>                                     print "SET <json>"
//   renew <kvPath> <mockUrl> <startAtMs> <leaseMs>     the shipped example; "TOKEN …" or "ERROR …"
//   kit   <kvPath>                                     the conformance kit, plain then sealed; "KIT ok" or "KIT <report>"
//   dump  <kvPath>                                     every entry, kv.list() of the whole KV: "DUMP <json>"
import { sealedStore } from "avito-auth";
import { DenoKvTokenStore } from "avito-auth/deno-kv";

const [mode, kvPath, ...rest] = Deno.args;
const sealKeys = Deno.env.get("AVITO_SEAL_KEYS")?.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));
const storeOf = (kv, key) => (sealKeys ? sealedStore(new DenoKvTokenStore({ kv, key }), { keys: sealKeys, context: key }) : new DenoKvTokenStore({ kv, key }));
if (mode === "seed" || mode === "read") {
  const kv = await Deno.openKv(kvPath);
  const store = storeOf(kv, "acct-1");
  if (mode === "seed") {
    await kv.delete(["avito-auth", "acct-1", "lease"]);
    await kv.delete(["avito-auth", "acct-1", "tokens"]);
    console.log("SEEDED " + (await store.compareAndSet(undefined, JSON.parse(rest[0]))));
  } else console.log("SET " + JSON.stringify(await store.get()));
  kv.close();
} else if (mode === "renew") {
  const [mockUrl, startAt, leaseMs] = rest;
  const { createManager } = await import("./deno-kv-renewer.mjs");
  const { tm, close } = await createManager({ kvPath, key: "acct-1", host: mockUrl, leaseMs: Number(leaseMs) });
  const wait = Number(startAt) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  try {
    console.log("TOKEN " + (await tm.getAccessToken()));
  } catch (e) {
    console.log("ERROR " + e.kind + " " + e.message);
  }
  close();
} else if (mode === "kit") {
  const { verifyTokenStore } = await import("avito-auth/testing");
  // Two KV handles on the one file: the kit's "two handles on the same data" are two connections.
  const kvs = [await Deno.openKv(kvPath), await Deno.openKv(kvPath)];
  let n = 0;
  try {
    const plain = await verifyTokenStore((key) => new DenoKvTokenStore({ kv: kvs[n++ % 2], key }));
    const keys = [{ id: "kit-new", key: crypto.getRandomValues(new Uint8Array(32)) }, { id: "kit-old", key: crypto.getRandomValues(new Uint8Array(32)) }];
    const sealed = await verifyTokenStore((key) => sealedStore(new DenoKvTokenStore({ kv: kvs[n++ % 2], key }), { keys, context: key }), { keyPrefix: "sealed-" });
    console.log(`KIT ok ${plain.length} ${sealed.length}`);
  } catch (e) {
    console.log("KIT " + JSON.stringify(e.message));
  }
  for (const kv of kvs) kv.close();
} else if (mode === "dump") {
  const kv = await Deno.openKv(kvPath);
  const entries = [];
  for await (const entry of kv.list({ prefix: [] })) entries.push({ key: entry.key, value: entry.value });
  console.log("DUMP " + JSON.stringify(entries));
  kv.close();
}
