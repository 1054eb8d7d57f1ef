// A real PostgreSQL server for the tests: Debian's postgresql (installed by scripts/test.sh),
// initdb'd in a temporary folder and started on 127.0.0.1 and a free port. PostgreSQL refuses to
// run as root, so it runs as the `postgres` user when the tests are root.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { closedPort } from "./load.mjs";

/** The newest installed server's bin folder (e.g. /usr/lib/postgresql/15/bin). */
export function postgresBin() {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, "bin/initdb"))).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error("PostgreSQL is missing: scripts/test.sh installs Debian's postgresql");
  return path.join(base, versions[0], "bin");
}

export async function startPostgres() {
  const bin = postgresBin();
  const dir = mkdtempSync(path.join(os.tmpdir(), "avito-pg-"));
  const root = process.getuid?.() === 0;
  let owner = null;
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
    owner = { uid, gid };
  }
  const as = (tool, args) => {
    const cmd = root ? "runuser" : path.join(bin, tool);
    const argv = root ? ["-u", "postgres", "--", path.join(bin, tool), ...args] : args;
    return execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  };
  const data = path.join(dir, "data");
  as("initdb", ["-D", data, "-A", "trust", "-U", "app", "--no-sync", "-E", "UTF8"]);
  const port = await closedPort();
  const log = path.join(dir, "server.log");
  const start = () => as("pg_ctl", ["-D", data, "-l", log, "-o", `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`, "-w", "-t", "30", "start"]);
  const stop = (mode = "fast") => as("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "30", "stop"]);
  start();
  return {
    port,
    url: `postgres://app@127.0.0.1:${port}/postgres`,
    config: { host: "127.0.0.1", port, user: "app", database: "postgres" },
    owner,
    /** Stops the server (mode "fast" ends sessions; "immediate" is a crash) and starts it again. */
    restart(mode = "fast") {
      stop(mode);
      start();
    },
    stop,
    start,
    close() {
      try {
        stop("immediate");
      } catch {
        /* already stopped */
      }
      if (statSync(dir, { throwIfNoEntry: false })) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What the PostgreSQL fleet tests share: the repository's pg linked into the scratch project
 * (the examples import it from there), a server, a pool of `max` connections (with the error
 * listener a dropped idle connection needs), and the tarball's store module with its table made.
 */
export async function startPostgresFleet(scratch, { max = 10 } = {}) {
  const pgDir = path.dirname(createRequire(import.meta.url).resolve("pg/package.json"));
  if (!existsSync(path.join(scratch, "node_modules/pg"))) symlinkSync(pgDir, path.join(scratch, "node_modules/pg"));
  const server = await startPostgres();
  const pg = (await import("pg")).default;
  const pool = new pg.Pool({ ...server.config, max });
  pool.on("error", () => {});
  const store = await import(pathToFileURL(path.join(scratch, "postgres.mjs")).href);
  await store.createTable(pool);
  return { server, pool, pg, store };
}
