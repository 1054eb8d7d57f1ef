// Profiles of the `avito-auth` command line: one JSON file per profile under the user's config
// folder, mode 0600 (the folder 0700), and the TokenStore over it that a TokenManager renews
// through. Safe across processes on one machine:
// - writes go to a temporary file in the same folder, then rename() over the profile, so a reader
//   sees the old file or the new one, never half of one;
// - compareAndSet and the lease run under a short mutex: a file created with O_EXCL ("wx"), held
//   for the few milliseconds of a read-compare-write; one left by a killed process is taken over
//   once it is MUTEX_STALE_MS old;
// - the renewal lease is a file holding { id, expires_at }; it is granted only when there is none
//   or its expires_at has passed, and released only by the id that holds it.
// The store follows the renewal protocol: get() returns the stored TokenSet exactly as written
// (every member, unknown ones and the TokenManager's renewal marks included, since the file is
// the JSON of what was written); compareAndSet compares access_token, refresh_token and
// renewal.id, each as "string or absent" (the package's one compare rule, store-protocol.js).
import { randomUUID } from "node:crypto";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
// The package's internal module beside cli/ in the installed package (pkg/), not an entry.
import { tokensMatch } from "../store-protocol.js";

const MUTEX_TRIES = 400; // × MUTEX_WAIT_MS: at most ~4 s waiting for another process's write
const MUTEX_WAIT_MS = 10;
const MUTEX_STALE_MS = 10_000;
const PROFILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** The folder holding the profiles: $XDG_CONFIG_HOME/avito-auth, %APPDATA%\avito-auth, ~/Library/Application Support/avito-auth or ~/.config/avito-auth. */
export function configDir(env = process.env) {
  if (env.XDG_CONFIG_HOME) return path.join(env.XDG_CONFIG_HOME, "avito-auth");
  if (process.platform === "win32" && env.APPDATA) return path.join(env.APPDATA, "avito-auth");
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Application Support", "avito-auth");
  return path.join(os.homedir(), ".config", "avito-auth");
}

export const validProfileName = (name) => typeof name === "string" && PROFILE_NAME.test(name);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Profile {
  constructor(name, dir = configDir()) {
    this.name = name;
    this.dir = dir;
    this.file = path.join(dir, `${name}.json`);
    this.leaseFile = `${this.file}.lease`;
    this.mutexFile = `${this.file}.lock`;
  }

  /** The profile's JSON ({ client_id, host, redirect_uri, tokens }) or undefined. */
  read() {
    try {
      return JSON.parse(readFileSync(this.file, "utf8"));
    } catch (e) {
      if (e.code === "ENOENT") return undefined;
      throw new Error(`profile "${this.name}" cannot be read (${e instanceof SyntaxError ? "not JSON" : e.code}): ${this.file}`);
    }
  }

  /** Replaces the whole profile (atomically, mode 0600). */
  write(data) {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700); // a folder made earlier by hand keeps no wider mode
    const tmp = `${this.file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      chmodSync(tmp, 0o600); // the umask cannot widen it, but an odd filesystem might
      renameSync(tmp, this.file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  remove() {
    const existed = this.read() !== undefined;
    for (const f of [this.file, this.leaseFile]) rmSync(f, { force: true });
    return existed;
  }

  /** Runs `fn` while holding the profile's mutex (bounded wait; a stale one is taken over). */
  async locked(fn) {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < MUTEX_TRIES; i++) {
      let fd;
      try {
        fd = openSync(this.mutexFile, "wx", 0o600);
      } catch (e) {
        if (e.code !== "EEXIST") throw e;
        try {
          if (Date.now() - statSync(this.mutexFile).mtimeMs > MUTEX_STALE_MS) rmSync(this.mutexFile, { force: true });
        } catch {}
        await sleep(MUTEX_WAIT_MS);
        continue;
      }
      closeSync(fd);
      try {
        return fn();
      } finally {
        rmSync(this.mutexFile, { force: true });
      }
    }
    throw new Error(`profile "${this.name}" is locked by another process (${this.mutexFile})`);
  }
}

/** The TokenStore a TokenManager renews through: the `tokens` member of a profile file. */
export class ProfileTokenStore {
  constructor(profile) {
    this.profile = profile;
  }

  async get() {
    return this.profile.read()?.tokens ?? undefined;
  }

  async compareAndSet(expected, next) {
    return this.profile.locked(() => {
      const data = this.profile.read();
      if (!tokensMatch(data?.tokens, expected)) return false;
      this.profile.write({ ...(data ?? {}), tokens: next });
      return true;
    });
  }

  async acquireLease(ttlMs) {
    return this.profile.locked(() => {
      const now = Date.now();
      try {
        const held = JSON.parse(readFileSync(this.profile.leaseFile, "utf8"));
        if (typeof held.expires_at === "number" && held.expires_at > now) return undefined;
      } catch {} // none, or unreadable: a dead writer's; replaced below
      const id = randomUUID();
      writeFileSync(this.profile.leaseFile, JSON.stringify({ id, expires_at: now + Math.max(0, Number(ttlMs) || 0) }), { mode: 0o600 });
      return id;
    });
  }

  async releaseLease(leaseId) {
    await this.profile.locked(() => {
      try {
        if (JSON.parse(readFileSync(this.profile.leaseFile, "utf8")).id === leaseId) rmSync(this.profile.leaseFile, { force: true });
      } catch {}
    });
  }
}
