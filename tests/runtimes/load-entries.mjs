// Loads every entry of the installed package's exports map, through require() and through
// import(), in the Node that runs it: `node load-entries.mjs` from a scratch project holding the
// tarball's package (run by runtimes.test.mjs, copied beside node_modules). Prints one line
// "ENTRIES " + JSON: per entry and way, the sorted export names, or the error.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { exports } = require("avito-auth/package.json");
const names = (m) => Object.keys(m).filter((k) => k !== "default" && k !== "module.exports").sort();
const failure = (e) => ({ error: `${e?.code ?? e?.name ?? "Error"}: ${String(e?.message ?? e).split("\n")[0]}` });

const entries = {};
for (const subpath of Object.keys(exports)) {
  const specifier = subpath === "." ? "avito-auth" : `avito-auth/${subpath.slice(2)}`;
  const loaded = {};
  if (subpath.endsWith(".wasm")) {
    // Not a module in Node: each way's resolution must lead to a valid WebAssembly module.
    const wasm = (resolve) => {
      try {
        return { wasm: WebAssembly.validate(readFileSync(resolve())) };
      } catch (e) {
        return failure(e);
      }
    };
    loaded.require = wasm(() => require.resolve(specifier));
    loaded.import = wasm(() => new URL(import.meta.resolve(specifier)));
  } else if (subpath.endsWith(".json")) {
    loaded.require = { version: require(specifier).version };
    loaded.import = await import(specifier, { with: { type: "json" } }).then((m) => ({ version: m.default.version }), failure);
  } else {
    try {
      loaded.require = { names: names(require(specifier)) };
    } catch (e) {
      loaded.require = failure(e);
    }
    loaded.import = await import(specifier).then((m) => ({ names: names(m) }), failure);
  }
  entries[subpath] = loaded;
}
console.log("ENTRIES " + JSON.stringify(entries));
