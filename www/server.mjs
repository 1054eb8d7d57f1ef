// The demo site's Node backend on http://127.0.0.1:8788 (PORT to change it).
// Without AVITO_CLIENT_ID/AVITO_CLIENT_SECRET it starts a local mock Avito, whose consent page
// stands in for avito.ru. With them it talks to the real Avito (register
// http://127.0.0.1:8788/callback as the redirect URI of your application).
// Behind a TLS-terminating proxy, TRUST_PROXY=1 takes the scheme from X-Forwarded-Proto, so the
// app sees https and sets Secure `__Host-` cookies.
// Whatever arrives — a Host no URL accepts, a body over 64 KiB (413), a body cut off or
// malformed, a request Node cannot parse — is answered (400) or dropped, never a crash.
import http from "node:http";
import { BadRequest, MAX_BODY_BYTES, createApp, refusal } from "./app.mjs";

// A Host header as RFC 9110 allows it here: a name or IPv4 address, or a bracketed IPv6 one, and a port.
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The request as a web-standard Request (bounded body), or a BadRequest. */
async function toRequest(req, trustProxy) {
  const host = req.headers.host;
  if (typeof host !== "string" || !HOST.test(host)) throw new BadRequest("malformed or missing Host header");
  const forwarded = trustProxy ? req.headers["x-forwarded-proto"] : undefined;
  const scheme = forwarded === "https" || forwarded === "http" ? forwarded : "http";
  let url;
  try {
    if (!req.url.startsWith("/")) throw new TypeError("not origin-form"); // e.g. "http://a:b:c/"
    url = new URL(`${scheme}://${host}${req.url}`);
  } catch {
    throw new BadRequest("malformed request target");
  }
  const chunks = [];
  let size = 0;
  try {
    for await (const c of req) {
      size += c.length;
      if (size > MAX_BODY_BYTES) throw new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`, 413);
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof BadRequest) throw e;
    throw new BadRequest("malformed or cut-off request body"); // e.g. a broken chunked encoding
  }
  try {
    return new Request(url, {
      method: req.method, headers: req.headers, body: ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks),
    });
  } catch {
    throw new BadRequest("malformed request (method or header)"); // what Node accepts and fetch does not
  }
}

async function send(res, response) {
  const headers = {};
  response.headers.forEach((v, k) => { headers[k] = k === "set-cookie" ? response.headers.getSetCookie() : v; });
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

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
  const trustProxy = env.TRUST_PROXY === "1";
  const server = http.createServer(async (req, res) => {
    try {
      await send(res, await handle(await toRequest(req, trustProxy)));
    } catch (e) {
      if (res.headersSent || res.destroyed) return res.destroy();
      if (e instanceof BadRequest) return send(res, refusal(e)).catch(() => res.destroy());
      console.error("www: unexpected error:", e?.message ?? e); // never a token: the handler renders those
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    }
  });
  // A request Node cannot parse (a malformed request line or header, headers past the limit): 400.
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, mock, close: async () => { server.closeAllConnections(); server.close(); await mock?.close(); } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const site = await startSite();
  console.log(`\navito-auth demo site: ${site.url}  (${site.mock ? "local mock Avito" : "real Avito"}; Ctrl-C to stop)`);
}
