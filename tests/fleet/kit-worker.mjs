// A test Worker running the store conformance kit (avito-auth/testing) inside workerd against the
// Cloudflare stores: GET /kit?store=d1 (D1TokenStore over env.DB) or ?store=durable-object
// (DurableObjectTokenStore over env.AVITO_TOKENS); with &sealed=1 each store sealed with the keys
// of env.AVITO_SEAL_KEYS ("id:key,…") and the kit's key as the context. Answers
// {"ok":true,"checks":n} or the report.
import { sealedStore } from "avito-auth";
import { verifyTokenStore } from "avito-auth/testing";
import { D1TokenStore, createTable } from "avito-auth/d1";
import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";

export { AvitoTokensDurableObject };

export default {
  async fetch(request, env) {
    const params = new URL(request.url).searchParams;
    const which = params.get("store");
    let makeStore;
    if (which === "d1") {
      await createTable(env.DB);
      makeStore = (key) => new D1TokenStore({ db: env.DB, key });
    } else if (which === "durable-object") {
      makeStore = (key) => new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName(key)));
    } else return new Response("store=d1|durable-object\n", { status: 400 });
    if (params.get("sealed") === "1") {
      const keys = env.AVITO_SEAL_KEYS.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));
      const plain = makeStore;
      makeStore = (key) => sealedStore(plain(key), { keys, context: key });
    }
    try {
      const results = await verifyTokenStore(makeStore, { keyPrefix: params.get("sealed") === "1" ? "sealed-" : "" });
      return Response.json({ ok: true, checks: results.length });
    } catch (e) {
      return Response.json({ ok: false, report: e.message });
    }
  },
};
