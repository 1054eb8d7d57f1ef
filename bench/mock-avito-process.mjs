// The tests' mock Avito in a process of its own, for benchmarks that measure the CPU of the
// process under test only: `node mock-avito-process.mjs <expiresIn> <n>` prints one JSON line
// `{ url, refresh: [n refresh tokens] }` and serves until killed.
import { startMockAvito } from "../tests/support/mock-avito.mjs";

const [expiresIn = "86400", n = "1"] = process.argv.slice(2);
const mock = await startMockAvito({ expiresIn: Number(expiresIn) });
console.log(JSON.stringify({ url: mock.url, refresh: Array.from({ length: Number(n) }, () => mock.grantRefresh()) }));
