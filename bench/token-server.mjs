// A minimal token endpoint for the throughput benchmark, in its own process: `node token-server.mjs`
// prints its URL and answers every POST /token with a fixed token.
import http from "node:http";
import { TOKEN_BODY } from "./contenders.mjs";

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(TOKEN_BODY) });
    res.end(TOKEN_BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(`http://127.0.0.1:${server.address().port}`));
