#!/usr/bin/env bash
# Builds the npm package into pkg/ (wasm-pack output + pkg-template/), and packs it to
# target/avito-auth.tgz. Usage: scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

# 1. Rust → wasm (cargo release profile, wasm-bindgen --target web, wasm-opt -Oz). The snippets
#    folder is made anew (wasm-bindgen leaves a removed snippet's file behind).
rm -rf target/wasm-pack/snippets
wasm-pack --log-level warn build --release --target web --out-dir target/wasm-pack --out-name avito_auth --no-pack >&2

# 2. The ESM files as they are: the one .wasm, its glue, the crate's ApiException snippet, the
#    export list, the runtime entries, the stores (and store-protocol.js, the rules every store
#    imports; not an entry).
rm -rf pkg && mkdir pkg
cp target/wasm-pack/avito_auth_bg.wasm pkg/
# wasm-bindgen's generated glue is shipped minified; our own JS stays readable.
esbuild target/wasm-pack/avito_auth.js --minify --format=esm --log-level=error --outfile=pkg/avito_auth.js
# wasm-bindgen puts `#[wasm_bindgen(module = "/js/exception.js")]` (and js/events.js) under
# snippets/<crate>-<hash>/ and imports them from there; exception.js re-exports that very class,
# so what users import is what Rust throws.
SNIPPET="$(cd target/wasm-pack && ls snippets/*/js/exception.js)"
mkdir -p "pkg/$(dirname "$SNIPPET")" && cp target/wasm-pack/"$(dirname "$SNIPPET")"/*.js "pkg/$(dirname "$SNIPPET")/"
echo "export { ApiException } from \"./$SNIPPET\";" > pkg/exception.js
cp pkg-template/{api,workerd,edge-light,browser,init,durable-object,redis,postgres,deno-kv,d1,testing,opentelemetry,store-protocol}.js pkg-template/node.mjs pkg-template/LICENSE pkg/
# The command line (the package's `bin`): a consumer of the public API, apart from the library.
mkdir -p pkg/cli && cp cli/*.mjs pkg/cli/

# 3. Types: wasm-bindgen's .d.ts of the Rust exports (parameter and return types annotated in Rust,
#    the interfaces in src/edge/types.rs) without its init API, which the entries own. One file
#    per entry, and its CommonJS twin (.d.cts, importing ./index.cjs).
# `[Symbol.dispose]()` is left out: it needs TypeScript's esnext lib, and exists at run time only
# where the platform has Symbol.dispose; `free()` (the same method) stays.
sed -e '/^export type InitInput/,$d' -e '/\[Symbol\.dispose\]()/d' target/wasm-pack/avito_auth.d.ts > pkg/index.d.ts
sed 's#"\./index\.js"#"./index.cjs"#' pkg/index.d.ts > pkg/index.d.cts
for d in init durable-object redis postgres deno-kv d1 testing opentelemetry; do
  cp "pkg-template/$d.d.ts" pkg/
  sed 's#"\./index\.js"#"./index.cjs"#' "pkg-template/$d.d.ts" > "pkg/$d.d.cts"
done

# 4. CommonJS entries: the same code bundled by esbuild (the .wasm stays shared). The stores are
#    bundled too: they import store-protocol.js (and ApiException), which are ES modules that
#    require() cannot load before Node 20.19 / 22.12; node: builtins stay require() calls.
cp pkg-template/cjs-entry.js pkg/cjs-entry.js
cjs() { esbuild "$@" --format=cjs --log-level=error --log-override:empty-import-meta=silent; }
cjs pkg/cjs-entry.js --bundle --platform=node --target=node18 --outfile=pkg/node.cjs
cjs pkg/init.js --bundle --platform=neutral --target=es2020 --outfile=pkg/init.cjs
for m in redis postgres; do cjs "pkg/$m.js" --bundle --platform=node --target=node18 --outfile="pkg/$m.cjs"; done
for m in durable-object deno-kv d1 testing; do cjs "pkg/$m.js" --bundle --platform=neutral --target=es2022 --outfile="pkg/$m.cjs"; done
# The OpenTelemetry API stays the application's (a peer): one copy, whose global providers it set.
cjs pkg/opentelemetry.js --bundle --platform=neutral --target=es2022 --external:@opentelemetry/api --outfile=pkg/opentelemetry.cjs
rm pkg/cjs-entry.js

# 5. README (its head + the user-guide section of the repository README) and package.json.
VERSION="$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)"
node -e '
  const fs = require("fs");
  const readme = fs.readFileSync("README.md", "utf8");
  const body = readme.split("<!-- package-readme:start -->")[1].split("<!-- package-readme:end -->")[0].trim();
  fs.writeFileSync("pkg/README.md", fs.readFileSync("pkg-template/README.md", "utf8").replace("PACKAGE_README_BODY", body));
  const p = JSON.parse(fs.readFileSync("pkg-template/package.json", "utf8"));
  p.version = process.argv[1];
  fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
' "$VERSION"

# 6. The tarball users install.
(cd pkg && npm pack --silent --pack-destination ../target >/dev/null)
mv "target/avito-auth-$VERSION.tgz" target/avito-auth.tgz
echo "built pkg/ and target/avito-auth.tgz ($(wc -c < pkg/avito_auth_bg.wasm) bytes of wasm)" >&2
