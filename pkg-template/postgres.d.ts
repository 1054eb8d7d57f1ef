import type { TokenSet, TokenStore } from "./index.js";

/** Anything with node-postgres's `query(text, values)`: a `pg.Pool` or a connected `pg.Client`. */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

export interface PostgresTokenStoreOptions {
  /** A `pg.Pool` (give it an `error` listener) or a connected `pg.Client`. */
  client: PostgresQueryable;
  /** The account's key in the table (one row per Avito account): non-empty, at most 4096 characters, no U+0000 or unpaired surrogates. */
  key: string;
  /** Table name, optionally `schema.table`; default "avito_tokens". */
  table?: string;
}

/** The table's DDL (`CREATE TABLE IF NOT EXISTS …`), for migrations. */
export function tableDDL(table?: string): string;
/** Creates the token table if it does not exist. */
export function createTable(client: PostgresQueryable, options?: { table?: string }): Promise<void>;

/** A TokenStore in PostgreSQL: jsonb TokenSet per key, CAS in one conditional statement, a lease on the database's clock. Bad options or arguments: ApiException `invalid_argument`. */
export class PostgresTokenStore implements TokenStore {
  constructor(options: PostgresTokenStoreOptions);
  /** Creates this store's table if it does not exist. */
  createTable(): Promise<void>;
  get(): Promise<TokenSet | undefined>;
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  acquireLease(ttlMs: number): Promise<string | undefined>;
  releaseLease(leaseId: string): Promise<void>;
}
