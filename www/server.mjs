// The demo site's Node backend on http://127.0.0.1:8788 (PORT to change it).
// Without AVITO_CLIENT_ID/AVITO_CLIENT_SECRET it starts a local mock Avito, whose consent page
// stands in for avito.ru. With them it talks to the real Avito (register
// http://127.0.0.1:8788/callback as the redirect URI of your application).
import http from "node:http";
import { createApp } from "./app.mjs";

export async function startSite({ port = Number(process.env.PORT ?? 8788), env = process.env } = {}) {
  let mock, options;
  if (env.AVITO_CLIENT_ID && env.AVITO_CLIENT_SECRET) {
    options = { clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, mode: "real Avito" };
  } else {
    const { startMockAvito } = await import("../tests/support/mock-avito.mjs");
    mock = await startMockAvito();
    options = { clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, authorizeUrl: `${mock.url}/oauth`, mode: `local mock Avito at ${mock.url}` };
  }
  const handle = createApp(options);
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method, headers: req.headers, body: ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks),
    });
    const response = await handle(request);
    const headers = {};
    response.headers.forEach((v, k) => { headers[k] = k === "set-cookie" ? response.headers.getSetCookie() : v; });
    res.writeHead(response.status, headers);
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, mock, close: async () => { server.closeAllConnections(); server.close(); await mock?.close(); } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const site = await startSite();
  console.log(`\navito-auth demo site: ${site.url}  (${site.mock ? "local mock Avito" : "real Avito"}; Ctrl-C to stop)`);
}
