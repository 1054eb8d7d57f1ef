// Preloaded (node --import, through NODE_OPTIONS) into an `avito-auth` process by tests/cli, to
// observe or steer what a real process does without changing the command line:
// - $AVITO_TEST_FS_TRACE: a file that receives, at exit, the fs calls that make a profile write
//   durable, in order: ["fsync", path], ["rename", from, to], ["rm", path];
// - $AVITO_TEST_LOCALHOST: a JSON list of the addresses `localhost` resolves to (most systems list
//   127.0.0.1 and ::1 in /etc/hosts; this one may list only the first).
import fs from "node:fs";
import dns from "node:dns/promises";
import { syncBuiltinESMExports } from "node:module";

if (process.env.AVITO_TEST_FS_TRACE) {
  const { openSync, fsyncSync, renameSync, rmSync, writeFileSync } = fs;
  const names = new Map();
  const trace = [];
  fs.openSync = (file, ...rest) => {
    const fd = openSync(file, ...rest);
    names.set(fd, String(file));
    return fd;
  };
  fs.fsyncSync = (fd) => {
    fsyncSync(fd);
    trace.push(["fsync", names.get(fd)]);
  };
  fs.renameSync = (from, to) => {
    renameSync(from, to);
    trace.push(["rename", String(from), String(to)]);
  };
  fs.rmSync = (file, ...rest) => {
    rmSync(file, ...rest);
    trace.push(["rm", String(file)]);
  };
  syncBuiltinESMExports(); // `import { fsyncSync } from "node:fs"` now sees these too
  process.on("exit", () => writeFileSync(process.env.AVITO_TEST_FS_TRACE, JSON.stringify(trace)));
}

if (process.env.AVITO_TEST_LOCALHOST) {
  const addresses = JSON.parse(process.env.AVITO_TEST_LOCALHOST);
  const lookup = dns.lookup;
  dns.lookup = (host, options) => (host === "localhost" && options?.all
    ? Promise.resolve(addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })))
    : lookup(host, options));
}
