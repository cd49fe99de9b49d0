#!/usr/bin/env bash
# Benchmark: a rebuild of the runtime images after a one-line edit (a script, or a Go file of images/devcontainer)
# against a cold build, in the same run, with the structure components/images.ts builds (base, base-system and
# devcontainer FROM the OS image, every other flavor FROM base-system's pushed ref, with devcontainer's pushed ref as
# DEVCONTAINER_IMAGE), with BuildKit (buildctl), pushing to a registry. Then the push size of every image.
# Cold means an empty build cache: the bench starts its own buildkitd on a fresh root for the run and stops it at
# the end (`--no-cache` is no substitute: BuildKit does not let a later build reuse what a --no-cache build made).
#
# Usage: tests/bench/images.bench.sh [flavor ...]      (npm run bench:images)
#   flavors: vscode-desktop jetbrains cursor vscode (default: all four; base-system, devcontainer and base are
#   always built)
# Environment:
#   (buildkitd, buildctl and runc on PATH, root: `source ~/.cache/gitspace-tools/env.sh`)
#   GITSPACE_REGISTRY_REPO  where the images are pushed as <repo>/<image>:bench (required, e.g.
#                           127.0.0.1:5000/gitspace-bench; for an HTTPS one set GITSPACE_REGISTRY_SCHEME=https, read by
#                           layers.sh)
#   GITSPACE_BUILDKITD_CONFIG registry settings for the bench's buildkitd (default: /var/lib/gitspace-cluster/
#                           buildkitd.toml when it exists: the local registry's CA; otherwise plain HTTP)
#   GITSPACE_BASE_IMAGE     the Debian/Ubuntu image (required, e.g. 127.0.0.1:5055/debian:bookworm)
#   GITSPACE_BENCH_EDIT     the file edited between the builds (default: scripts/common/lib.sh; a .go file gets a
#                           `//` comment line, e.g. images/devcontainer/main.go)
#   GITSPACE_BENCH_WORKDIR  where the bench makes its own directory for the buildkitd root and logs (default:
#                           /var/tmp); that directory alone is removed at the end
# The edit is made in a copy of the build context (images/, scripts/), never in the
# repository. Prints per image: seconds cold, seconds after the edit, build steps run (not cached), and the ratio.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
registry="${GITSPACE_REGISTRY_REPO:?GITSPACE_REGISTRY_REPO is required (e.g. 127.0.0.1:5055/gitspace-bench)}"
os_image="${GITSPACE_BASE_IMAGE:?GITSPACE_BASE_IMAGE is required (e.g. 127.0.0.1:5055/debian:bookworm)}"
edit="${GITSPACE_BENCH_EDIT:-scripts/common/lib.sh}"
for tool in buildctl buildkitd runc; do
    command -v "$tool" >/dev/null || gs_die "$tool is required (source ~/.cache/gitspace-tools/env.sh)"
done
flavors=("$@")
((${#flavors[@]})) || flavors=(vscode-desktop jetbrains cursor vscode)
arch="$(dpkg --print-architecture)"

bench_work gitspace-images-bench
work="$BENCH_WORK"

ctx="$work/context"
bench_context "$repo" "$ctx"
[[ -f "$ctx/$edit" ]] || gs_die "no $edit in the build context"

ref() { printf '%s/%s:bench\n' "$registry" "$1"; }

# steps_run LOG: "<run>/<total>" of the Dockerfile's RUN and COPY steps in a buildctl plain-progress log (a step
# from the cache is reported "#<id> CACHED").
steps_run() {
    local total cached
    total="$(grep -oE '^#[0-9]+ \[[^]]+\] (RUN|COPY)' "$1" | cut -d' ' -f1 | sort -u)"
    cached="$(grep -oE '^#[0-9]+ CACHED' "$1" | cut -d' ' -f1 | sort -u)"
    printf '%s/%s\n' "$(comm -23 <(printf '%s\n' "$total") <(printf '%s\n' "$cached") | grep -c . || true)" \
        "$(printf '%s\n' "$total" | grep -c . || true)"
}

# build PHASE IMAGE DOCKERFILE-DIR FROM [TARGET]: records seconds and steps run in $work/PHASE.IMAGE. The flavors
# but base (every Dockerfile but images/base/) get devcontainer's ref as DEVCONTAINER_IMAGE.
build() {
    local phase="$1" image="$2" dir="$3" from="$4" target="${5:-}" start out
    local -a args=(build --frontend dockerfile.v0 --local "context=$ctx" --local "dockerfile=$ctx/images/$dir"
        --opt "build-arg:BASE_IMAGE=$from" --opt "platform=linux/$arch" --progress plain
        --output "type=image,name=$(ref "$image"),push=true,registry.insecure=true")
    [[ -z "$target" ]] || args+=(--opt "target=$target")
    [[ "$dir" == base ]] || args+=(--opt "build-arg:DEVCONTAINER_IMAGE=$(ref devcontainer)")
    start="$(date +%s.%N)"
    buildctl "${args[@]}" >"$work/$phase.$image.log" 2>&1 \
        || { tail -n 30 "$work/$phase.$image.log" >&2; gs_die "$phase build of $image failed"; }
    out="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
    printf '%s %s\n' "$out" "$(steps_run "$work/$phase.$image.log")" >"$work/$phase.$image"
    gs_log "$phase $image: ${out}s"
}

build_all() {
    local phase="$1" f
    build "$phase" base-system base "$os_image" system
    build "$phase" devcontainer base "$os_image" devcontainer
    build "$phase" base base "$os_image"
    for f in "${flavors[@]}"; do build "$phase" "$f" "$f" "$(ref base-system)"; done
}

images=(base-system devcontainer base "${flavors[@]}")
bench_start_buildkitd "$(bench_registry_config "${registry%%/*}" "${os_image%%/*}")"
gs_log "cold build (a new buildkitd, empty cache) of ${images[*]}"
build_all cold
comment='#'
[[ "$edit" != *.go ]] || comment='//'
printf '%s gitspace images bench %s\n' "$comment" "$(date -u +%FT%TZ)" >>"$ctx/$edit"
gs_log "one-line edit of $edit, rebuild"
build_all edit

total_cold=0 total_edit=0
printf '\n%-16s %9s %11s %11s %7s %10s\n' image 'cold s' 'after edit' 'steps run' ratio 'push MB'
for image in "${images[@]}"; do
    read -r cold_s _ <"$work/cold.$image"
    read -r edit_s steps <"$work/edit.$image"
    push="$(GITSPACE_LAYER_DIRS=0 "$repo/tests/images/layers.sh" "$(ref "$image")" "linux/$arch" | awk '$1 == "sum" { print $2 }')"
    printf '%-16s %9s %11s %11s %7s %10s\n' "$image" "$cold_s" "$edit_s" "$steps" \
        "$(awk -v a="$edit_s" -v b="$cold_s" 'BEGIN { printf "%.0f%%", 100 * a / b }')" "$push"
    total_cold="$(awk -v a="$total_cold" -v b="$cold_s" 'BEGIN { print a + b }')"
    total_edit="$(awk -v a="$total_edit" -v b="$edit_s" 'BEGIN { print a + b }')"
done
ratio="$(awk -v a="$total_edit" -v b="$total_cold" 'BEGIN { printf "%.1f", 100 * a / b }')"
printf '%-16s %9s %11s %11s %7s\n' total "$total_cold" "$total_edit" '' "$ratio%"
printf 'rebuild after a one-line edit of %s: %ss against a cold build of %ss (%s%%, goal <= 10%%)\n' \
    "$edit" "$total_edit" "$total_cold" "$ratio"
