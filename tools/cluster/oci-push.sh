#!/usr/bin/env bash
# Pushes an image (one or more layers per platform) to a registry with curl, per the registry HTTP API v2:
# blobs (layers, config) by POST+PUT upload, one OCI image manifest per platform, and an OCI image index at the tag.
# Blobs already present are not uploaded again.
#
# Usage: oci-push.sh HOST:PORT/NAME:TAG --layer OS/ARCH=LAYER.tar.gz [--layer OS/ARCH=...] [--config JSON]
#   LAYER.tar.gz  a gzip-compressed tar (its uncompressed digest is cached in LAYER.tar.gz.diffid); several --layer
#                 of the same platform are stacked in the order given (base first)
#   --config JSON the image's "config" object, e.g. '{"Cmd":["/bin/bash"],"Env":["PATH=/usr/bin:/bin"]}'
# Env: GITSPACE_REGISTRY_SCHEME (https, default; http for a plain-HTTP registry),
#      GITSPACE_REGISTRY_CA (CA file for https, default: the system trust store)
# Prints the digest of the index.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common/lib.sh"

[[ $# -ge 1 ]] || gs_die "usage: $0 HOST:PORT/NAME:TAG --layer OS/ARCH=LAYER.tar.gz... [--config JSON]"
ref=$1
shift
layers=()
config='{}'
while [[ $# -gt 0 ]]; do
  case $1 in
    --layer) layers+=("$2"); shift 2 ;;
    --config) config=$2; shift 2 ;;
    *) gs_die "unknown argument $1" ;;
  esac
done
[[ ${#layers[@]} -gt 0 ]] || gs_die "at least one --layer"
command -v jq >/dev/null || gs_die "jq is required"

host=${ref%%/*}
rest=${ref#*/}
name=${rest%:*}
tag=${rest##*:}
[[ $rest == *:* && -n $name && -n $tag ]] || gs_die "reference must be HOST:PORT/NAME:TAG: $ref"
scheme=${GITSPACE_REGISTRY_SCHEME:-https}
[[ $scheme == http || $scheme == https ]] || gs_die "GITSPACE_REGISTRY_SCHEME must be http or https: $scheme"
base="$scheme://$host/v2/$name"
curl_tls=()
[[ -z ${GITSPACE_REGISTRY_CA:-} ]] || curl_tls=(--cacert "$GITSPACE_REGISTRY_CA")
curl() { command curl "${curl_tls[@]+"${curl_tls[@]}"}" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }

# push_blob FILE: uploads FILE unless the registry has it; prints its digest
push_blob() {
  local file=$1 digest loc sep
  digest="sha256:$(sha "$file")"
  if curl -fsS -o /dev/null -I "$base/blobs/$digest" 2>/dev/null; then
    echo "$digest"
    return 0
  fi
  loc=$(curl -fsS -X POST -D - -o /dev/null "$base/blobs/uploads/" |
    awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
  [[ -n $loc ]] || gs_die "no upload location from $base/blobs/uploads/"
  [[ $loc == http* ]] || loc="$scheme://$host$loc"
  sep='?'
  [[ $loc == *\?* ]] && sep='&'
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$file" "$loc${sep}digest=$digest" ||
    gs_die "upload of $file failed"
  gs_log "pushed blob $digest ($(stat -c %s "$file") bytes) to $host/$name"
  echo "$digest"
}

# platforms in the order of their first --layer; each platform's layers in the order given
platforms=()
declare -A platform_layers=()
for spec in "${layers[@]}"; do
  platform=${spec%%=*}
  [[ -n ${platform_layers[$platform]:-} ]] || platforms+=("$platform")
  platform_layers[$platform]+="${spec#*=}"$'\n'
done

manifests='[]'
for platform in "${platforms[@]}"; do
  os=${platform%%/*}
  arch=${platform#*/}
  diffids='[]'
  descs='[]'
  while IFS= read -r layer; do
    [[ -n $layer ]] || continue
    [[ -f $layer ]] || gs_die "layer not found: $layer"
    if [[ ! -f $layer.diffid || $layer.diffid -ot $layer ]]; then
      echo "sha256:$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)" >"$layer.diffid"
    fi
    diffids=$(jq -c --arg d "$(<"$layer.diffid")" '. + [$d]' <<<"$diffids")
    descs=$(jq -c --arg d "$(push_blob "$layer")" --argjson s "$(stat -c %s "$layer")" \
      '. + [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s }]' <<<"$descs")
  done <<<"${platform_layers[$platform]}"
  jq -cn --arg os "$os" --arg arch "$arch" --argjson diffids "$diffids" --argjson config "$config" '{
      created: "1970-01-01T00:00:00Z", architecture: $arch, os: $os, config: $config,
      rootfs: { type: "layers", diff_ids: $diffids },
      history: [$diffids[] | { created: "1970-01-01T00:00:00Z", created_by: "gitspace tools/cluster/oci-push.sh" }] }' \
    >"$tmp/config-$arch.json"
  config_digest=$(push_blob "$tmp/config-$arch.json")
  jq -cn --arg cd "$config_digest" --argjson cs "$(stat -c %s "$tmp/config-$arch.json")" --argjson layers "$descs" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs },
      layers: $layers }' \
    >"$tmp/manifest-$arch.json"
  mdigest="sha256:$(sha "$tmp/manifest-$arch.json")"
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$tmp/manifest-$arch.json" "$base/manifests/$mdigest" || gs_die "manifest push failed"
  manifests=$(jq -c --arg d "$mdigest" --argjson s "$(stat -c %s "$tmp/manifest-$arch.json")" \
    --arg os "$os" --arg arch "$arch" \
    '. + [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
            platform: { os: $os, architecture: $arch } }]' <<<"$manifests")
done

jq -cn --argjson m "$manifests" '{ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: $m }' \
  >"$tmp/index.json"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
  --data-binary @"$tmp/index.json" "$base/manifests/$tag" || gs_die "index push failed"
digest="sha256:$(sha "$tmp/index.json")"
gs_log "pushed $ref ($digest; $(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(", ")' "$tmp/index.json"))"
echo "$digest"
