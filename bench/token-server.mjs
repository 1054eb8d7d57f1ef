// The loopback servers of the benchmarks, in their own process: `node token-server.mjs` prints
// its base URL. Paths may start with `/d<ms>` (e.g. `/d20/token`): the answer is then sent after
// that many milliseconds, like a real server's work. Under that prefix:
//   POST /token   → a fixed token (client_credentials)
//   anything else → an API answer (a small JSON object) if `Authorization: Bearer <the token>`,
//                   else 401 (a client that lost its token would show up as failures).
import http from "node:http";
import { TOKEN_BODY, API_BODY, ACCESS_TOKEN } from "./contenders.mjs";

const BEARER = `Bearer ${ACCESS_TOKEN}`;
const server = http.createServer((req, res) => {
  const m = /^\/d(\d+)(\/.*)$/.exec(req.url);
  const delay = m ? Number(m[1]) : 0;
  const route = m ? m[2] : req.url;
  req.resume();
  req.on("end", () => {
    const answer = () => {
      let status = 200, body = API_BODY;
      if (req.method === "POST" && route === "/token") body = TOKEN_BODY;
      else if (req.headers.authorization !== BEARER) { status = 401; body = '{"error":"unauthorized"}'; }
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (delay > 0) setTimeout(answer, delay); else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, "127.0.0.1", () => console.log(`http://127.0.0.1:${server.address().port}`));
