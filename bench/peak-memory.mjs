// Peak memory while one token response is handled, in a fresh process: warm up against a
// well-behaved endpoint (so fetch, the wasm and their buffers are already paid for), collect
// garbage, take the idle baseline, switch the endpoint to a hostile scenario (an 8 MiB chunked
// body, a gzip bomb…), and sample RSS and heapUsed + arrayBuffers + external every 2 ms (plus the
// kernel's RSS high-water mark) while the call runs (tests/support/measure-peak.mjs, which the
// hostile tests' child processes use too). Run with --expose-gc.
// Args: <esm entry URL> <contender: avito-auth | raw-capped | raw> <host> <set-hostile URL> <set-ok URL>
// Prints one JSON line: { base, peak, outcome }.
const [esm, contender, host, setHostile, setOk] = process.argv.slice(2);
const lib = await import(esm);
const { ID, SECRET } = await import("./contenders.mjs");
const { measurePeak } = await import("../tests/support/measure-peak.mjs");

let call;
if (contender === "avito-auth") {
  const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host, timeoutMs: 20_000 });
  call = () => auth.clientCredentials();
} else if (contender === "raw-capped") {
  // Reference: the least a JS client can do — read the body stream and cancel past 1 MiB.
  call = async () => {
    const res = await fetch(`${host}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "client_credentials", client_id: ID, client_secret: SECRET }) });
    const reader = res.body.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      if (bytes > 1 << 20) { await reader.cancel(); break; }
    }
    return { bytes };
  };
} else {
  // Reference: what a client that reads the whole body (res.text()) holds.
  call = async () => {
    const res = await fetch(`${host}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "client_credentials", client_id: ID, client_secret: SECRET }) });
    const text = await res.text();
    return { bytes: text.length };
  };
}
const run = async () => {
  const t0 = performance.now();
  try {
    const r = await call();
    return { ok: true, ms: performance.now() - t0, ...(r.bytes !== undefined ? { bytes: r.bytes } : {}) };
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, kind: e?.kind, name: e?.name, message: String(e?.message).slice(0, 200) };
  }
};

const warm = [await run(), await run()];
await fetch(setHostile, { method: "POST" });
const { base, peak, outcome } = await measurePeak(run);
await fetch(setOk, { method: "POST" });
process.stdout.write(JSON.stringify({ warm, base, peak, outcome }) + "\n");
process.exit(0);
