#!/usr/bin/env bash
# Amazon States Language validation with asl-validator from npm, pinned and installed once under .cache/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=4.0.0
dir="$root/.cache/asl-validator-$version"
if [ ! -x "$dir/node_modules/.bin/asl-validator" ]; then
  command -v npm >/dev/null || { echo "asl-validator needs npm (apt-get install npm)" >&2; exit 2; }
  mkdir -p "$dir"
  npm install --no-audit --no-fund --silent --prefix "$dir" "asl-validator@$version" >&2
fi
exec "$dir/node_modules/.bin/asl-validator" "$@"
