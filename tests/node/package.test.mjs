// The packed tarball as a package: strict TypeScript over every export, publint --strict,
// @arethetypeswrong/cli, and the shape of what is shipped.
import { it, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";

const TGZ = path.join(ROOT, "target/avito-auth.tgz");
const bin = (name) => path.join(ROOT, "node_modules/.bin", name);
const sh = (cmd, args, cwd = ROOT) => {
  try {
    return { code: 0, out: execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  } catch (e) {
    return { code: e.status ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
};

before(() => {
  for (const f of ["examples.mts", "examples.cts", "scopes.mts", "scopes.cts", "tsconfig.json"]) copyFileSync(path.join(ROOT, "tests/types", f), path.join(SCRATCH, f));
});

it("TypeScript (strict) compiles examples that use every export, in ESM and CJS", () => {
  const r = sh(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], SCRATCH);
  assert.equal(r.code, 0, r.out);
});

it("TypeScript rejects misuse (the types are not `any`)", () => {
  const bad = path.join(SCRATCH, "bad.mts");
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  const common = ["--strict", "--noEmit", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom", "--types", ""];
  for (const src of [
    'import { AccessApi } from "avito-auth"; new AccessApi().getAccessToken(1, "s");',
    'import { AvitoAuth } from "avito-auth"; new AvitoAuth({ clientId: "a" });',
    'import { ApiException } from "avito-auth"; const k: "x" = new ApiException("http").kind;',
    'import { PostgresTokenStore } from "avito-auth/postgres"; new PostgresTokenStore({ key: "k" });',
    'import { RedisTokenStore } from "avito-auth/redis"; new RedisTokenStore({ client: { call: async () => null } });',
    'import { verifyTokenStore } from "avito-auth/testing"; verifyTokenStore({});',
    'import { AccountTokens } from "avito-auth"; new AccountTokens({ store: () => 1 });',
    'import { sealedStore, MemoryTokenStore } from "avito-auth"; sealedStore(new MemoryTokenStore(), { keys: [{ id: "k", key: 1 }], context: "c" });',
    'import { sealedStore, MemoryTokenStore } from "avito-auth"; sealedStore(new MemoryTokenStore(), { keys: [{ id: "k", key: "x" }] });',
    'import { AccountTokens } from "avito-auth"; declare const a: AccountTokens; a.renewDue(["s"], { within: "1h" });',
    'import { AccountTokens } from "avito-auth"; declare const a: AccountTokens; const r: "renewed" = (await a.renewDue(["s"]))[0]!.result;',
    'import { instrument } from "avito-auth/opentelemetry"; instrument({ tracerProvider: {} });',
    'import { TokenManager, AvitoAuth } from "avito-auth"; new TokenManager({ auth: new AvitoAuth({ clientId: "a", clientSecret: "b" }), onEvent: (e) => { const t: "nope" = e.type; void t; } });',
    'import { TokenManager } from "avito-auth"; declare const tm: TokenManager; const s: "up" = (await tm.status()).state;',
  ]) {
    copyFileSync(path.join(ROOT, "tests/types/tsconfig.json"), path.join(SCRATCH, "tsconfig.json"));
    execFileSync("bash", ["-c", `cat > ${bad} <<'X'\n${src}\nX`]);
    assert.notEqual(sh(process.execPath, [tsc, ...common, bad], SCRATCH).code, 0, src);
  }
});

it("publint --strict is clean", () => {
  const r = sh(bin("publint"), ["--strict", TGZ]);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /warning|error|suggestion/i, r.out);
});

it("@arethetypeswrong/cli finds no problem", () => {
  const r = sh(bin("attw"), [TGZ, "--format", "ascii", "--profile", "node16", "--exclude-entrypoints", "./avito_auth_bg.wasm", "--exclude-entrypoints", "./package.json"]);
  assert.equal(r.code, 0, r.out);
});

it("ships one .wasm, one d.ts per module system, no source maps or Rust files", () => {
  const files = readdirSync(path.join(SCRATCH, "node_modules/avito-auth")).sort();
  assert.deepEqual(files.filter((f) => f.endsWith(".wasm")), ["avito_auth_bg.wasm"]);
  for (const f of ["index.d.ts", "index.d.cts", "node.mjs", "node.cjs", "workerd.js", "edge-light.js", "browser.js", "init.js", "LICENSE", "README.md"]) assert.ok(files.includes(f), f);
  assert.ok(!files.some((f) => /\.(rs|map|toml)$/.test(f)), files.join());
  const readme = readFileSync(path.join(SCRATCH, "node_modules/avito-auth/README.md"), "utf8");
  for (const section of ["## Install and import", "## Errors", "## Keeping tokens fresh"]) assert.ok(readme.includes(section), `README lacks ${section}`);
  const pkg = JSON.parse(readFileSync(path.join(SCRATCH, "node_modules/avito-auth/package.json"), "utf8"));
  for (const cond of ["workerd", "edge-light", "deno", "bun", "node", "browser", "default"]) assert.ok(pkg.exports["."][cond], cond);
});
