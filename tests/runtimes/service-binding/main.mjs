// A Worker whose token requests go through a service binding (AVITO_PROXY), called from Rust as
// the caller-supplied fetch: `(url, init) => env.AVITO_PROXY.fetch(url, init)`, and the bound
// method itself.
import { AvitoAuth, ApiException } from "avito-auth";

export default {
  async fetch(request, env) {
    const { searchParams } = new URL(request.url);
    const viaMethod = searchParams.get("style") === "bound";
    const fetch = viaMethod ? env.AVITO_PROXY.fetch.bind(env.AVITO_PROXY) : (url, init) => env.AVITO_PROXY.fetch(url, init);
    const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: "https://avito-proxy.internal", fetch, retries: false });
    const out = {};
    const cc = await auth.clientCredentials();
    out.clientCredentials = { ok: typeof cc.access_token === "string", expires_at: typeof cc.expires_at === "number" };
    const user = await auth.exchangeCode(searchParams.get("code"));
    const next = await auth.refresh(user.refresh_token);
    out.rotated = next.refresh_token !== user.refresh_token;
    const err = await auth.refresh(user.refresh_token).catch((e) => e);
    out.spent = { instance: err instanceof ApiException, kind: err.kind, error: err.error, signInRequired: err.signInRequired };
    return Response.json(out);
  },
};
