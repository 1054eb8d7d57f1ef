// Runs the scenarios in this process (Node, Deno or Bun): `run-node.mjs <esm|cjs|bare> <mockUrl> <deadUrl> [scratchDir]`.
// esm/cjs load the scratch project's esm.mjs / cjs.cjs; bare imports "avito-auth" from the cwd,
// bare-require requires it from the cwd.
import { runScenarios } from "./scenarios.mjs";

const [mode, mockUrl, deadUrl, scratch] = (globalThis.Deno ? Deno.args : process.argv.slice(2));
let lib;
if (mode === "bare") {
  lib = await import("avito-auth");
} else if (mode === "bare-require") {
  const { createRequire } = await import("node:module");
  lib = createRequire(`${process.cwd()}/package.json`)("avito-auth");
} else if (mode === "esm") {
  lib = await import(new URL(`file://${scratch}/esm.mjs`).href);
} else {
  const { createRequire } = await import("node:module");
  lib = createRequire(`${scratch}/package.json`)("./cjs.cjs");
}
// Node, Deno and Bun have node:diagnostics_channel: the events must be published there.
const diagnostics = await import("node:diagnostics_channel");
const results = await runScenarios(lib, { mockUrl, deadUrl, diagnostics, channel: true });
console.log("RESULTS " + JSON.stringify(results));
