// Token storage in PostgreSQL through node-postgres (`pg`, an optional peer dependency; a Pool or
// a Client). One table holds every account: the TokenSet as jsonb under its key, and the renewal
// lease beside it. compareAndSet is ONE conditional statement comparing what the protocol compares
// (access_token, refresh_token, renewal.id); the lease is timed by the database's clock (now()),
// so the app servers' clocks do not matter. This module does not load the wasm and never imports
// `pg` itself: it uses the client it is given.
import { webcrypto } from "node:crypto";
import { asText, checkKey, checkNext, checkTtlMs, invalidArgument, newLeaseId } from "./store-protocol.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

function tableName(table) {
  if (typeof table !== "string" || !IDENT.test(table)) {
    throw invalidArgument("PostgresTokenStore: table must be a plain SQL name (letters, digits, _; optionally schema.table)");
  }
  return table.split(".").map((part) => `"${part}"`).join(".");
}

/** The DDL of the token table (also in README for migrations). */
export function tableDDL(table = "avito_tokens") {
  return `CREATE TABLE IF NOT EXISTS ${tableName(table)} (
  key         text PRIMARY KEY,
  token_set   jsonb,
  lease_id    text,
  lease_until timestamptz
)`;
}

function queryable(client) {
  if (!client || typeof client.query !== "function") throw invalidArgument("PostgresTokenStore needs a pg Pool or a connected pg Client");
  return client;
}

/** Creates the token table if it does not exist: `await createTable(pool, { table })`. */
export async function createTable(client, { table = "avito_tokens" } = {}) {
  await runDDL(queryable(client), tableDDL(table));
}

async function runDDL(client, ddl) {
  try {
    await client.query(ddl);
  } catch (e) {
    // Two processes creating the table at once: one wins, the other sees the new table's type
    // or relation appear (unique_violation / duplicate_table). The table exists either way.
    if (e?.code !== "23505" && e?.code !== "42P07") throw e;
  }
}

// The protocol's compare step (tokensMatch in store-protocol.js) in SQL, so that the compare and
// the write are one statement: a member compared, "string or absent", is read from the jsonb only
// when it is a JSON string; the JS side sends asText(member), null for anything else.
const member = (path) => `(CASE WHEN jsonb_typeof(token_set #> '{${path}}') = 'string' THEN token_set #>> '{${path}}' END)`;

export class PostgresTokenStore {
  #client;
  #key;
  #sql;
  constructor({ client, key, table = "avito_tokens" } = {}) {
    this.#client = queryable(client);
    this.#key = checkKey("PostgresTokenStore", key);
    const t = tableName(table);
    this.#sql = {
      ddl: tableDDL(table),
      get: `SELECT token_set FROM ${t} WHERE key = $1`,
      // An empty store: no row, or a row holding only a lease.
      casEmpty: `INSERT INTO ${t} AS t (key, token_set) VALUES ($1, $2::jsonb)
        ON CONFLICT (key) DO UPDATE SET token_set = EXCLUDED.token_set WHERE t.token_set IS NULL`,
      cas: `UPDATE ${t} SET token_set = $2::jsonb WHERE key = $1 AND token_set IS NOT NULL
        AND ${member("access_token")} IS NOT DISTINCT FROM $3::text
        AND ${member("refresh_token")} IS NOT DISTINCT FROM $4::text
        AND ${member("renewal,id")} IS NOT DISTINCT FROM $5::text`,
      // ON CONFLICT DO UPDATE locks the row and evaluates WHERE on its latest version: one winner.
      acquire: `INSERT INTO ${t} AS t (key, lease_id, lease_until) VALUES ($1, $2, now() + $3::double precision * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE SET lease_id = EXCLUDED.lease_id, lease_until = EXCLUDED.lease_until
        WHERE t.lease_id IS NULL OR t.lease_until <= now()`,
      release: `UPDATE ${t} SET lease_id = NULL, lease_until = NULL WHERE key = $1 AND lease_id = $2`,
    };
  }
  /** Creates this store's table if it does not exist. */
  async createTable() {
    await runDDL(this.#client, this.#sql.ddl);
  }
  async get() {
    const { rows } = await this.#client.query(this.#sql.get, [this.#key]);
    return rows[0]?.token_set ?? undefined;
  }
  async compareAndSet(expected, next) {
    checkNext("PostgresTokenStore", next);
    const json = JSON.stringify(next);
    const r = expected == null
      ? await this.#client.query(this.#sql.casEmpty, [this.#key, json])
      : await this.#client.query(this.#sql.cas, [this.#key, json, asText(expected.access_token), asText(expected.refresh_token), asText(expected.renewal?.id)]);
    return r.rowCount === 1;
  }
  async acquireLease(ttlMs) {
    const ttl = checkTtlMs("PostgresTokenStore", ttlMs);
    const id = newLeaseId(webcrypto);
    const r = await this.#client.query(this.#sql.acquire, [this.#key, id, ttl]);
    return r.rowCount === 1 ? id : undefined;
  }
  async releaseLease(leaseId) {
    if (typeof leaseId !== "string") return;
    await this.#client.query(this.#sql.release, [this.#key, leaseId]);
  }
}
