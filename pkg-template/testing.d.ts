import type { TokenStore } from "./index.js";

export interface VerifyTokenStoreOptions {
  /** The short lease the expiry check waits out; default 400 ms. */
  leaseMs?: number;
  /** How many handles race compareAndSet and acquireLease; default 8. */
  race?: number;
  /** Every store call must settle within this; default 5000 ms. */
  timeoutMs?: number;
  /** Prepended to every key the kit uses. */
  keyPrefix?: string;
}

export interface StoreCheckResult {
  name: string;
  ok: boolean;
  /** Why it failed. */
  detail?: string;
  ms: number;
}

/** Thrown by verifyTokenStore: the readable report is its message. */
export class StoreConformanceError extends Error {
  results: StoreCheckResult[];
  failures: StoreCheckResult[];
}

/**
 * Runs every promise of the store protocol against stores from `makeStore(key)` (two calls with
 * the same key: two handles on the same data; every key is new). Resolves to the results when
 * all hold; throws a StoreConformanceError naming each broken one.
 */
export function verifyTokenStore(makeStore: (key: string) => TokenStore | Promise<TokenStore>, options?: VerifyTokenStoreOptions): Promise<StoreCheckResult[]>;
