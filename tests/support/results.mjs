// Checks the results of tests/runtimes/scenarios.mjs as reported by a runtime.
import assert from "node:assert/strict";
import { scenarios } from "../runtimes/scenarios.mjs";

/** Every scenario ran and passed; `detail` (a runtime's stderr, page errors) explains a failure. */
export function assertScenariosPassed(label, results, detail = "") {
  assert.ok(Array.isArray(results), `${label} reported no results. ${detail}`);
  assert.deepEqual(results.map((r) => r.name), Object.keys(scenarios), `${label}: not every scenario ran. ${detail}`);
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], `${label}: ${failed.map((f) => `${f.name}: ${f.error}`).join("\n")}`);
}
