//! The TypeScript declarations that are not a Rust signature: option objects, results, the store
//! protocol and `ApiException` (a JS class). wasm-bindgen writes them into its `.d.ts` beside the
//! classes it declares from the Rust exports (whose parameter and return types are annotated at
//! each export), and the package's `index.d.ts` is that file: the types cannot drift from the code.

use wasm_bindgen::prelude::*;

/// `AvitoScope`, generated from the one list of scopes in `crate::oauth::scope`.
#[wasm_bindgen(typescript_custom_section)]
const AVITO_SCOPE: &str = crate::oauth::scope::AVITO_SCOPE_TYPESCRIPT;

#[wasm_bindgen(typescript_custom_section)]
const DECLARATIONS: &str = r#"
/**
 * avito-auth — a client for Avito's authorization API (`POST {host}/token`), compiled from Rust
 * to WebAssembly. The same API in every runtime entry (Node CJS/ESM, Workers, Deno, Bun, browsers).
 */

/** What went wrong, as `ApiException.kind`. */
export type ApiExceptionKind =
  /** The body carries an RFC 6749 `error` (status not 429/5xx), including HTTP 200 with an error body. */
  | "oauth"
  /** Any other non-2xx: 429, 5xx (even with an `error`), Avito `{"error":{"code","message"}}` bodies, HTML. */
  | "http"
  /** A 2xx that is not a JSON object with a non-empty string `access_token` and well-typed fields, or over 1 MiB. */
  | "invalid_response"
  /** The connection failed or was reset. */
  | "network"
  /** No complete response within `timeoutMs` (per attempt; default 30 000 ms). */
  | "timeout"
  /** The caller's `AbortSignal` fired. */
  | "aborted"
  /** A bad argument or configuration, refused before any request is sent. */
  | "invalid_argument"
  /**
   * A TokenManager's store failed: a call rejected, threw or did not settle within `leaseMs`, or
   * its `compareAndSet` never accepted the set its `get` returned.
   */
  | "store"
  /**
   * No usable refresh token remains — none stored, refused by the server earlier, or the account
   * was signed out: the seller must sign in again (`signInRequired` is true). Nothing was sent.
   * The server's own `invalid_grant` stays `"oauth"`, with `signInRequired` true.
   */
  | "sign_in_required";

/**
 * The one error type. A real `Error` subclass. Never contains a secret value (client secret,
 * code, refresh or access token) in `message`, `body`, `String(err)`, `JSON.stringify(err)` or
 * `util.inspect(err)`. Its `message` is at most 4.5 KiB, whatever the server sent.
 */
export class ApiException extends Error {
  constructor(kind: ApiExceptionKind, message?: string, fields?: Partial<Pick<ApiException, "status" | "error" | "errorDescription" | "retryable" | "retryAfterMs" | "body" | "signInRequired">>);
  readonly name: "ApiException";
  readonly kind: ApiExceptionKind;
  /** HTTP status, when there was a response. */
  readonly status?: number;
  /**
   * The OAuth error code when the body has one (`"invalid_grant"`, …). For `network` errors the
   * platform's error code when known (`"ECONNREFUSED"`); for callbacks `"state_mismatch"` /
   * `"missing_code"`. At most 2 KiB.
   */
  readonly error?: string;
  /** `error_description`, or Avito's `error.message`; at most 2 KiB, with secret values replaced by `[redacted]`. */
  readonly errorDescription?: string;
  /** Whether repeating the same request is safe and may succeed (never for a spent code/refresh token). */
  readonly retryable: boolean;
  /** From the `Retry-After` response header, when present. */
  readonly retryAfterMs?: number;
  /** The response text, truncated to 2 KiB, with secret values replaced by `[redacted]`. */
  readonly body?: string;
  /**
   * The user must sign in again: an OAuth `invalid_grant` (the code or refresh token is dead),
   * or a TokenManager with no refresh token in its store.
   */
  readonly signInRequired: boolean;
  toJSON(): Record<string, unknown>;
}

