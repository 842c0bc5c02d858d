#!/usr/bin/env bash
# Prints the interpreter for the project's venv: Python 3.13 (the Lambda image's minor version) when present.
set -euo pipefail
for candidate in python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 /usr/bin/python3.13; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv' >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
echo "python3.13 not found; falling back to python3 (tests will not match the image's Python minor)" >&2
command -v python3
