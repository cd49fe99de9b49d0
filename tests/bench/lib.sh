# shellcheck shell=bash
# Shared by the image benchmarks (tests/bench/images.bench.sh, vscode-arm64.bench.sh; sourced, not run): their work
# directory, a copy of the build context, and their own buildkitd (an empty cache: a cold build). Logs with the
# gitspace log helpers (scripts/common/lib.sh, sourced here).
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Sets BENCH_WORK (bench_work) and BENCH_BUILDKITD_PID (bench_start_buildkitd); exports BUILDKIT_HOST.

# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common/lib.sh"

BENCH_WORK=""
BENCH_BUILDKITD_PID=""

# bench_cleanup: stops the bench's buildkitd and removes its work directory (the EXIT trap bench_work sets).
bench_cleanup() {
    if [[ -n "$BENCH_BUILDKITD_PID" ]]; then
        kill "$BENCH_BUILDKITD_PID" 2>/dev/null || true
        wait "$BENCH_BUILDKITD_PID" 2>/dev/null || true
    fi
    [[ -z "$BENCH_WORK" ]] || rm -rf "$BENCH_WORK"
}

# bench_work NAME: BENCH_WORK, the bench's work directory: a new NAME.XXXXXX in GITSPACE_BENCH_WORKDIR (default
# /var/tmp), made now and removed at exit with the bench's buildkitd stopped. Only that new directory is removed,
# never the parent it was given.
bench_work() {
    local parent="${GITSPACE_BENCH_WORKDIR:-/var/tmp}"
    [[ -d "$parent" ]] || gs_die "GITSPACE_BENCH_WORKDIR: $parent is not a directory"
    BENCH_WORK="$(mktemp -d "$parent/$1.XXXXXX")"
    trap bench_cleanup EXIT
}

# bench_context REPO DIR: a copy of the build context of REPO (images/, scripts/, .dockerignore) in DIR, which a
# bench may edit; the repository is never touched.
bench_context() {
    mkdir -p "$2"
    cp -a "$1/images" "$1/scripts" "$1/.dockerignore" "$2/"
}

# bench_registry_config HOST...: the [registry] sections of the bench's buildkitd: the file GITSPACE_BUILDKITD_CONFIG
# (default: /var/lib/gitspace-cluster/buildkitd.toml, the local registry's HTTPS CA, written by tools/cluster/up.sh)
# when it exists, else plain HTTP for each HOST.
bench_registry_config() {
    local config="${GITSPACE_BUILDKITD_CONFIG:-/var/lib/gitspace-cluster/buildkitd.toml}" host
    if [[ -f "$config" ]]; then
        cat "$config"
        return
    fi
    for host in $(printf '%s\n' "$@" | sort -u); do
        printf '[registry."%s"]\n  http = true\n  insecure = true\n' "$host"
    done
}

# bench_start_buildkitd REGISTRY-CONFIG [COMMAND...]: the bench's own buildkitd (OCI worker with runc, an empty root
# in BENCH_WORK), run through COMMAND when given (e.g. nice -n 19), with REGISTRY-CONFIG (buildkitd.toml
# [registry."<host>"] sections, may be empty) appended to its config; waits until it answers, then exports
# BUILDKIT_HOST for buildctl.
bench_start_buildkitd() {
    local registries="$1"
    shift
    [[ -n "$BENCH_WORK" ]] || gs_die "bench_start_buildkitd: call bench_work first"
    {
        printf '[worker.oci]\n  enabled = true\n  binary = "runc"\n[worker.containerd]\n  enabled = false\n'
        printf '%s\n' "$registries"
    } >"$BENCH_WORK/buildkitd.toml"
    "$@" buildkitd --config "$BENCH_WORK/buildkitd.toml" --root "$BENCH_WORK/buildkit" \
        --addr "unix://$BENCH_WORK/buildkitd.sock" >"$BENCH_WORK/buildkitd.log" 2>&1 &
    BENCH_BUILDKITD_PID=$!
    export BUILDKIT_HOST="unix://$BENCH_WORK/buildkitd.sock"
    local _
    for _ in $(seq 50); do buildctl debug workers >/dev/null 2>&1 && return 0; sleep 0.2; done
    tail -n 20 "$BENCH_WORK/buildkitd.log" >&2
    gs_die "buildkitd did not start"
}
