// Token storage in Cloudflare D1 (SQLite): one table holds every account, the TokenSet as JSON
// text under its key and the renewal lease beside it. compareAndSet is ONE conditional statement
// comparing what the protocol compares (access_token, refresh_token, renewal.id, each read only
// when it is a JSON string); the lease is timed by the database's clock (julianday('now')), not
// the isolates'. This module does not load the wasm.

import { asText, checkKey, checkNext, checkTtlMs, invalidArgument, newLeaseId } from "./store-protocol.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
// Unix milliseconds from SQLite's own clock (julianday works on every SQLite version).
const NOW_MS = "((julianday('now') - 2440587.5) * 86400000.0)";

function tableName(table) {
  if (typeof table !== "string" || !IDENT.test(table)) throw invalidArgument("D1TokenStore: table must be a plain SQL name (letters, digits, _)");
  return `"${table}"`;
}

/** The DDL of the token table (also in README for migrations). */
export function tableDDL(table = "avito_tokens") {
  return `CREATE TABLE IF NOT EXISTS ${tableName(table)} (key TEXT PRIMARY KEY, token_set TEXT, lease_id TEXT, lease_until REAL)`;
}

function database(db) {
  if (!db || typeof db.prepare !== "function") throw invalidArgument("D1TokenStore needs a D1 database binding (env.DB)");
  return db;
}

/** Creates the token table if it does not exist: `await createTable(env.DB, { table })`. */
export async function createTable(db, { table = "avito_tokens" } = {}) {
  await database(db).prepare(tableDDL(table)).run();
}

// The protocol's compare step (tokensMatch in store-protocol.js) in SQL, so that the compare and
// the write are one statement: a compared member is read only when it is a JSON string; the JS
// side sends asText(member), null for anything else.
const member = (path) => `(CASE WHEN json_type(token_set, '${path}') = 'text' THEN json_extract(token_set, '${path}') END)`;
const changes = (r) => Number(r?.meta?.changes ?? 0);

export class D1TokenStore {
  #db;
  #key;
  #sql;
  constructor({ db, key, table = "avito_tokens" } = {}) {
    this.#db = database(db);
    this.#key = checkKey("D1TokenStore", key);
    const t = tableName(table);
    this.#sql = {
      ddl: tableDDL(table),
      get: `SELECT token_set FROM ${t} WHERE key = ?1`,
      // An empty store: no row, or a row holding only a lease.
      casEmpty: `INSERT INTO ${t} (key, token_set) VALUES (?1, ?2)
        ON CONFLICT (key) DO UPDATE SET token_set = excluded.token_set WHERE token_set IS NULL`,
      cas: `UPDATE ${t} SET token_set = ?2 WHERE key = ?1 AND token_set IS NOT NULL
        AND ${member("$.access_token")} IS ?3 AND ${member("$.refresh_token")} IS ?4 AND ${member("$.renewal.id")} IS ?5`,
      acquire: `INSERT INTO ${t} (key, lease_id, lease_until) VALUES (?1, ?2, ${NOW_MS} + ?3)
        ON CONFLICT (key) DO UPDATE SET lease_id = excluded.lease_id, lease_until = excluded.lease_until
        WHERE lease_id IS NULL OR lease_until <= ${NOW_MS}`,
      release: `UPDATE ${t} SET lease_id = NULL, lease_until = NULL WHERE key = ?1 AND lease_id = ?2`,
    };
  }
  /** Creates this store's table if it does not exist. */
  async createTable() {
    await this.#db.prepare(this.#sql.ddl).run();
  }
  async get() {
    const row = await this.#db.prepare(this.#sql.get).bind(this.#key).first();
    return row?.token_set == null ? undefined : JSON.parse(row.token_set);
  }
  async compareAndSet(expected, next) {
    checkNext("D1TokenStore", next);
    const json = JSON.stringify(next);
    const r = expected == null
      ? await this.#db.prepare(this.#sql.casEmpty).bind(this.#key, json).run()
      : await this.#db.prepare(this.#sql.cas).bind(this.#key, json, asText(expected.access_token), asText(expected.refresh_token), asText(expected.renewal?.id)).run();
    return changes(r) === 1;
  }
  async acquireLease(ttlMs) {
    const ttl = checkTtlMs("D1TokenStore", ttlMs);
    const id = newLeaseId();
    const r = await this.#db.prepare(this.#sql.acquire).bind(this.#key, id, ttl).run();
    return changes(r) === 1 ? id : undefined;
  }
  async releaseLease(leaseId) {
    if (typeof leaseId !== "string") return;
    await this.#db.prepare(this.#sql.release).bind(this.#key, leaseId).run();
  }
}
