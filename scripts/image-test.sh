#!/usr/bin/env bash
# Builds docker/Dockerfile without a Docker engine and proves the image works: buildah builds it on a local
# stand-in for the Lambda Python base (a Debian minbase made by debootstrap), then both handlers run inside the image
# against an S3 emulator on loopback (see scripts/image/proof.py).
#
# Everything is cached under .cache/image: the base is rebuilt only when its recipe or the mirror changes, and the
# project image reuses its dependency layer until docker/requirements.txt (the lock) changes. Needs root (debootstrap, chroot);
# buildah and debootstrap are installed with apt-get when missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${IMAGE_TEST_CACHE:-$root/.cache/image}
python=${PYTHON:-$root/.venv/bin/python}
suite=trixie
base_packages=python3,python3-venv,ca-certificates
base_dockerfile=$root/scripts/image/base.Dockerfile
base_image=localhost/serverless-sklearn-build-base:$suite
image=localhost/serverless-sklearn:test
# Package downloads pass a TLS-intercepting proxy whose CA is only in the host's bundle: the pip step gets it as a
# build secret, so it never ends up in a layer.
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
started=$SECONDS

step() { printf '==> [%3ds] %s\n' $((SECONDS - started)) "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "image-test needs root: debootstrap and chroot-isolated buildah runs create device nodes and chroots" >&2
  exit 1
fi

missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
mkdir -p "$cache"
buildah=(buildah --root "$cache/store" --runroot "$cache/run" --storage-driver vfs)

# The base: its root file system is made again when the suite, packages or mirror change, the image also when its
# Dockerfile does.
mirror=$("$root/scripts/image/debian-mirror.sh")
rootfs_key=$(printf '%s\n' "$suite" "$base_packages" "$mirror" | sha256sum | cut -d' ' -f1)
base_key=$(printf '%s\n' "$rootfs_key" "$(cat "$base_dockerfile")" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$cache/base.key" 2>/dev/null)" != "$base_key" ] || ! "${buildah[@]}" inspect --type image "$base_image" >/dev/null 2>&1; then
  rm -f "$cache/base.key"
  if [ "$(cat "$cache/rootfs.key" 2>/dev/null)" != "$rootfs_key" ] || [ ! -s "$cache/base/rootfs.tar" ]; then
    step "debootstrap $suite minbase from $mirror"
    rm -rf "$cache/rootfs" "$cache/base"
    debootstrap --variant=minbase --include="$base_packages" "$suite" "$cache/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
    # What a slim Debian image leaves out too: package indexes, the apt cache, documentation and translations.
    rm -rf "$cache/rootfs"/var/lib/apt/lists/* "$cache/rootfs"/var/cache/apt/* \
      "$cache/rootfs"/usr/share/doc/* "$cache/rootfs"/usr/share/man/* "$cache/rootfs"/usr/share/locale/*
    mkdir -p "$cache/base"
    tar -C "$cache/rootfs" --numeric-owner -cf "$cache/base/rootfs.tar" .
    rm -rf "$cache/rootfs"
    echo "$rootfs_key" >"$cache/rootfs.key"
  fi
  step "building the base image $base_image"
  "${buildah[@]}" rmi -f "$base_image" >/dev/null 2>&1 || true
  "${buildah[@]}" bud --quiet --isolation chroot -f "$base_dockerfile" -t "$base_image" "$cache/base" >/dev/null
  echo "$base_key" >"$cache/base.key"
else
  step "base image $base_image is cached"
fi

# The project image: rebuilt when anything the build reads changes (buildah's layer cache then keeps the dependency
# layer unless the requirements changed). Checking first saves the minute a cached vfs build can take on a busy host.
image_key=$(
  cd "$root"
  {
    "${buildah[@]}" inspect --type image --format '{{.FromImageID}}' "$base_image"
    sha256sum docker/Dockerfile .dockerignore docker/requirements.txt
    find lambdas -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
)
if [ "$(cat "$cache/image.key" 2>/dev/null)" = "$image_key" ] && "${buildah[@]}" inspect --type image "$image" >/dev/null 2>&1; then
  step "image $image is up to date"
else
  rm -f "$cache/image.key"
  step "building docker/Dockerfile on $base_image"
  secret=()
  [ -s "$ca_bundle" ] && secret=(--secret "id=ca,src=$ca_bundle")
  "${buildah[@]}" bud --isolation chroot --layers \
    --build-arg "BASE_IMAGE=$base_image" "${secret[@]}" \
    -f "$root/docker/Dockerfile" -t "$image" "$root"
  echo "$image_key" >"$cache/image.key"
fi

step "running the handlers inside $image"
"$python" "$root/scripts/image/proof.py" --image "$image" -- "${buildah[@]}"
# Images replaced by a rebuild are full copies under vfs: drop them so the cache does not grow with every change.
# The layers the current image is built from are its parents, so the build cache survives.
"${buildah[@]}" rmi --prune >/dev/null
step "image test passed"
