# Installs (idempotently) what building avito-auth needs; source it: `. scripts/setup.sh`.
# Fast when everything is present: only version checks run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.tools/bin:$HOME/.cargo/bin:$PATH"
say() { printf '[setup] %s\n' "$*" >&2; }

# The CLI must match the wasm-bindgen crate pinned in Cargo.lock exactly.
WBG_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
WASM_PACK_VERSION=0.15.1

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown >&2
fi
for component in clippy rustfmt; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    say "adding rust component $component"; rustup component add "$component" >&2
  fi
done
if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  say "installing wasm-pack $WASM_PACK_VERSION (about 3 minutes)"; cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked >&2
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WBG_VERSION" ]; then
  say "installing wasm-bindgen-cli $WBG_VERSION (about 4 minutes)"; cargo install wasm-bindgen-cli --version "$WBG_VERSION" --force >&2
fi
# Node tooling (binaryen's wasm-opt, esbuild, test runtimes): reinstall only when the lock changed.
STAMP="$ROOT/node_modules/.avito-stamp"
LOCK_SUM="$(sha256sum "$ROOT/package-lock.json" | cut -c1-64)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SUM" ]; then
  say "installing node dev dependencies"; (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$LOCK_SUM" > "$STAMP"
fi
# Only these tools go on PATH (node_modules/.bin also holds the node@18/22 test binaries, which
# must not shadow the system node). binaryen 132 from npm: Debian's wasm-opt breaks the module.
mkdir -p "$ROOT/.tools/bin"
for tool in wasm-opt esbuild; do ln -sf "$ROOT/node_modules/.bin/$tool" "$ROOT/.tools/bin/$tool"; done
