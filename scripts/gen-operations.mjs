#!/usr/bin/env node
// Writes the table of Avito's API operations into src/oauth/operations.rs (between its
// `@generated operations:start` and `:end` lines) from the reference collected from Avito's
// OpenAPI specifications. Deterministic: the same reference gives the same bytes.
// Usage: node scripts/gen-operations.mjs [reference.json]   (default ../shared/reference/…)
// tests/rust/operations_table.rs checks the committed table against the reference.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const referencePath = process.argv[2] ?? `${root}../shared/reference/avito-api-operations.json`;
const target = `${root}src/oauth/operations.rs`;
// Operations on other hosts (Autoteka's pro.autoteka.ru) are not Avito API calls of a seller.
const API_HOST = "https://api.avito.ru";

const fail = (why) => { console.error(`gen-operations: ${why}`); process.exit(1); };
const reference = JSON.parse(readFileSync(referencePath, "utf8"));
if (!Array.isArray(reference.operations)) fail(`${referencePath} has no "operations" list`);

const plain = /^[\x21-\x7e]+$/; // printable ASCII without spaces: a word of a Rust literal as it is
const word = (s) => {
  if (typeof s !== "string" || !plain.test(s) || /["\\]/.test(s)) fail(`unexpected text ${JSON.stringify(s)}`);
  return s;
};

const entries = new Map(); // "METHOD path" → entry; the authorization spec lists POST /token thrice
for (const op of reference.operations) {
  if (op.server !== API_HOST) continue;
  const entry = {
    method: op.method.toUpperCase(),
    path: op.path,
    // null: the operation accepts no seller token, or its spec declares no security.
    scopes: op.authorization_code ?? [],
    // [] (the client_credentials flow is listed) accepts an application token; null does not.
    application: op.client_credentials !== null,
  };
  const key = `${entry.method} ${entry.path}`;
  const seen = entries.get(key);
  if (seen && JSON.stringify(seen) !== JSON.stringify(entry)) fail(`${key} is listed twice, differently`);
  entries.set(key, entry);
}

// A literal segment sorts before a {param} in the same place, so the first match of a request
// is the most specific one; parameter names do not take part.
const sortKey = (path) => path.replace(/^\/|\/$/g, "").split("/").map((s) => (/^\{.+\}$/.test(s) ? "\u0001" : `\u0000${s}`));
const compare = (a, b) => {
  const [ka, kb] = [sortKey(a.path), sortKey(b.path)];
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  }
  return ka.length - kb.length || (a.method < b.method ? -1 : a.method > b.method ? 1 : 0);
};
const sorted = [...entries.values()].sort(compare);

// One text block, a line per operation, read at lookup (src/oauth/operations.rs): an array of
// structs is a table of pointers, which gzip cannot shrink (0.8 KB more of gzipped wasm).
const lines = sorted.map((e) => [e.method, e.path, e.application ? "+" : "-", ...e.scopes].map(word).join(" "));
const table = [
  `/// Avito's operations on ${API_HOST} (${sorted.length}), most specific first: one a line,`,
  "/// `METHOD PATH APPLICATION SCOPE…` (`APPLICATION`: `+` when an application token is accepted).",
  "pub const TABLE: &str = \"\\",
  ...lines,
  "\";",
].join("\n");

const START = "// @generated operations:start\n";
const END = "// @generated operations:end\n";
const source = readFileSync(target, "utf8");
const [from, to] = [source.indexOf(START), source.indexOf(END)];
if (from < 0 || to < from) fail(`${target} has no ${START.trim()} … ${END.trim()} region`);
const next = `${source.slice(0, from + START.length)}${table}\n${source.slice(to)}`;
if (next !== source) writeFileSync(target, next);
console.log(`gen-operations: ${sorted.length} operations ${next === source ? "(unchanged)" : "written"} to src/oauth/operations.rs`);
