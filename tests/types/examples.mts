// Compiled with `tsc --strict` against the packed package (ESM resolution); uses every export.
import {
  AccessApi, ApiClient, ApiException, ApplicationAccessApi, AvitoAuth, Configuration, MemoryTokenStore, TokenManager,
  parseCallback, randomState, requiredScopes,
  type ApiExceptionKind, type AvitoScope, type GetAccessToken200Response, type GetAccessTokenAuthorizationCode200Response,
  type RefreshAccessTokenAuthorizationCode200Response, type TokenSet, type TokenStore,
  type AvitoAuthEvent, type TokenStatus,
} from "avito-auth";
import { init, initSync } from "avito-auth/init";

const config = new Configuration({ host: "https://api.avito.ru", timeoutMs: 10_000, retries: { maxAttempts: 2 }, userAgent: "x/1", headers: { "x-a": "b" }, fetch: globalThis.fetch });
const client = new ApiClient(config);
const app = new ApplicationAccessApi(client);
const access = new AccessApi();

async function seed(): Promise<void> {
  const a: GetAccessTokenAuthorizationCode200Response = await app.getAccessTokenAuthorizationCode("id", "secret", "code");
  const r: RefreshAccessTokenAuthorizationCode200Response = await app.refreshAccessTokenAuthorizationCode("id", "secret", undefined, a.refresh_token ?? "");
  const c: GetAccessToken200Response = await access.getAccessToken("id", "secret", "client_credentials", { signal: AbortSignal.timeout(1000) });
  const n: number | undefined = c.expires_in;
  void r; void n;
}

async function ergonomic(): Promise<string> {
  const auth = new AvitoAuth({ clientId: "id", clientSecret: "secret", authorizeUrl: "https://avito.ru/oauth" });
  const { url, state }: { url: string; state: string } = auth.authorizationUrl({ scope: ["messenger:read"], redirectUri: "https://x/cb" });
  const { code } = auth.parseCallback(`https://x/cb?code=c&state=${state}`, state);
  const again = parseCallback(new URL(url), state);
  const ts: TokenSet = await auth.exchangeCode(code, { redirectUri: "https://x/cb" });
  const next = await auth.refresh(ts.refresh_token!, {});
  await auth.clientCredentials({ signal: new AbortController().signal });
  const at: number | undefined = next.expires_at;
  void again; void at; void randomState();
  const declared: AvitoScope[] | undefined = requiredScopes("GET", new URL("https://api.avito.ru/core/v1/accounts/self"), "https://api.avito.ru");
  void declared;
  return auth.clientId + auth.host;
}

function errors(e: unknown): string {
  if (e instanceof ApiException) {
    const k: ApiExceptionKind = e.kind;
    const fields = [e.status, e.error, e.errorDescription, e.retryable, e.retryAfterMs, e.body, e.signInRequired];
    return k + fields.join() + (e instanceof Error ? e.message : "");
  }
  return new ApiException("http", "x", { status: 500 }).toJSON().kind as string;
}

async function lifecycle(auth: AvitoAuth): Promise<Response> {
  const store: TokenStore = new MemoryTokenStore();
  const tm = new TokenManager({ auth, grant: "client_credentials", refreshSkewMs: 60_000, store, onTokens: (t: TokenSet) => void t.access_token });
  const user = new TokenManager({ auth, tokens: { access_token: "a", refresh_token: "r", expires_at: 0 } });
  const token: string = await tm.getAccessToken();
  const header: string = await user.authorizationHeader();
  tm.invalidate();
  void token; void header;
  return tm.fetch("https://api.avito.ru/core/v1/accounts/self", { method: "GET" });
}

async function explicitInit(bytes: Uint8Array): Promise<void> {
  await init();
  initSync(bytes);
}

export { seed, ergonomic, errors, lifecycle, explicitInit };

// The store entries.
import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";
import { RedisTokenStore, leaseKeyOf } from "avito-auth/redis";

interface Env { AVITO_TOKENS: { idFromName(name: string): unknown; get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> } } }
export async function durable(env: Env, auth: AvitoAuth): Promise<string> {
  const store: TokenStore = new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName("acct")));
  const obj = new AvitoTokensDurableObject({ storage: { get: async () => undefined, put: async () => {} } });
  void obj.fetch;
  return new TokenManager({ auth, grant: "refresh_token", store, leaseMs: 5000 }).getAccessToken();
}
export async function redis(client: { sendCommand(args: string[]): Promise<unknown> }): Promise<TokenSet | undefined> {
  const store = new RedisTokenStore({ client, key: "avito:tokens:acct" });
  await client.sendCommand(["DEL", leaseKeyOf("avito:tokens:acct")]);
  const lease = await store.acquireLease(1000);
  if (lease !== undefined) await store.releaseLease(lease);
  return store.get();
}

