// One cold start, measured inside a fresh process: from the first `import` to the first token
// (in-memory fetch). Prints JSON { ms, instantiateMs? }. Args: <contender> <scratchDir>
const t0 = performance.now();
const [which, scratch] = process.argv.slice(2);
const { handWritten, avitoAuth, oauth4, memoryFetch } = await import("./contenders.mjs");
const fetchImpl = memoryFetch();
let call;
if (which === "avito-auth") {
  const lib = await import(`${scratch}/node_modules/avito-auth/node.mjs`);
  call = avitoAuth(lib, fetchImpl, "https://api.avito.ru");
} else if (which === "oauth4webapi") {
  call = oauth4(await import("oauth4webapi"), fetchImpl, "https://api.avito.ru/token");
} else if (which === "wasm-only") {
  // Compiling + instantiating the module alone (bytes already read).
  const { readFileSync } = await import("node:fs");
  const bytes = readFileSync(`${scratch}/node_modules/avito-auth/avito_auth_bg.wasm`);
  const glue = await import(`${scratch}/node_modules/avito-auth/avito_auth.js`);
  const t1 = performance.now();
  glue.initSync({ module: bytes });
  console.log(JSON.stringify({ ms: performance.now() - t1 }));
  process.exit(0);
} else {
  call = handWritten(fetchImpl, "https://api.avito.ru/token");
}
const token = await call();
if (!token.access_token) throw new Error("no token");
console.log(JSON.stringify({ ms: performance.now() - t0 }));
