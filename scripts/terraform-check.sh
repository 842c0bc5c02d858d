#!/usr/bin/env bash
# Offline Terraform checks: init from the provider mirror, fmt, validate every root, then the mocked terraform test.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CLI_CONFIG_FILE="${TF_CLI_CONFIG_FILE:-$PWD/terraformrc}"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform is not on PATH" >&2
  exit 1
fi

terraform fmt -check -recursive -diff

for dir in . modules/network modules/storage modules/image modules/compute examples/complete examples/existing-vpc; do
  echo "== $dir"
  # -lockfile=readonly: the committed lock files must already cover the mirrored provider.
  lock=()
  [ -f "$dir/.terraform.lock.hcl" ] && [ "${dir#modules/}" = "$dir" ] && lock=(-lockfile=readonly)
  terraform -chdir="$dir" init -backend=false -input=false -no-color "${lock[@]}" >/dev/null
  terraform -chdir="$dir" validate -no-color
done

terraform test -no-color
