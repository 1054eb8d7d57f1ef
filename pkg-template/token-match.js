// The store protocol's compare step, shared by the stores that compare in JS (deno-kv.js,
// durable-object.js): an empty store matches only an empty expected value; otherwise
// access_token, refresh_token and renewal.id must be equal, each read as "string or absent".
// Not a package entry: the ESM stores import it, their CJS twins have it bundled in.

/** A member as the protocol compares it: the string, or null for anything else (absent, a number…). */
export const asText = (v) => (typeof v === "string" ? v : null);

/** Whether the stored TokenSet is the one `expected` names (both may be null/undefined: empty). */
export const tokensMatch = (stored, expected) =>
  expected == null
    ? stored == null
    : stored != null &&
      asText(stored.access_token) === asText(expected.access_token) &&
      asText(stored.refresh_token) === asText(expected.refresh_token) &&
      asText(stored.renewal?.id) === asText(expected.renewal?.id);
