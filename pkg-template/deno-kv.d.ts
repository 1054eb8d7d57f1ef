import type { TokenSet, TokenStore } from "./index.js";

/** The part of a `Deno.Kv` this store uses. */
export interface DenoKvLike {
  get(key: readonly unknown[]): Promise<{ key: readonly unknown[]; value: unknown; versionstamp: string | null }>;
  atomic(): any;
}

export interface DenoKvTokenStoreOptions {
  /** `await Deno.openKv()` (or `Deno.openKv(path)`, shared by processes on one host). */
  kv: DenoKvLike;
  /** The account's key (one per Avito account): non-empty, at most 4096 characters, no U+0000 or unpaired surrogates. */
  key: string;
  /** Key parts before the account's key; default ["avito-auth"]. */
  prefix?: unknown[];
}

/** A TokenStore in Deno KV: CAS with atomic().check(versionstamp), a lease entry with expireIn. Bad options or arguments: ApiException `invalid_argument`. */
export class DenoKvTokenStore implements TokenStore {
  constructor(options: DenoKvTokenStoreOptions);
  get(): Promise<TokenSet | undefined>;
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  acquireLease(ttlMs: number): Promise<string | undefined>;
  releaseLease(leaseId: string): Promise<void>;
}
