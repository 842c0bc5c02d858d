# Builds docker/ and pushes it as $IMAGE, unless the registry already holds that tag: tags are content hashes and
# immutable, so a tree returned to an earlier state reuses its image instead of failing to push it again.
set -eu
repository=${IMAGE#*/}
repository=${repository%:*}
tag=${IMAGE##*:}
# The registry password reaches curl and the builder on stdin, never on a command line another process could read.
status=$(printf 'user = "%s:%s"\n' "$USERNAME" "$PASSWORD" | curl -s -K - -o /dev/null -w '%{http_code}' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' \
  -I "https://$REGISTRY/v2/$repository/manifests/$tag" || true)
if [ "$status" = 200 ]; then
  echo "$IMAGE is already in the registry: reusing it"
  exit 0
fi
printf '%s' "$PASSWORD" | $BUILDER login --username "$USERNAME" --password-stdin "$REGISTRY"
# shellcheck disable=SC2086 # BUILDER and OPTIONS are words to split
$BUILDER build --platform "$PLATFORM" $OPTIONS -f "$SOURCE_DIR/docker/Dockerfile" -t "$IMAGE" "$SOURCE_DIR"
$BUILDER push "$IMAGE"
