#!/usr/bin/env bash
# Benchmark (not part of CI: 14-26 min on 2 shared cores): the `vscode` image built for linux/arm64 on an amd64 machine
# with its build stage on the builder's platform (images/vscode/Dockerfile: cross toolchain, npm on the arm64 Node
# under QEMU, no compiler under QEMU), against the same build for linux/amd64, cold, in the same run; then the arm64
# image verified end to end under QEMU with no network: every native module (.node) is an arm64 ELF, which were
# compiled and which came prebuilt, they all load, node-pty spawns, code-server answers /healthz (how long it took).
# The amd64 image gets the same checks (natively).
#
# Cold means an empty build cache: the bench starts its own buildkitd (nice -n 19: the build shares the machine) on a
# fresh root and removes it at the end. base-system is built first for both platforms (the build stage runs FROM its
# amd64 variant, the image FROM its arm64 one) and timed apart, then devcontainer (images/base/Dockerfile --target
# devcontainer: the gitspace-devcontainer binary, cross-compiled, as components/images.ts builds it) for both, which
# the vscode builds get as DEVCONTAINER_IMAGE.
#
# Usage: tests/bench/vscode-arm64.bench.sh        (npm run bench:vscode-arm64)
# Environment:
#   (buildkitd, buildctl and runc on PATH, root: `source ~/.cache/gitspace-tools/env.sh`; QEMU aarch64 registered in
#   binfmt_misc with the F flag)
#   GITSPACE_REGISTRY_REPO    where the images are pushed as <repo>/<image>:bench (required,
#                             e.g. 127.0.0.1:5000/gitspace-bench)
#   GITSPACE_BASE_IMAGE       the Debian image, multi-arch with linux/amd64 and linux/arm64 (required,
#                             e.g. 127.0.0.1:5000/debian:bookworm; tools/cluster/up.sh with GITSPACE_BASE_ARCHES)
#   GITSPACE_BUILDKITD_CONFIG registry settings for the bench's buildkitd (default: /var/lib/gitspace-cluster/
#                             buildkitd.toml when it exists: the local registry's CA; otherwise plain HTTP)
#   GITSPACE_BENCH_PLATFORMS  the vscode builds, in order (default: "linux/arm64 linux/amd64")
#   GITSPACE_HEALTHZ_TIMEOUT  seconds code-server gets to answer /healthz (default: 900; under QEMU it is slow)
#   GITSPACE_BENCH_WORKDIR    where the bench makes its own directory for the buildkitd root, logs and context copy
#                             (default: /var/tmp); that directory alone is removed at the end
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
registry="${GITSPACE_REGISTRY_REPO:?GITSPACE_REGISTRY_REPO is required (e.g. 127.0.0.1:5000/gitspace-bench)}"
os_image="${GITSPACE_BASE_IMAGE:?GITSPACE_BASE_IMAGE is required (a multi-arch Debian image)}"
read -r -a platforms <<<"${GITSPACE_BENCH_PLATFORMS:-linux/arm64 linux/amd64}"
healthz_timeout="${GITSPACE_HEALTHZ_TIMEOUT:-900}"
[[ "$healthz_timeout" =~ ^[1-9][0-9]*$ ]] || gs_die "GITSPACE_HEALTHZ_TIMEOUT must be a number of seconds"
for tool in buildctl buildkitd runc jq; do command -v "$tool" >/dev/null || gs_die "$tool is required"; done
for p in "${platforms[@]}"; do
    [[ "$p" == linux/amd64 || "$p" == linux/arm64 ]] || gs_die "unsupported platform $p (linux/amd64, linux/arm64)"
done
grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || gs_die "QEMU aarch64 is not registered in binfmt_misc"

