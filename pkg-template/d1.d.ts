import type { TokenSet, TokenStore } from "./index.js";

/** The part of a Cloudflare D1 binding (`env.DB`) this store uses. */
export interface D1Like {
  prepare(query: string): {
    bind(...values: unknown[]): { first(): Promise<any>; run(): Promise<{ meta?: { changes?: number } }> };
    run(): Promise<unknown>;
  };
}

export interface D1TokenStoreOptions {
  /** The D1 database binding, e.g. `env.DB`. */
  db: D1Like;
  /** The account's key in the table (one row per Avito account): non-empty, at most 4096 characters, no U+0000 or unpaired surrogates. */
  key: string;
  /** Table name; default "avito_tokens". */
  table?: string;
}

/** The table's DDL (`CREATE TABLE IF NOT EXISTS …`), for migrations. */
export function tableDDL(table?: string): string;
/** Creates the token table if it does not exist. */
export function createTable(db: D1Like, options?: { table?: string }): Promise<void>;

/** A TokenStore in D1: JSON TokenSet per key, CAS in one conditional statement, a lease on SQLite's clock. Bad options or arguments: ApiException `invalid_argument`. */
export class D1TokenStore implements TokenStore {
  constructor(options: D1TokenStoreOptions);
  /** Creates this store's table if it does not exist. */
  createTable(): Promise<void>;
  get(): Promise<TokenSet | undefined>;
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  acquireLease(ttlMs: number): Promise<string | undefined>;
  releaseLease(leaseId: string): Promise<void>;
}
