import type { TokenSet, TokenStore } from "./index.js";

export interface RedisTokenStoreOptions {
  /** A connected node-redis (v4/v5) or ioredis client. */
  client: { sendCommand(args: string[]): Promise<unknown> } | { call(...args: string[]): Promise<unknown> };
  /**
   * Redis key of this account's TokenSet, one per Avito account (required: there is no shared
   * default). A non-empty string of at most 4096 characters without U+0000 or unpaired surrogates;
   * the lease lives under `leaseKeyOf(key)` = `${key}\u0000lease`.
   */
  key: string;
}

/** The Redis key of the renewal lease of the account stored under `key`: `${key}\u0000lease`. */
export function leaseKeyOf(key: string): string;

/** A TokenStore in Redis: CAS in Lua, lease with SET NX PX. Bad options or arguments: ApiException `invalid_argument`. */
export class RedisTokenStore implements TokenStore {
  constructor(options: RedisTokenStoreOptions);
  get(): Promise<TokenSet | undefined>;
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  acquireLease(ttlMs: number): Promise<string | undefined>;
  releaseLease(leaseId: string): Promise<void>;
}
