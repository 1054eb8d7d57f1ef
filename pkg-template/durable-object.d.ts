import type { TokenSet, TokenStore } from "./index.js";

/** The Durable Object class to export from your Worker and bind (e.g. as AVITO_TOKENS). */
export class AvitoTokensDurableObject {
  constructor(state: { storage: { get(key: string): Promise<unknown>; put(key: string, value: unknown): Promise<void> } }, env?: unknown);
  fetch(request: Request): Promise<Response>;
}

/** A TokenStore over one account's Durable Object stub: `env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName(accountId))`. Bad options or arguments: ApiException `invalid_argument`. */
export class DurableObjectTokenStore implements TokenStore {
  constructor(stub: { fetch(input: string, init?: RequestInit): Promise<Response> });
  get(): Promise<TokenSet | undefined>;
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  acquireLease(ttlMs: number): Promise<string | undefined>;
  releaseLease(leaseId: string): Promise<void>;
}
