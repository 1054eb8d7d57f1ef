// A real redis-server for the tests (Debian's, installed by scripts/test.sh) on 127.0.0.1 and a
// free port, without persistence, and a node-redis client connected to it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { closedPort } from "./load.mjs";

export async function startRedis() {
  assert.ok(existsSync("/usr/bin/redis-server"), "redis-server is missing: scripts/test.sh installs Debian's redis-server");
  const port = await closedPort();
  const server = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const { createClient } = await import("redis");
  let client;
  for (let i = 0; i < 50 && !client; i++) {
    try { client = await createClient({ url }).on("error", () => {}).connect(); } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  assert.ok(client, "redis-server did not start");
  return {
    url,
    client,
    async close() {
      await client.quit();
      server.kill();
    },
  };
}
