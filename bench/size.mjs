// Bytes a runtime loads per entry (every file, found by following the entry's imports), and
// where the wasm's bytes go (twiggy over a build that keeps the function names).
import { execFileSync } from "node:child_process";
import { readFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";

const gz = (b) => gzipSync(b, { level: 9 }).length;

/** The runtime entries and the files each must load (the brief's list; checked against esbuild's). */
export const ENTRIES = {
  "Node ESM (node.mjs)": "node.mjs",
  "Node CJS (node.cjs)": "node.cjs",
  "workerd (workerd.js)": "workerd.js",
  "browser (browser.js)": "browser.js",
};

/**
 * Every file an entry loads: the JS module graph (esbuild's metafile, from the entry, node: and
 * .wasm external) plus the .wasm (every entry loads the one next to it).
 */
export async function entryFiles(esbuild, pkgDir, entry) {
  const r = await esbuild.build({
    entryPoints: [path.join(pkgDir, entry)], bundle: true, write: false, metafile: true, logLevel: "silent",
    format: entry.endsWith(".cjs") ? "cjs" : "esm", platform: "neutral", external: ["*.wasm", "node:*"],
    logOverride: { "empty-import-meta": "silent" },
  });
  const js = Object.keys(r.metafile.inputs).map((f) => path.relative(pkgDir, path.resolve(process.cwd(), f)));
  return [...js.sort((a, b) => (a === entry ? -1 : b === entry ? 1 : a.localeCompare(b))), "avito_auth_bg.wasm"];
}

export function sizeOf(pkgDir, files) {
  let raw = 0, gzip = 0, jsRaw = 0, jsGz = 0;
  for (const f of files) {
    const b = readFileSync(path.join(pkgDir, f));
    raw += b.length; gzip += gz(b);
    if (!f.endsWith(".wasm")) { jsRaw += b.length; jsGz += gz(b); }
  }
  return { raw, gzip, jsRaw, jsGz };
}

export async function bundleSize(esbuild, contents, resolveDir) {
  const r = await esbuild.build({ stdin: { contents, resolveDir, loader: "js" }, bundle: true, minify: true, write: false, format: "esm", platform: "neutral", conditions: ["browser"], mainFields: ["module", "main"], external: ["*.wasm", "node:*"], logLevel: "error" });
  const b = Buffer.from(r.outputFiles[0].contents);
  return { raw: b.length, gzip: gz(b) };
}

// --- twiggy --------------------------------------------------------------------------------------

const WASM_OPT_FLAGS = ["-Oz", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue"];

/**
 * The shipped wasm again, with names: wasm-bindgen --keep-debug --target web over cargo's output,
 * then wasm-opt -Oz -g with the package's feature flags. Returns { dir, wasm, glue } (dir is
 * temporary: the caller removes it) or { error }.
 */
export function namedBuild(root) {
  const input = path.join(root, "target/wasm32-unknown-unknown/release/avito_auth.wasm");
  if (!existsSync(input)) return { error: `${input} is missing (scripts/build.sh makes it)` };
  const dir = mkdtempSync(path.join(os.tmpdir(), "avito-bench-named-"));
  try {
    execFileSync("wasm-bindgen", ["--keep-debug", "--target", "web", "--out-dir", dir, input], { stdio: ["ignore", "ignore", "pipe"] });
    execFileSync("wasm-opt", [...WASM_OPT_FLAGS, path.join(dir, "avito_auth_bg.wasm"), "-o", path.join(dir, "named.wasm")], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { error: `named build failed: ${String(e.stderr ?? e.message).slice(0, 500)}` };
  }
  return { dir, wasm: path.join(dir, "named.wasm"), glue: path.join(dir, "avito_auth.js") };
}

export function twiggyTop(wasm, n = 25) {
  return execFileSync("twiggy", ["top", "-n", String(n), wasm], { encoding: "utf8", maxBuffer: 64 << 20 });
}

export function twiggyItems(wasm) {
  return JSON.parse(execFileSync("twiggy", ["top", "-n", "1000000", "-f", "json", wasm], { encoding: "utf8", maxBuffer: 256 << 20 }));
}

const STD = new Set(["core", "alloc", "std", "__rustc", "compiler_builtins", "panic_abort"]);
const CRATE_LABEL = {
  avito_auth: "avito_auth (this crate)",
  wasm_bindgen: "wasm_bindgen",
  js_sys: "js_sys (incl. wasm-bindgen-futures' executor)",
  wasm_bindgen_futures: "wasm_bindgen_futures",
  serde: "serde / serde_core",
  serde_core: "serde / serde_core",
  serde_wasm_bindgen: "serde_wasm_bindgen",
  web_sys: "web_sys",
  gloo_net: "gloo_net",
  talc: "talc (allocator)",
  hashbrown: "hashbrown",
  http: "http (through gloo_net)",
};
const NAME_SECTION = /^"[a-z ]+ names" subsection$|^custom section 'name'/;

/** The crate a demangled Rust symbol belongs to: its leading path; for `<A as B>`, A's crate unless A is a primitive or generic (then B's); drop glue goes to the dropped type's crate. */
export function crateOf(name) {
  let s = name.replace(/\[[0-9a-f]{16}\]/g, "").replace(/::h[0-9a-f]{16}$/, "");
  const drop = /^core::ptr::drop_in_place<(.*)>$/.exec(s);
  if (drop) s = drop[1];
  while (/^[<&(]|^(mut |dyn |const )/.test(s)) s = s.replace(/^[<&(]+|^(mut |dyn |const )+/g, ""); // tuples: their first element's crate
  if (s.startsWith("[")) return "core"; // `<[u8]>::…`, `<[T]>::…`
  const head = /^([A-Za-z_][A-Za-z0-9_]*)(::)?/.exec(s);
  if (!head) return undefined;
  if (head[2]) return head[1];
  // A primitive or a generic parameter first (`<f64 as core::fmt::Display>`, `<T as serde::…>`, `<str>::…`).
  const as = / as ([<&]*)([A-Za-z_][A-Za-z0-9_]*)::/.exec(s);
  if (as) return as[2];
  if (/^(bool|char|str|f32|f64|[iu](8|16|32|64|128|size))\b/.test(s)) return "core";
  return undefined;
}

/** What a twiggy item is: a crate's code, wasm-bindgen's generated shims, data, or the module's structure. */
export function groupOf(item) {
  const n = item.name;
  if (NAME_SECTION.test(n)) return null; // the names we added for this analysis: not shipped
  if (n.startsWith("data segment")) return "data segments (.rodata: strings, tables, panic locations)";
  if (n.startsWith("import ")) return "imports (one per JS function the wasm calls)";
  if (n.startsWith("export ")) return "export section";
  if (/^(type\[|elem\[|table\[|global\[|wasm magic bytes|custom section|"[^"]*" section headers|code section headers|data section headers)/.test(n) || / section headers$/.test(n)) return "module structure (types, tables, section headers)";
  if (/^code\[\d+\]$/.test(n)) return "unnamed functions";
  if (/ shim$| shim\[\d+\]$|^__wbg_|^__wbindgen_|^__externref_|^wasm_bindgen__convert/.test(n)) return "wasm-bindgen generated shims (exports, externref, multivalue)";
  if (!n.includes("::")) {
    if (/^(memcmp|memcpy|memmove|memset|__multi3|__[a-z0-9_]+[0-9])$/.test(n)) return "Rust core / alloc / std";
    return "wasm-bindgen generated shims (exports, externref, multivalue)";
  }
  const c = crateOf(n);
  if (c === undefined) return "other";
  if (STD.has(c)) return "Rust core / alloc / std";
  return CRATE_LABEL[c] ?? c;
}

/** Shallow bytes per group (names subsection excluded), with each group's largest item. */
export function groupByCrate(items) {
  const groups = new Map();
  let total = 0, names = 0;
  for (const it of items) {
    if (/^Σ|^\.\.\. and \d+ more/.test(it.name)) continue;
    const g = groupOf(it);
    if (g === null) { names += it.shallow_size; continue; }
    total += it.shallow_size;
    const e = groups.get(g) ?? { group: g, bytes: 0, items: 0, largest: undefined };
    e.bytes += it.shallow_size; e.items++;
    if (!e.largest || it.shallow_size > e.largest.shallow_size) e.largest = it;
    groups.set(g, e);
  }
  return { total, names, groups: [...groups.values()].sort((a, b) => b.bytes - a.bytes) };
}

/** A symbol shortened for a table: no hashes, at most `max` characters. */
export function shortName(n, max = 90) {
  const s = n.replace(/\[[0-9a-f]{16}\]/g, "").replace(/::h[0-9a-f]{16}$/, "").replace(/\|/g, "\\|");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
