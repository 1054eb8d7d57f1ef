// Cloudflare Workers in the tests: bundled by wrangler itself (`wrangler deploy --dry-run`, no
// account needed), then run under workerd through Miniflare.
import { execFile } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./load.mjs";

const BIN = path.join(ROOT, "node_modules");

/** Bundles `entry` (a module Worker) the way `wrangler deploy` does; returns the bundled script. */
export async function bundleWithWrangler(entry, outdir) {
  mkdirSync(outdir, { recursive: true });
  const name = path.basename(entry).replace(/\.m?js$/, "");
  const config = path.join(path.dirname(entry), `.wrangler-${name}.toml`);
  writeFileSync(config, `name = "${name}"\nmain = "${path.basename(entry)}"\ncompatibility_date = "2025-09-01"\n`);
  await new Promise((resolve, reject) => {
    execFile(path.join(BIN, ".bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir, "--config", config],
      { env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } },
      (err, stdout, stderr) => (err ? reject(new Error(`wrangler could not bundle ${entry}: ${stderr}${stdout}`)) : resolve()));
  });
  return path.join(outdir, `${name}.js`);
}

/** Runs a bundled Worker under workerd. Options go to Miniflare (bindings, durableObjects, port…). */
export async function startWorker(scriptPath, options = {}) {
  const { Miniflare } = await import(path.join(BIN, "miniflare/dist/src/index.js"));
  const mf = new Miniflare({
    modules: true, scriptPath, compatibilityDate: "2025-09-01",
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    ...options,
  });
  await mf.ready;
  return mf;
}
