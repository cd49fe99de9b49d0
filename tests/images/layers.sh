#!/usr/bin/env bash
# List the layers of an image in a registry: compressed (push) and uncompressed size, the build step that made each
# layer, and the biggest directories inside it. Reads the registry HTTP API v2 with curl (no docker needed).
#
# Usage: tests/images/layers.sh HOST:PORT/NAME:TAG [PLATFORM]
#   PLATFORM  for an image index, the manifest to read (default: linux/amd64)
# Environment:
#   GITSPACE_REGISTRY_SCHEME  http (default) or https
#   GITSPACE_LAYER_DIRS       how many directories to list per layer (default: 4; 0: sizes only, no blob download)
#   GITSPACE_LAYER_DEPTH      path depth of those directories (default: 3, e.g. usr/share/doc)
# Prints one line per layer, then the totals and the layers' compression (gzip, zstd); sizes in MB (10^6 bytes).
# zstd layers need the zstd command.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common/lib.sh"

(($# >= 1)) || gs_die "usage: $0 HOST:PORT/NAME:TAG [PLATFORM]"
ref="$1"
platform="${2:-linux/amd64}"
scheme="${GITSPACE_REGISTRY_SCHEME:-http}"
dirs="${GITSPACE_LAYER_DIRS:-4}"
depth="${GITSPACE_LAYER_DEPTH:-3}"
command -v jq >/dev/null || gs_die "jq is required"

host="${ref%%/*}"
rest="${ref#*/}"
name="${rest%:*}"
tag="${rest##*:}"
[[ "$rest" == *:* && -n "$name" && -n "$tag" ]] || gs_die "reference must be HOST:PORT/NAME:TAG: $ref"
api="$scheme://$host/v2/$name"
accept='application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

get_manifest() { curl -fsS -H "Accept: $accept" "$api/manifests/$1"; }

manifest="$(get_manifest "$tag")" || gs_die "no manifest $ref"
if jq -e '.manifests' >/dev/null <<<"$manifest"; then
    os="${platform%%/*}" arch="${platform#*/}"
    digest="$(jq -r --arg os "$os" --arg arch "$arch" \
        '[.manifests[] | select(.platform.os == $os and .platform.architecture == $arch)][0].digest // empty' <<<"$manifest")"
    [[ -n "$digest" ]] || gs_die "$ref has no $platform manifest"
    manifest="$(get_manifest "$digest")"
fi
config="$(curl -fsS "$api/blobs/$(jq -r '.config.digest' <<<"$manifest")")"
# The build steps that made a layer (history entries without empty_layer), in order.
mapfile -t steps < <(jq -r '.history[] | select(.empty_layer != true) | .created_by // "" | gsub("\\s+"; " ") | .[0:110]' <<<"$config")
mapfile -t layers < <(jq -r '.layers[] | "\(.digest) \(.size) \(.mediaType)"' <<<"$manifest")

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }
total_c=0 total_u=0 n=0
printf '%-3s %9s %9s  %s\n' '#' 'push MB' 'size MB' 'step / biggest directories'
for line in "${layers[@]}"; do
    read -r digest size media <<<"$line"
    n=$((n + 1))
    total_c=$((total_c + size))
    if ((dirs > 0)); then
        curl -fsS -o "$tmp/blob" "$api/blobs/$digest"
        # tar listing: size is field 3, path field 6; sum sizes per directory prefix of depth $depth
        case "$media" in
            *zstd*) zstd -dc "$tmp/blob" | tar -tvf - >"$tmp/list" ;;
            *) tar -tvzf "$tmp/blob" 2>/dev/null >"$tmp/list" || tar -tvf "$tmp/blob" >"$tmp/list" ;;
        esac
        usize="$(awk '{ s += $3 } END { printf "%d", s }' "$tmp/list")"
        top="$(awk -v d="$depth" '{ p = $6; sub(/^\.\//, "", p); n = split(p, a, "/"); k = a[1];
                for (i = 2; i <= (n - 1 < d ? n - 1 : d); i++) k = k "/" a[i]; s[k] += $3 }
            END { for (k in s) printf "%d %s\n", s[k], k }' "$tmp/list" | sort -rn | head -n "$dirs" \
            | awk '{ printf "%s%s %.1f", (NR > 1 ? ", " : ""), $2, $1 / 1000000 }')"
    else
        usize=0 top=""
    fi
    total_u=$((total_u + usize))
    printf '%-3s %9s %9s  %s\n' "$n" "$(mb "$size")" "$(mb "$usize")" "${steps[n - 1]:-?}"
    [[ -z "$top" ]] || printf '%-3s %9s %9s    %s\n' '' '' '' "$top"
done
compression="$(printf '%s\n' "${layers[@]}" | awk '{ m = $3; sub(/.*[.+]/, "", m); print (m == "tar" ? "none" : m == "gzip" || m == "zstd" ? m : "?") }' | sort -u | paste -sd/)"
printf '%-3s %9s %9s  %s\n' 'sum' "$(mb "$total_c")" "$(mb "$total_u")" "$ref ($platform, $n layers, ${compression:-no layers})"
