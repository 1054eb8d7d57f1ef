import type { TokenSet, TokenStore } from "./index.js";

export interface RedisTokenStoreOptions {
  /** A connected node-redis (v4/v5) or ioredis client. */
  client: { sendCommand(args: string[]): Promise<unknown> } | { call(...args: string[]): Promise<unknown> };
  /** Redis key of the TokenSet (the lease uses `${key}:lease`); default "avito-auth:tokens". One key per Avito account. */
  key?: string;
}

/** A TokenStore in Redis: CAS in Lua, lease with SET NX PX. */
export class RedisTokenStore implements TokenStore {
  constructor(options: RedisTokenStoreOptions);
  get(): Promise<TokenSet | undefined>;
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  acquireLease(ttlMs: number): Promise<string | undefined>;
  releaseLease(leaseId: string): Promise<void>;
}
