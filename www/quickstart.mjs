// The quickstart: every grant and an authorization URL, printed with their types.
// Without AVITO_CLIENT_ID / AVITO_CLIENT_SECRET it runs against a local mock Avito on 127.0.0.1;
// with them it runs client_credentials against the real API (https://api.avito.ru).
import { AvitoAuth, ApiException, Configuration, ApiClient, AccessApi, ApplicationAccessApi } from "avito-auth";

const mask = (t) => (typeof t === "string" ? `${t.slice(0, 4)}…(${t.length} chars)` : t);
const show = (label, ts) => {
  const view = Object.fromEntries(Object.entries(ts).map(([k, v]) => [k, /_token$/.test(k) ? mask(v) : v]));
  console.log(`${label}:`, view);
  console.log(`  types: ${Object.entries(ts).map(([k, v]) => `${k}: ${typeof v}`).join(", ")}`);
};

const real = process.env.AVITO_CLIENT_ID && process.env.AVITO_CLIENT_SECRET;
if (real) {
  console.log("Using the real Avito API (client_credentials only: the other grants need a user's consent).");
  const auth = new AvitoAuth({ clientId: process.env.AVITO_CLIENT_ID, clientSecret: process.env.AVITO_CLIENT_SECRET });
  try {
    show("client_credentials", await auth.clientCredentials());
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    console.log(`ApiException kind=${e.kind} status=${e.status} error=${e.error}: ${e.message}`);
    process.exitCode = 1;
  }
  console.log("authorization URL:", auth.authorizationUrl({ scope: ["messenger:read", "items:info"] }));
} else {
  const { startMockAvito } = await import("../tests/support/mock-avito.mjs");
  const mock = await startMockAvito();
  console.log(`No AVITO_CLIENT_ID/AVITO_CLIENT_SECRET: using a local mock Avito at ${mock.url}\n`);
  const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url });

  show("clientCredentials()", await auth.clientCredentials());
  const code = mock.grantCode("demo-client", "messenger:read,items:info"); // what the consent page would hand out
  const tokens = await auth.exchangeCode(code);
  show("exchangeCode(code)", tokens);
  const rotated = await auth.refresh(tokens.refresh_token);
  show("refresh(refresh_token)", rotated);
  console.log(`  the refresh token rotated: ${rotated.refresh_token !== tokens.refresh_token}`);

  // The generated-client shape, same parameter order as the Python client:
  const client = new ApiClient(new Configuration({ host: mock.url }));
  show("AccessApi.getAccessToken", await new AccessApi(client).getAccessToken("demo-client", "demo-secret"));
  const app = new ApplicationAccessApi(client);
  show("ApplicationAccessApi.refreshAccessTokenAuthorizationCode", await app.refreshAccessTokenAuthorizationCode("demo-client", "demo-secret", undefined, rotated.refresh_token));

  try {
    await auth.refresh(tokens.refresh_token); // spent by the rotation above
  } catch (e) {
    console.log(`reusing a spent refresh token → ApiException kind=${e.kind} error=${e.error} signInRequired=${e.signInRequired}`);
  }
  console.log("authorization URL:", auth.authorizationUrl({ scope: ["messenger:read", "items:info"], redirectUri: "http://127.0.0.1:8788/callback" }));
  await mock.close();
}
