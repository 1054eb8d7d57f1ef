// Profiles of the `avito-auth` command line: one JSON file per profile under the user's config
// folder, mode 0600 (the folder 0700), and the TokenStore over it that a TokenManager renews
// through. Safe across processes on one machine:
// - writes go to a temporary file in the same folder, fsynced, then rename() over the profile and
//   the folder fsynced, so a reader sees the old file or the new one, never half of one, and a
//   crash (or power loss) right after a write or a logout cannot bring back what it replaced;
// - compareAndSet, the lease, login's write and logout run under a short mutex: a lock file
//   created with O_EXCL ("wx") holding { nonce, pid, at }, held for the few milliseconds of a
//   read-compare-write. One left by a killed process is stale once its own `at` (not the file's
//   mtime, which a copy or a clock change moves) is MUTEX_STALE_MS old, or once a waiter has seen
//   the same lock for that long by its own clock; it is taken over by renaming it aside and
//   checking that the renamed file is the very lock judged stale (its nonce), never by
//   stat-then-unlink, which removes a lock taken in between;
// - the renewal lease is a file holding { id, expires_at }; it is granted only when there is none
//   or its expires_at has passed, and released only by the id that holds it;
// - a profile that does not exist matches no compareAndSet: only `login` creates one, so a
//   renewal still in flight when the seller logged out cannot write the tokens back.
// The store follows the renewal protocol: get() returns the stored TokenSet exactly as written
// (every member, unknown ones and the TokenManager's renewal marks included, since the file is
// the JSON of what was written); compareAndSet compares access_token, refresh_token and
// renewal.id, each as "string or absent" (the package's one compare rule, store-protocol.js).
import { randomUUID } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
// The package's internal module beside cli/ in the installed package (pkg/), not an entry.
import { tokensMatch } from "../store-protocol.js";

// A holder keeps the mutex for one read-compare-write (fsyncs included: milliseconds). The wait
// outlasts the stale age, so a lock left by a killed process is waited out and taken over rather
// than failing every command until it ages; and it stays under the TokenManager's leaseMs (10 s),
// the time a store call has to settle.
const MUTEX_STALE_MS = 5_000;
const MUTEX_WAIT_LIMIT_MS = 8_000;
const MUTEX_POLL_MS = 10;
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

  /** Replaces the whole profile (atomically and durably, mode 0600). */
  write(data) {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700); // a folder made earlier by hand keeps no wider mode
    const tmp = `${this.file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      const fd = openSync(tmp, "wx", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
        fsyncSync(fd); // the content is on disk before a name points at it
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600); // the umask cannot widen it, but an odd filesystem might
      renameSync(tmp, this.file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    syncFolder(this.dir);
  }

  /** Deletes the profile and its lease (durably: a crash right after cannot bring it back). */
  remove() {
    const existed = this.read() !== undefined;
    for (const f of [this.file, this.leaseFile]) rmSync(f, { force: true });
    if (existed) syncFolder(this.dir);
    return existed;
  }

  /** Runs `fn` while holding the profile's mutex (bounded wait; a stale one is taken over). */
  async locked(fn) {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const mine = JSON.stringify({ nonce: randomUUID(), pid: process.pid, at: Date.now() });
    const deadline = Date.now() + MUTEX_WAIT_LIMIT_MS;
    let watched; // { held, since }: the lock we are waiting on, and since when (our clock)
    while (!this.#tryLock(mine)) {
      const held = this.#heldLock();
      const now = Date.now();
      if (held !== undefined) {
        if (watched?.held !== held) watched = { held, since: now };
        const at = lockTime(held);
        if (now - watched.since > MUTEX_STALE_MS || (at !== undefined && now - at > MUTEX_STALE_MS)) {
          this.#removeLockIf(held);
          continue;
        }
      }
      if (now > deadline) throw new Error(`profile "${this.name}" is locked by another process (${this.mutexFile})`);
      await sleep(MUTEX_POLL_MS);
    }
    try {
      return await fn();
    } finally {
      this.#removeLockIf(mine);
    }
  }

  #tryLock(content) {
    let fd;
    try {
      fd = openSync(this.mutexFile, "wx", 0o600);
    } catch (e) {
      if (e.code === "EEXIST") return false;
      throw e;
    }
    try {
      writeSync(fd, content);
    } catch (e) {
      rmSync(this.mutexFile, { force: true }); // ours, empty or half-written (a full disk)
      throw e;
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** The lock file's text, or undefined when there is none. */
  #heldLock() {
    try {
      return readFileSync(this.mutexFile, "utf8");
    } catch (e) {
      if (e.code === "ENOENT") return undefined;
      throw e;
    }
  }

  /**
   * Removes the lock file only if it is still `expected` (its nonce): renamed aside first — an
   * atomic step no other process can interleave with — then checked. A lock that is not the
   * expected one (taken by another process since we read it) is renamed back.
   */
  #removeLockIf(expected) {
    const aside = `${this.mutexFile}.${randomUUID()}.aside`;
    try {
      renameSync(this.mutexFile, aside);
    } catch (e) {
      if (e.code === "ENOENT") return; // already gone
      throw e;
    }
    let moved;
    try {
      moved = readFileSync(aside, "utf8");
    } catch {} // unreadable: not the one we expected
    if (moved === expected) rmSync(aside, { force: true });
    else renameSync(aside, this.mutexFile);
  }
}

/** The `at` a lock file names, or undefined for one that is not ours (empty, half-written, foreign). */
function lockTime(text) {
  try {
    const { at } = JSON.parse(text);
    return typeof at === "number" ? at : undefined;
  } catch {
    return undefined;
  }
}

/** fsync of a folder, so a rename or unlink in it survives a crash. */
function syncFolder(dir) {
  let fd;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (e) {
    // Windows cannot open a folder (EISDIR/EPERM) and renames there are durable on their own; a
    // few filesystems refuse fsync on a folder (EINVAL). The write itself has succeeded.
    if (!["EISDIR", "EPERM", "EINVAL"].includes(e.code)) throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
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
      if (data === undefined) return false; // logged out (or never signed in): only login creates a profile
      if (!tokensMatch(data.tokens, expected)) return false;
      this.profile.write({ ...data, tokens: next });
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
