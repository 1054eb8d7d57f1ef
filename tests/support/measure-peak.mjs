// Peak memory of one call against the process's idle baseline, for the child processes of
// tests/hostile/ and bench/peak-memory.mjs (run with --expose-gc). Collects garbage, takes the
// baseline, then samples RSS and heapUsed + arrayBuffers + external every 2 ms while `call` runs;
// the kernel's RSS high-water mark, when it rose during the call, catches spikes between samples.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const usage = () => {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.arrayBuffers + m.external };
};

/** Runs `call()` once and resolves with `{ base, peak, outcome }` (bytes; outcome: what `call` resolved with). */
export async function measurePeak(call) {
  if (typeof globalThis.gc !== "function") throw new Error("measurePeak needs node --expose-gc");
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(20);
  }
  const base = usage();
  const maxRssBefore = process.resourceUsage().maxRSS * 1024;
  const peak = { ...base };
  const sample = () => {
    const m = usage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heap);
  };
  const sampler = setInterval(sample, 2);
  let outcome;
  try {
    outcome = await call();
  } finally {
    clearInterval(sampler);
  }
  sample();
  const maxRssAfter = process.resourceUsage().maxRSS * 1024;
  if (maxRssAfter > maxRssBefore) peak.rss = Math.max(peak.rss, maxRssAfter);
  return { base, peak, outcome };
}
