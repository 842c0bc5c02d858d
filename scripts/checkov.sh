#!/usr/bin/env bash
# Static security scan of the Terraform with checkov, offline; skipped checks and their reasons are in .checkov.yaml.
# checkov's own dependencies clash with the project's pins, so it lives in a venv of its own under .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.3.30
venv=.cache/checkov
if [ ! -f "$venv/.installed-$version" ]; then
  rm -rf "$venv"
  "$(scripts/python.sh)" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "checkov==$version"
  touch "$venv/.installed-$version"
fi
exec "$venv/bin/checkov" --config-file .checkov.yaml "$@"
