#!/usr/bin/env bash
# Builds the npm package into pkg/ (wasm-pack output + pkg-template/), and packs it to
# target/avito-auth.tgz. Usage: scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

wasm-pack --log-level warn build --release --target web --out-dir target/wasm-pack --out-name avito_auth --no-typescript --no-pack >&2

rm -rf pkg && mkdir pkg
cp target/wasm-pack/avito_auth_bg.wasm target/wasm-pack/avito_auth.js pkg/
cp pkg-template/api.js pkg-template/node.mjs pkg-template/workerd.js pkg-template/edge-light.js pkg-template/browser.js pkg-template/init.js \
   pkg-template/index.d.ts pkg-template/init.d.ts pkg-template/LICENSE \
   pkg-template/durable-object.js pkg-template/durable-object.d.ts pkg-template/redis.js pkg-template/redis.d.ts pkg/
sed 's#"\./index\.js"#"./index.cjs"#' pkg-template/redis.d.ts > pkg/redis.d.cts
# The package README: its head, then the user guide section of the repository README.
node -e '
  const fs = require("fs");
  const readme = fs.readFileSync("README.md", "utf8");
  const body = readme.split("<!-- package-readme:start -->")[1].split("<!-- package-readme:end -->")[0].trim();
  fs.writeFileSync("pkg/README.md", fs.readFileSync("pkg-template/README.md", "utf8").replace("PACKAGE_README_BODY", body));
'
cp pkg-template/index.d.ts pkg/index.d.cts
sed 's#"\./index\.js"#"./index.cjs"#' pkg-template/init.d.ts > pkg/init.d.cts
# CommonJS entry: the same glue and API, bundled into one CJS file (the .wasm stays shared).
cp pkg-template/cjs-entry.js pkg/cjs-entry.js
esbuild pkg/cjs-entry.js --bundle --platform=node --format=cjs --target=node18 --log-level=error \
  --log-override:empty-import-meta=silent --outfile=pkg/node.cjs
rm pkg/cjs-entry.js
sed 's#"\./index\.js"#"./index.cjs"#' pkg-template/durable-object.d.ts > pkg/durable-object.d.cts
esbuild pkg/redis.js --platform=node --format=cjs --target=node18 --log-level=error --outfile=pkg/redis.cjs
esbuild pkg/durable-object.js --platform=neutral --format=cjs --target=es2022 --log-level=error --outfile=pkg/durable-object.cjs
# require("avito-auth/init"): the explicit-init entry as CommonJS (pass the module or bytes).
esbuild pkg/init.js --bundle --platform=neutral --format=cjs --target=es2020 --log-level=error \
  --log-override:empty-import-meta=silent --outfile=pkg/init.cjs
VERSION="$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)"
node -e '
  const fs = require("fs"); const p = JSON.parse(fs.readFileSync("pkg-template/package.json", "utf8"));
  p.version = process.argv[1]; fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
' "$VERSION"
(cd pkg && npm pack --silent --pack-destination ../target >/dev/null)
mv "target/avito-auth-$VERSION.tgz" target/avito-auth.tgz
echo "built pkg/ and target/avito-auth.tgz ($(wc -c < pkg/avito_auth_bg.wasm) bytes of wasm)" >&2