/** Retry settings. Defaults: 3 attempts, 250 ms base delay, 10 000 ms max delay. */
export interface RetryOptions {
  /** Total attempts including the first (1–10). */
  maxAttempts?: number;
  baseDelayMs?: number;
  /** Upper bound of one delay; a `Retry-After` longer than this ends the retries. */
  maxDelayMs?: number;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ConfigurationOptions {
  /** Absolute https URL (http only for localhost/127.0.0.0/8/[::1]); default `https://api.avito.ru`. */
  host?: string;
  /** Used instead of the global `fetch` (proxies, Workers service bindings, tests). */
  fetch?: FetchLike;
  /** Per-attempt timeout in ms; default 30 000. */
  timeoutMs?: number;
  /** `false` disables retries. */
  retries?: RetryOptions | false;
  /** Sent as `User-Agent` (where the runtime allows it). */
  userAgent?: string;
  /** Extra request headers; `Content-Type` and `Accept` are always ours. */
  headers?: Record<string, string> | Iterable<[string, string]>;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Result of the authorization_code grant (wire names). */
export interface GetAccessTokenAuthorizationCode200Response {
  access_token: string;
  /** Seconds (Avito: 86400). A numeric string from the server is converted; a fraction is floored. */
  expires_in?: number;
  token_type?: string;
  refresh_token?: string;
  /** Comma-joined scopes, as Avito sends them. */
  scope?: string;
}
/** Result of the refresh_token grant; `refresh_token` is NEW — store it, the old one is spent. */
export interface RefreshAccessTokenAuthorizationCode200Response extends GetAccessTokenAuthorizationCode200Response {}
/** Result of the client_credentials grant. */
export interface GetAccessToken200Response {
  access_token: string;
  expires_in?: number;
  token_type?: string;
}

/**
 * A scope name: Avito's own names complete in editors, and a scope Avito adds later still passes.
 */
export type Scope = AvitoScope | (string & {});

/** A token response plus `expires_at` (Unix ms, computed when the response arrived) and `scopes`. */
export interface TokenSet extends GetAccessTokenAuthorizationCode200Response {
  expires_at?: number;
  /**
   * `scope` read into a list (`"messenger:read,items:info"` → `["messenger:read", "items:info"]`).
   * Every set `AvitoAuth` returns has it (empty when the response named no scope); optional here
   * because a set saved by an older version, or written by hand, may not.
   */
  scopes?: Scope[];
  /**
   * Written by a TokenManager into the stored set before it presents the refresh token: until
   * `answer_by` (Unix ms) that request may still be answered, so no other renewer presents the
   * same refresh token. When the answer is lost, the token is presented again after `answer_by`
   * and the server decides (README "Keeping tokens fresh"). Stores round-trip it and compare
   * its `id`.
   */
  renewal?: TokenRenewalMark;
  /**
   * Written (with `refresh_token` removed) when the server refused the refresh token
   * (`invalid_grant`): the seller must sign in again. A new sign-in writes a set without it.
   */
  refresh_refused_at?: number;
  /**
   * Written by a TokenManager's renewal in the write that ends its request (README "Watching your
   * sellers"): what `status()` reads, the same in every process sharing the store.
   */
  health?: TokenHealth;
}

/** The account's health as the stored set records it (no secret). */
export interface TokenHealth {
  /** Unix ms of the last renewal that delivered tokens. */
  last_renewal_at?: number;
  /** The last failed presentation: its ApiException's `kind`, `status` and `error`. */
  last_failure?: { at: number; kind: ApiExceptionKind; status?: number; error?: string };
  /** Presentations that failed in a row (0 after a renewal). */
  consecutive_failures?: number;
  /** Scopes an Avito operation declared and a 403 found not granted (`tm.fetch`). */
  missing_scopes?: string[];
}

/** `tm.status()` / `accounts.status(id)`: read from the stored set; nothing secret. */
export interface TokenStatus {
  /**
   * `"ok"`; `"renewing"` (a renewal's answer may still come); `"failing"` (the last presentations
   * failed); `"sign_in_required"` (no refresh token remains); `"signed_out"`; `"empty"` (nothing
   * stored).
   */
  state: "ok" | "renewing" | "failing" | "sign_in_required" | "signed_out" | "empty";
  /** Unix ms, or null when the server gave no `expires_in` (or nothing is stored). */
  expiresAt: number | null;
  scopes: string[];
  lastRenewalAt: number | null;
  lastFailure: { at: number; kind: ApiExceptionKind | null; status: number | null; error: string | null } | null;
  consecutiveFailures: number;
  /** Scopes a 403 found missing (sign the seller in again with them). */
  missingScopes?: string[];
  /** Tokens this process served from memory (no store read), and from a store read without a renewal. */
  servedFromMemory: number;
  servedFromStore: number;
}

/** What every event has. `accountId`: from AccountTokens' managers. */
interface AvitoAuthEventBase {
  /** Unix ms. */
  at: number;
  accountId?: string;
}

/**
 * What a TokenManager reports (README "Watching your sellers"): to `onEvent`, and on
 * `node:diagnostics_channel` channel `"avito-auth:event"` where the runtime has it. Never a token,
 * a code, a secret or a URL query.
 */
export type AvitoAuthEvent = AvitoAuthEventBase & (
  /** The renewal went past reading the store (it leases, waits for another renewer or requests). */
  | { type: "renewal_started"; renewalId: string }
  | {
      type: "renewal_finished";
      renewalId: string;
      /** `"failed"` also when the renewal then handed out the stored token that is still valid. */
      outcome: "renewed" | "failed";
      /** The ApiException's, on failure. */
      kind?: ApiExceptionKind;
      status?: number;
      error?: string;
      durationMs: number;
      /** Refresh tokens presented (or client_credentials requests) by this renewal. */
      presentations: number;
      /** Time asleep waiting for another renewer (or for a lost answer's mark to pass). */
      waitedMs: number;
    }
  | { type: "sign_in_required"; reason: "refused" | "none_stored" | "signed_out" | "lost_answer" }
  | { type: "signed_out" }
  /** `error`: the store's message, redacted. */
  | { type: "store_error"; call: "get" | "compareAndSet" | "acquireLease" | "releaseLease"; error: string }
  | {
      type: "api_refused";
      status: number;
      method: string;
      /** The URL's path, without its query. */
      path?: string;
      action: "recovered" | "handed_back";
      reason: "missing_scopes" | "just_renewed" | "not_replayable" | "too_soon" | "no_token" | "adopted" | "renewed";
      missingScopes?: string[];
    }
  /** One per token handed out; from memory only for a manager given `onEvent` (else counted in `status()`). */
  | { type: "token_served"; source: "memory" | "store" }
);

export interface TokenRenewalMark {
  id: string;
  presented_at: number;
  answer_by: number;
}

export interface AvitoAuthOptions extends ConfigurationOptions {
  clientId: string;
  /** Kept private: not reachable through `JSON.stringify(auth)` or `util.inspect(auth)`. */
  clientSecret: string;
  /** The consent page; default `https://avito.ru/oauth`. */
  authorizeUrl?: string;
}

export interface AuthorizationUrlOptions {
  /** `["messenger:read", "items:info"]` or `"messenger:read,items:info"`. */
  scope: Scope[] | string;
  /** Default: 256 random bits from `crypto.getRandomValues`, base64url. */
  state?: string;
  redirectUri?: string;
}

export interface CallbackResult {
  code: string;
  state: string;
}

export type CallbackInput = string | URL | URLSearchParams | { url: string };

/**
 * Storage shared by TokenManagers (see README "Keeping tokens fresh"). All methods async; each
 * call must settle (a TokenManager gives up on a call after `leaseMs` with kind "store").
 * `avito-auth/testing`'s `verifyTokenStore` checks a store against these promises.
 */
export interface TokenStore {
  /** The current TokenSet exactly as written (every member, unknown ones and `renewal` included), or undefined. */
  get(): Promise<TokenSet | undefined>;
  /**
   * Writes `next` only if the stored set still matches `expected`, atomically; returns whether it
   * wrote. `expected` undefined matches only an empty store. Otherwise a set matches when its
   * `access_token`, `refresh_token` and `renewal.id` equal `expected`'s (each compared as a
   * string, absent equal to absent). Comparing by identity (`===`) never matches: the manager
   * passes copies.
   */
  compareAndSet(expected: TokenSet | undefined, next: TokenSet): Promise<boolean>;
  /**
   * Takes the renewal lease for `ttlMs` (the store's own clock); returns a new lease id, or
   * undefined while another lease is live. At most one live lease at a time.
   */
  acquireLease(ttlMs: number): Promise<string | undefined>;
  /** Releases the lease only if `leaseId` is the live one. */
  releaseLease(leaseId: string): Promise<void>;
}

export interface TokenManagerOptions {
  auth: AvitoAuth;
  /** `"client_credentials"` for application tokens; omit and pass `tokens` for a user's tokens. */
  grant?: "client_credentials" | "refresh_token";
  /** A user's TokenSet (must hold a refresh_token) for the refresh_token flow. */
  tokens?: TokenSet;
  /** Renew this long before `expires_at`; default 60 000. */
  refreshSkewMs?: number;
  /** Default: a MemoryTokenStore. */
  store?: TokenStore;
  /**
   * Lease length for cross-process renewals, default 10 000 ms; a lease is taken for at least one
   * whole token request (`timeoutMs` × attempts + retry delays). Also the longest a store call may
   * take. A renewal gives up after 2 × `leaseMs` + 2 s + one request's time.
   */
  leaseMs?: number;
  /**
   * Never present a refresh token again after its refresh's answer was lost: ask for a sign-in
   * instead. For servers that punish a replayed refresh token; default false (present it again
   * and let the server decide).
   */
  strictRotation?: boolean;
  /**
   * `tm.fetch` renews on a 401/403 at most once per this many ms (default 60 000), and never for
   * a token it has just obtained: Avito also answers 403 to a missing scope or a blocked IP.
   */
  refusalRenewalIntervalMs?: number;
  /**
   * Called after every successful renewal: persist the TokenSet (its refresh_token is new).
   * Awaited; if it throws, the callers waiting for that renewal get its error (the new tokens
   * are already in the store and are used from then on).
   */
  onTokens?: (tokens: TokenSet) => void | Promise<void>;
  /** The fetch `tm.fetch` uses; default the global one. */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /**
   * Called synchronously with every event (README "Watching your sellers"); what it returns is
   * ignored, and a throw or rejection does not reach the manager.
   */
  onEvent?: (event: AvitoAuthEvent) => void;
}
"#;
