// err.stack of an async and a sync ApiException, for Deno, Bun and workerd (and Node). The
// caller's frames are asyncCaller (line 7) and syncCaller (line 11).
import { AvitoAuth } from "avito-auth";

export async function asyncCaller(host) {
  const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "not-the-secret-4711", host, retries: false });
  await auth.clientCredentials();
}

export function syncCaller() {
  return new AvitoAuth({ clientId: "demo-client" });
}

export async function stacks(host) {
  const out = {};
  try { await asyncCaller(host); } catch (e) { out.async = { name: e.name, kind: e.kind, stack: e.stack }; }
  try { syncCaller(); } catch (e) { out.sync = { name: e.name, kind: e.kind, stack: e.stack }; }
  return out;
}

const host = globalThis.Deno?.args?.[0] ?? (globalThis.process?.argv?.[1]?.endsWith("stacks.mjs") ? globalThis.process.argv[2] : undefined);
if (host) console.log(`STACKS ${JSON.stringify(await stacks(host))}`);
