// The CPU-profile workload: `node --cpu-prof bench/profile.mjs <package dir> <contender> <calls> [host]`
// makes <calls> sequential client_credentials calls (after a warm-up) with the in-memory fetch,
// or, given a host (bench/token-server.mjs), over the network with the global fetch.
// contender: avito-auth | floor
const [pkgDir, contender, callsArg, host] = process.argv.slice(2);
const calls = Number(callsArg ?? 200_000);
const { avitoAuth, handWritten, memoryFetch } = await import("./contenders.mjs");
const f = host ? globalThis.fetch : memoryFetch();
let call;
if (contender === "avito-auth") {
  const lib = await import(`${pkgDir}/node.mjs`);
  call = avitoAuth(lib, host ? undefined : f, host ?? "https://api.avito.ru");
} else {
  call = handWritten(f, `${host ?? "https://api.avito.ru"}/token`);
}
for (let i = 0; i < Math.min(5_000, calls); i++) await call();
const t0 = performance.now();
for (let i = 0; i < calls; i++) await call();
console.log(JSON.stringify({ calls, warmup: Math.min(5_000, calls), ms: performance.now() - t0 }));
