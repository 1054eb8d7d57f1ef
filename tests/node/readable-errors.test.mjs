// Readable errors (issue 15): an uncaught ApiException in Node prints at most about 40 lines and
// 4 KB — the message, the fields, and a stack that starts at the caller's own line, with no
// minified source line and no wasm frame ahead of it — in ESM and CJS; and err.stack holds the
// caller's frame first in Deno, Bun and workerd too. Against the packed tarball (tests/.scratch/node).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";

const HERE = path.join(ROOT, "tests/node/errors");
const BIN = path.join(ROOT, "node_modules");
const SECRET = "not-the-secret-4711";
let mock;

function run(cmd, args) {
  return new Promise((resolve) => {
    if (!existsSync(cmd)) return resolve({ code: -1, out: "", err: `${cmd} is missing: run scripts/test.sh (it installs the runtimes)` });
    const p = spawn(cmd, args, { cwd: SCRATCH, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("close", (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

/** The stack's frames, in order ("at …" lines for V8 and Bun, "fn@file" lines elsewhere). */
const frames = (stack) => stack.split("\n").filter((l) => /^\s+at |@/.test(l));

/** err.stack's first frame is the caller's; no wasm frame and no glue frame comes before it. */
function assertCallerFirst(label, stack, caller, file, line) {
  const first = frames(stack)[0] ?? "";
  assert.match(first, new RegExp(caller), `${label}: the first frame is not ${caller}:\n${stack}`);
  if (file) assert.match(first, new RegExp(`${file}:${line}:\\d+`), `${label}: not ${file}:${line}:\n${stack}`);
  assert.doesNotMatch(stack, /wasm-function|wasm:\/\/|avito_auth\.js|node\.cjs/, `${label}: crate frames remain:\n${stack}`);
  assert.ok(!stack.includes(SECRET), `${label}: the secret is in the stack`);
}

before(async () => {
  mock = await startMockAvito();
  for (const f of ["uncaught.mjs", "uncaught.cjs", "stacks.mjs"]) copyFileSync(path.join(HERE, f), path.join(SCRATCH, f));
  writeFileSync(path.join(SCRATCH, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }));
});
after(() => mock.close());

describe("an uncaught ApiException in Node", () => {
  for (const file of ["uncaught.mjs", "uncaught.cjs"]) {
    it(`${file}: ≤ 40 lines and 4 KB, message and fields, the caller's line first`, async () => {
      const { code, err } = await run(process.execPath, [file, mock.url]);
      assert.equal(code, 1, err);
      const bytes = Buffer.byteLength(err), lines = err.split("\n");
      assert.ok(bytes <= 4096 && lines.length <= 40, `${bytes} bytes, ${lines.length} lines:\n${err}`);
      assert.ok(lines.every((l) => l.length <= 200), `a line over 200 characters (minified source?):\n${err.slice(0, 3000)}`);
      assert.match(err, /^ApiException: the token endpoint refused the request: "invalid_client"/m);
      for (const field of ["kind: 'oauth'", "status: 401", "error: 'invalid_client'", "signInRequired: false"]) assert.ok(err.includes(field), field);
      const stack = err.slice(err.indexOf("ApiException:"));
      assertCallerFirst(file, stack.slice(0, stack.indexOf(" {\n")), "checkCredentials", file.replace(".", "\\."), 6);
    });
  }
});

describe("err.stack holds the caller's frame first", () => {
  const check = (label, out) => {
    const line = out.split("\n").find((l) => l.startsWith("STACKS "));
    assert.ok(line, `${label} printed no stacks:\n${out}`);
    const { async: a, sync: s } = JSON.parse(line.slice(7));
    assert.equal(a.kind, "oauth");
    assert.equal(s.kind, "invalid_argument");
    return { a, s };
  };

  it("Node", async () => {
    const r = await run(process.execPath, ["stacks.mjs", mock.url]);
    const { a, s } = check("Node", r.out + r.err);
    assertCallerFirst("Node async", a.stack, "asyncCaller", "stacks\\.mjs", 7);
    assertCallerFirst("Node sync", s.stack, "syncCaller", "stacks\\.mjs", 11);
  });

  it("Deno", async () => {
    const r = await run(path.join(BIN, "@deno/linux-x64-glibc/deno"), ["run", "--allow-net", "--allow-read", "--allow-env", "stacks.mjs", mock.url]);
    const { a, s } = check("Deno", r.out + r.err);
    assertCallerFirst("Deno async", a.stack, "asyncCaller", "stacks\\.mjs", 7);
    assertCallerFirst("Deno sync", s.stack, "syncCaller", "stacks\\.mjs", 11);
  });

  it("Bun", async () => {
    const r = await run(path.join(BIN, "bun/bin/bun.exe"), ["stacks.mjs", mock.url]);
    const { a, s } = check("Bun", r.out + r.err);
    assertCallerFirst("Bun async", a.stack, "asyncCaller", "stacks\\.mjs", 7);
    assertCallerFirst("Bun sync", s.stack, "syncCaller", "stacks\\.mjs", 11);
  });

  it("workerd (bundled by wrangler)", async () => {
    const outdir = path.join(SCRATCH, "errors-worker-dist");
    mkdirSync(outdir, { recursive: true });
    writeFileSync(path.join(SCRATCH, "errors-worker.mjs"), `
      import { stacks } from "./stacks.mjs";
      export default { async fetch(request) { return new Response("STACKS " + JSON.stringify(await stacks(new URL(request.url).searchParams.get("mock")))); } };`);
    const mf = await startWorker(await bundleWithWrangler(path.join(SCRATCH, "errors-worker.mjs"), outdir));
    try {
      const res = await mf.dispatchFetch(`http://worker/?mock=${encodeURIComponent(mock.url)}`);
      const { a, s } = check("workerd", await res.text());
      // One bundled file: the function names identify the caller's frames.
      assertCallerFirst("workerd async", a.stack, "asyncCaller");
      assertCallerFirst("workerd sync", s.stack, "syncCaller");
    } finally {
      await mf.dispose();
    }
  });
});
