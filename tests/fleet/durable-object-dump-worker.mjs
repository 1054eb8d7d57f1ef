// The shipped Durable Object example Worker (examples/worker-durable-object/worker.mjs, copied
// beside this file as do-example.mjs) with one test-only route: GET /__storage?account=… answers
// that account's Durable Object storage, list()ed whole, for the test to sweep for tokens.
import example from "./do-example.mjs";
import { AvitoTokensDurableObject as Shipped } from "avito-auth/durable-object";

export class AvitoTokensDurableObject extends Shipped {
  async fetch(request) {
    if (new URL(request.url).pathname === "/__storage") return Response.json(Object.fromEntries(await this.storage.list()));
    return super.fetch(request);
  }
}

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/__storage") return example.fetch(request, env);
    return env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName(url.searchParams.get("account"))).fetch("https://storage.internal/__storage");
  },
};
