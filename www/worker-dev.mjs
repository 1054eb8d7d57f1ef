// The demo site as a Cloudflare Worker under workerd (Miniflare) on http://127.0.0.1:8788:
// bundled by wrangler exactly like `wrangler deploy`, with a local mock Avito unless
// AVITO_CLIENT_ID/AVITO_CLIENT_SECRET are set. Run by `DEMO_WORKER=1 bash scripts/demo.sh`.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWithWrangler, startWorker } from "../tests/support/worker.mjs";
import { startMockAvito } from "../tests/support/mock-avito.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const real = process.env.AVITO_CLIENT_ID && process.env.AVITO_CLIENT_SECRET;
const mock = real ? undefined : await startMockAvito();
const script = await bundleWithWrangler(path.join(here, "worker.mjs"), path.join(here, ".worker-dist"));
const bindings = real
  ? { AVITO_CLIENT_ID: process.env.AVITO_CLIENT_ID, AVITO_CLIENT_SECRET: process.env.AVITO_CLIENT_SECRET }
  : { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, AVITO_AUTHORIZE_URL: `${mock.url}/oauth` };
const mf = await startWorker(script, { host: "127.0.0.1", port: Number(process.env.PORT ?? 8788), bindings });
console.log(`\navito-auth demo site as a Cloudflare Worker (workerd): ${(await mf.ready).origin}  (${real ? "real Avito" : "local mock Avito"}; Ctrl-C to stop)`);
