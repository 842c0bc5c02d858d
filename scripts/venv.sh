#!/usr/bin/env bash
# Creates or refreshes the project's virtual environment with the pinned runtime and dev requirements.
set -euo pipefail
venv=${1:-.venv}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$venv/bin/python" ]; then
  "$("$here/scripts/python.sh")" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-dev.txt"
# The project itself, editable, for the serverless-sklearn command; its requirements are the pins just installed.
"$venv/bin/python" -m pip install --quiet --no-deps --editable "$here"
touch "$venv/.installed"
