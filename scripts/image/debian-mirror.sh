#!/usr/bin/env bash
# Prints the Debian mirror this host's apt uses (the URI of its main suite), so the build base comes from the same
# mirror as the host's own packages. DEBIAN_MIRROR overrides it; APT_ETC reads another apt directory.
set -euo pipefail
apt_etc=${APT_ETC:-/etc/apt}
if [ -n "${DEBIAN_MIRROR:-}" ]; then
  echo "$DEBIAN_MIRROR"
  exit 0
fi

# deb822 files: a stanza whose Types include deb and whose Suites include a plain codename (not -security/-updates).
from_deb822() {
  awk '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && suites ~ /(^| )[a-z]+( |$)/ && uris != "") {
        split(uris, u, " "); print u[1]; found = 1; exit
      }
      types = ""; uris = ""; suites = ""; enabled = ""
    }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    tolower($1) == "types:"   { $1 = ""; types = $0 }
    tolower($1) == "uris:"    { $1 = ""; sub(/^ +/, ""); uris = $0 }
    tolower($1) == "suites:"  { $1 = ""; suites = $0 }
    tolower($1) == "enabled:" { enabled = tolower($2) }
    END { if (!found) flush() }
  ' "$@"
}

# One-line format: deb [options] URI suite components...
from_list() {
  sed -E 's/\[[^]]*\]//' "$@" | awk '$1 == "deb" && $3 ~ /^[a-z]+$/ { print $2; exit }'
}

mirror=""
shopt -s nullglob
sources=("$apt_etc"/sources.list.d/*.sources)
lists=("$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list)
shopt -u nullglob
existing_lists=()
for file in "${lists[@]}"; do [ -f "$file" ] && existing_lists+=("$file"); done
if [ ${#sources[@]} -gt 0 ]; then
  mirror=$(from_deb822 "${sources[@]}")
fi
if [ -z "$mirror" ] && [ ${#existing_lists[@]} -gt 0 ]; then
  mirror=$(from_list "${existing_lists[@]}")
fi
if [ -z "$mirror" ]; then
  echo "no Debian mirror found in $apt_etc; set DEBIAN_MIRROR" >&2
  exit 1
fi
echo "${mirror%/}"