// PostgreSQL, Deno KV, D1, the conformance kit, many accounts.
import { PostgresTokenStore, createTable as createPgTable, tableDDL } from "avito-auth/postgres";
import { DenoKvTokenStore } from "avito-auth/deno-kv";
import { D1TokenStore, createTable as createD1Table } from "avito-auth/d1";
import { verifyTokenStore, StoreConformanceError, type StoreCheckResult } from "avito-auth/testing";
import { AccountTokens, sealedStore, SealedStore, type SealingKey, type RenewDueResult } from "avito-auth";
import { instrument, EVENT_CHANNEL, type Instrumentation } from "avito-auth/opentelemetry";
import { trace, metrics } from "@opentelemetry/api";

export function telemetry(): Instrumentation {
  const channel: "avito-auth:event" = EVENT_CHANNEL;
  const instrumentation = instrument({ tracerProvider: trace.getTracerProvider(), meterProvider: metrics.getMeterProvider(), channel: channel.length > 0 });
  instrumentation.onEvent({ type: "signed_out", at: Date.now(), accountId: "seller-1" });
  void instrumentation.subscribed.then((on: boolean) => on);
  return instrumentation;
}

export async function postgres(pool: { query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }> }, auth: AvitoAuth): Promise<string> {
  await createPgTable(pool, { table: "avito_tokens" });
  const ddl: string = tableDDL();
  const accounts = new AccountTokens({ auth, store: (id: string) => new PostgresTokenStore({ client: pool, key: id }), maxAccounts: 500, onTokens: (id: string, ts: TokenSet) => void [id, ts] });
  await accounts.signIn("seller-1", { access_token: "a", refresh_token: "r" });
  const tm: TokenManager = accounts.manager("seller-1");
  const n: number = accounts.size;
  const gone: boolean = accounts.forget("seller-1");
  const due: RenewDueResult[] = await accounts.renewDue(["seller-1", "seller-2"], { within: 3_600_000, concurrency: 4, signal: AbortSignal.timeout(60_000) });
  const first = due[0];
  if (first && first.result === "failed") void (first.kind satisfies ApiExceptionKind | undefined);
  void ddl; void n; void gone;
  return tm.getAccessToken();
}
export async function kv(kvHandle: { get(key: readonly unknown[]): Promise<{ key: readonly unknown[]; value: unknown; versionstamp: string | null }>; atomic(): unknown }): Promise<TokenSet | undefined> {
  return new DenoKvTokenStore({ kv: kvHandle, key: "seller-1", prefix: ["app"] }).get();
}
export async function d1(db: { prepare(q: string): { bind(...v: unknown[]): { first(): Promise<any>; run(): Promise<{ meta?: { changes?: number } }> }; run(): Promise<unknown> } }): Promise<boolean> {
  await createD1Table(db);
  return new D1TokenStore({ db, key: "seller-1" }).compareAndSet(undefined, { access_token: "a" });
}
export async function kit(): Promise<number> {
  try {
    const results: StoreCheckResult[] = await verifyTokenStore((key: string) => new MemoryTokenStore(), { leaseMs: 200, race: 4, timeoutMs: 1000, keyPrefix: "t:" });
    return results.length;
  } catch (e) {
    if (e instanceof StoreConformanceError) return -e.failures.length;
    throw e;
  }
}
export async function sealed(pool: { query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }> }, auth: AvitoAuth): Promise<"resealed" | "current" | "empty"> {
  const keys: SealingKey[] = [{ id: "2026-12", key: "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=" }, { id: "2026-11", key: new Uint8Array(32) }];
  const store: SealedStore = sealedStore(new PostgresTokenStore({ client: pool, key: "avito:1" }), { keys, context: "1", acceptPlaintext: true });
  const accounts = new AccountTokens({ auth, store: (id: string) => new PostgresTokenStore({ client: pool, key: id }), seal: { keys } });
  const tm = new TokenManager({ auth, grant: "refresh_token", store });
  void accounts; void tm;
  return store.reseal();
}

// Watching your sellers: events narrow on `type`; status() is typed.
export async function watch(auth: AvitoAuth): Promise<TokenStatus> {
  const seen: string[] = [];
  const onEvent = (e: AvitoAuthEvent): void => {
    if (e.type === "renewal_finished") seen.push(`${e.outcome} ${e.kind ?? ""} ${e.durationMs} ${e.presentations} ${e.waitedMs}`);
    if (e.type === "api_refused") seen.push(`${e.action} ${e.reason} ${(e.missingScopes ?? []).join(",")}`);
    if (e.type === "sign_in_required") seen.push(e.reason);
    if (e.accountId !== undefined) seen.push(e.accountId);
  };
  const tm = new TokenManager({ auth, grant: "client_credentials", onEvent });
  const status: TokenStatus = await tm.status();
  const state: "ok" | "renewing" | "failing" | "sign_in_required" | "signed_out" | "empty" = status.state;
  const failures: number = status.consecutiveFailures;
  void state; void failures; void seen;
  return status;
}
