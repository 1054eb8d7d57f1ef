// Sealed stores in the fleet tests: the keys (fresh each run), the AVITO_SEAL_KEYS form the
// examples read, and the dump sweep: a store's data, dumped by its own tool after a fleet run,
// holds no token the token server issued and no 8-character piece of one, and does hold sealed
// records (so that an empty or unrelated dump cannot pass).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

/** The key being retired and the one replacing it (base64 and base64url: both forms are read). */
export const OLD_KEY = { id: "2026-06", key: randomBytes(32).toString("base64") };
export const NEW_KEY = { id: "2026-12", key: randomBytes(32).toString("base64url") };

/** `keys` as the examples read them from AVITO_SEAL_KEYS: `id:key` pairs, comma-separated, the first seals. */
export const sealKeysEnv = (keys) => keys.map((k) => `${k.id}:${k.key}`).join(",");

const PIECE = 8;

/** The tokens of `tokens` that have an 8-character piece in `dump` (text, or bytes read as latin1). */
export function leakedTokens(dump, tokens) {
  const text = typeof dump === "string" ? dump : Buffer.from(dump).toString("latin1");
  return tokens.filter((t) => {
    for (let i = 0; i + PIECE <= t.length; i++) if (text.includes(t.slice(i, i + PIECE))) return true;
    return false;
  });
}

/**
 * `dump` (what the store's tool printed) holds no piece of any of `tokens`, and holds `records`
 * or more sealed records under key id `kid`: fingerprints in place of tokens and the envelope.
 */
export function assertSwept(dump, tokens, { what, kid, records = 1 }) {
  assert.ok(tokens.length >= 2, `${what}: the token server issued ${tokens.length} token(s): nothing to sweep for`);
  const leaked = leakedTokens(dump, tokens);
  // The tokens are the mock's (never a real secret); only their ends are shown.
  assert.deepEqual(leaked.map((t) => `${t.slice(0, 3)}…${t.slice(-4)}`), [], `${what}: ${leaked.length} of ${tokens.length} issued tokens have an 8-character piece in the dump`);
  const text = typeof dump === "string" ? dump : Buffer.from(dump).toString("latin1");
  const envelopes = text.match(new RegExp(`"kid\\\\?":\\s*\\\\?"${kid.replace(/\./g, "\\.")}\\\\?"`, "g")) ?? [];
  assert.ok(envelopes.length >= records, `${what}: ${envelopes.length} record(s) sealed with key "${kid}" in the dump, expected ${records} or more`);
  assert.ok((text.match(/hmac-sha256:[A-Za-z0-9_-]{22}/g) ?? []).length >= records, `${what}: no fingerprints in the dump`);
}
