// The same demo site as a Cloudflare Worker (module syntax). Bindings: AVITO_CLIENT_ID,
// AVITO_CLIENT_SECRET, and optionally AVITO_HOST / AVITO_AUTHORIZE_URL (a mock, in tests).
// Sessions live in the isolate's memory: enough for a demo, use KV or a Durable Object in production.
import { createApp } from "./app.mjs";

let handle;
export default {
  fetch(request, env) {
    handle ??= createApp({
      clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET,
      host: env.AVITO_HOST || undefined, authorizeUrl: env.AVITO_AUTHORIZE_URL || undefined,
      mode: env.AVITO_HOST ? `Cloudflare Worker, mock Avito at ${env.AVITO_HOST}` : "Cloudflare Worker, real Avito",
    });
    return handle(request);
  },
};
