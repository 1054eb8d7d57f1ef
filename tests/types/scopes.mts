// Compiled with `tsc --strict` (tests/node/package.test.mjs): the scope types are exactly
// `AvitoScope | (string & {})` — Avito's names complete in editors, a new scope still passes,
// and a typo in a variable typed AvitoScope is an error.
import { AvitoAuth, type AvitoScope, type Scope, type TokenSet, type AuthorizationUrlOptions } from "avito-auth";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

const everyAvitoScope = [
  "autoload:reports", "items:apply_vas", "items:info", "job:applications", "job:cv", "job:vacancy", "job:write",
  "messenger:read", "messenger:write", "short_term_rent:read", "short_term_rent:write", "stats:read", "user:read",
  "user_balance:read", "user_operations:read", "ah:access", "cpa-auction:bids", "cpxpromo:read", "cpxpromo:edit",
  "items:apply_bbip", "ratings:read", "ratings:write", "special_offers:sending", "trx:apply", "trx:cancel", "trx:commission",
] as const;

export const proofs: [true, true, true, true] = [
  // The union is exactly the 26 names of Avito's specs.
  true satisfies Equal<AvitoScope, (typeof everyAvitoScope)[number]>,
  // What editors complete, and what still accepts any other string.
  true satisfies Equal<Scope, AvitoScope | (string & {})>,
  true satisfies Equal<Exclude<AuthorizationUrlOptions["scope"], string>[number], AvitoScope | (string & {})>,
  true satisfies Equal<NonNullable<TokenSet["scopes"]>[number], AvitoScope | (string & {})>,
];

// @ts-expect-error "messenger_read" is not one of Avito's scopes
export const typo: AvitoScope = "messenger_read";

export async function use(auth: AvitoAuth): Promise<boolean> {
  auth.authorizationUrl({ scope: ["messenger:read", "a-scope-avito-adds-later"] });
  const ts = await auth.exchangeCode("code");
  const scopes: Scope[] | undefined = ts.scopes;
  return scopes?.includes("messenger:read") ?? false;
}
