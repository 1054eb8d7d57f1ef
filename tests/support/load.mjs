// Loads avito-auth the way users do: from the packed tarball installed in a scratch project
// (tests/.scratch/<name>, made by scripts/test.sh), through `import` and through `require`.
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
export const SCRATCH = path.join(ROOT, "tests/.scratch/node");

export async function loadBoth() {
  if (!existsSync(path.join(SCRATCH, "node_modules/avito-auth/package.json"))) {
    throw new Error(`the packed package is not installed in ${SCRATCH}: run scripts/test.sh (it builds, packs and installs it)`);
  }
  const esm = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
  const cjs = createRequire(path.join(SCRATCH, "package.json"))("./cjs.cjs");
  return { esm, cjs };
}

/** A TCP port on 127.0.0.1 with nothing listening. */
export async function closedPort() {
  const net = await import("node:net");
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}