bench_work gitspace-vscode-arm64-bench
work="$BENCH_WORK"
ctx="$work/context"
bench_context "$repo" "$ctx"
ref() { printf '%s/%s:bench\n' "$registry" "$1"; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# build NAME DOCKERFILE-DIR PLATFORMS IMAGE [buildctl option...]: prints the seconds it took.
build() {
    local name="$1" dir="$2" platform="$3" image="$4" start
    shift 4
    start="$(now)"
    buildctl build --frontend dockerfile.v0 --local "context=$ctx" --local "dockerfile=$ctx/images/$dir" \
        --opt "platform=$platform" --progress plain "$@" \
        --output "type=image,name=$image,push=true" >"$work/$name.log" 2>&1 \
        || { tail -n 40 "$work/$name.log" >&2; gs_die "build of $name failed (log above)"; }
    since "$start"
}

# verify PLATFORM IMAGE: the checks, as never-cached `RUN --network=none` steps FROM IMAGE (as its user, loopback
# only; under QEMU for arm64); prints their "bench:" lines.
verify() {
    local platform="$1" image="$2" dir
    dir="$work/verify-${platform#linux/}"
    mkdir -p "$dir"
    cp "$here/vscode-check.sh" "$dir/check.sh"
    printf 'FROM %s\nRUN --network=none --mount=type=bind,source=check.sh,target=/tmp/check.sh bash /tmp/check.sh %s\n' \
        "$image" "$healthz_timeout" >"$dir/Dockerfile"
    buildctl build --frontend dockerfile.v0 --local "context=$dir" --local "dockerfile=$dir" --opt "platform=$platform" \
        --no-cache --progress plain >"$dir/out.log" 2>&1 \
        || { sed -nE 's/^#[0-9]+ [0-9]+\.[0-9]+ //p' "$dir/out.log" | tail -n 60 >&2; gs_die "checks of $platform failed"; }
    sed -nE 's/^#[0-9]+ [0-9]+\.[0-9]+ (bench: )/\1/p' "$dir/out.log"
}

bench_start_buildkitd "$(bench_registry_config "${registry%%/*}" "${os_image%%/*}")" nice -n 19
gs_log "own buildkitd (nice 19, empty cache) at $BUILDKIT_HOST; work dir $work"
system="$(ref base-system)"
gs_log "base-system for linux/amd64,linux/arm64 FROM $os_image"
system_s="$(build base-system base linux/amd64,linux/arm64 "$system" --opt target=system \
    --opt "build-arg:BASE_IMAGE=$os_image")"
gs_log "base-system: ${system_s}s"
devcontainer="$(ref devcontainer)"
devcontainer_s="$(build devcontainer base linux/amd64,linux/arm64 "$devcontainer" --opt target=devcontainer \
    --opt "build-arg:BASE_IMAGE=$os_image")"
gs_log "devcontainer (cross-compiled Go): ${devcontainer_s}s"

declare -A build_s push_mb checks
for platform in "${platforms[@]}"; do
    arch="${platform#linux/}"
    image="$(ref "vscode-$arch")"
    gs_log "vscode for $platform FROM $system"
    build_s[$arch]="$(build "vscode-$arch" vscode "$platform" "$image" --opt "build-arg:BASE_IMAGE=$system" \
        --opt "build-arg:DEVCONTAINER_IMAGE=$devcontainer")"
    gs_log "vscode $platform: ${build_s[$arch]}s"
    grep -E 'cross build for|installing code-server|added [0-9]+ packages|pruned code-server' "$work/vscode-$arch.log" \
        | sed -E 's/^#[0-9]+ [0-9.]+ /  /' >&2 || true
    push_mb[$arch]="$(GITSPACE_REGISTRY_SCHEME=https GITSPACE_LAYER_DIRS=0 "$repo/tests/images/layers.sh" "$image" \
        "$platform" | awk '$1 == "sum" { print $2 }')"
    gs_log "checks of the $platform image (no network)"
    checks[$arch]="$(verify "$platform" "$image")"
    printf '%s\n' "${checks[$arch]}" >&2
done

printf '\n# gitspace vscode cross-build bench %s (%s cores, load %s)\n' "$(date -u +%FT%TZ)" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'base-system linux/amd64+linux/arm64, cold: %ss\n' "$system_s"
printf 'devcontainer linux/amd64+linux/arm64, cold: %ss\n' "$devcontainer_s"
# count KIND CHECKS: the number in "bench: native modules KIND (N)" / "bench: binaries of other platforms left (N)".
count() { sed -nE "s/^bench: ($1) \(([0-9]+)\).*/\2/p" <<<"$2"; }
printf '%-8s %8s %8s %9s %9s %6s %11s %10s\n' platform 'build s' 'push MB' compiled prebuilt other 'loads, pty' 'healthz s'
for platform in "${platforms[@]}"; do
    arch="${platform#linux/}"
    c="${checks[$arch]}"
    printf '%-8s %8s %8s %9s %9s %6s %11s %10s\n' "$arch" "${build_s[$arch]}" "${push_mb[$arch]}" \
        "$(count 'native modules compiled' "$c")" "$(count 'native modules prebuilt' "$c")" \
        "$(count 'binaries of other platforms left' "$c")" \
        "$(sed -nE 's/^bench: native modules load as ([a-z0-9]+) .*pty-ok$/\1, ok/p' <<<"$c")" \
        "$(sed -nE 's/^bench: healthz answered after ([0-9.]+)s.*/\1/p' <<<"$c")"
done
printf '(compiled: build/Release/*.node, by the cross toolchain for a foreign platform; prebuilt: shipped by npm packages)\n'
