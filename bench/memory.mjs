// N calls (1,000,000 by default) with the in-memory fetch; wasm linear memory and JS heap before and after.
// Run with --expose-gc. Args: <scratchDir> <calls>
const [scratch, callsArg] = process.argv.slice(2);
const calls = Number(callsArg ?? 1_000_000);
const { avitoAuth, memoryFetch } = await import("./contenders.mjs");
const lib = await import(`${scratch}/node_modules/avito-auth/node.mjs`);
const glue = await import(`${scratch}/node_modules/avito-auth/avito_auth.js`);
const wasm = glue.initSync(); // already initialised by node.mjs: returns the live instance's exports (with `memory`)
if (!(wasm?.memory instanceof WebAssembly.Memory)) throw new Error("initSync() did not return the instance's exports: cannot read the wasm memory");
const call = avitoAuth(lib, memoryFetch(), "https://api.avito.ru");
const snapshot = () => { globalThis.gc(); return { wasm: wasm.memory.buffer.byteLength, heap: process.memoryUsage().heapUsed }; };
for (let i = 0; i < 10_000; i++) await call(); // warm up: let the allocator and JIT settle
const before = snapshot();
const mid = [];
for (let i = 0; i < calls; i++) {
  await call();
  if ((i + 1) % (calls / 4) === 0 && i + 1 < calls) mid.push(snapshot());
}
const after = snapshot();
console.log(JSON.stringify({ calls, before, after, mid }));
