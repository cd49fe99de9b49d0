#!/usr/bin/env bash
# Starts a rootful buildkitd (Debian runc, OCI worker) that trusts the local registry, and registers it as the buildx
# builder "gitspace" (remote driver) that @pulumi/docker-build builds with. Idempotent; `--down` stops it.
# Needs the toolchain (tools/toolchain.sh: buildkitd, buildx) and the local cluster's state (tools/cluster/up.sh
# writes buildkitd.toml). Paths overridable: GITSPACE_CLUSTER_DIR, GITSPACE_BUILDKIT_DIR, GITSPACE_BUILDER.
set -euo pipefail
GS_LOG_TAG=buildkit
# shellcheck source=SCRIPTDIR/../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common/lib.sh"

cluster_dir="${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}"
state="${GITSPACE_BUILDKIT_DIR:-/var/lib/gitspace-buildkit}"
builder="${GITSPACE_BUILDER:-gitspace}"
sock="$state/buildkitd.sock"
pidfile="$state/buildkitd.pid"

running() { [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if [[ "${1:-}" == "--down" ]]; then
  if running; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 50); do running || break; sleep 0.2; done
    gs_log "stopped"
  fi
  rm -f "$pidfile"
  exit 0
fi

command -v buildkitd >/dev/null || gs_die "buildkitd is not on PATH: run tools/toolchain.sh and source its env.sh"
command -v buildx >/dev/null || gs_die "buildx is not on PATH: run tools/toolchain.sh and source its env.sh"
command -v runc >/dev/null || gs_die "runc is missing: apt-get install runc"
[[ -r "$cluster_dir/buildkitd.toml" ]] || gs_die "$cluster_dir/buildkitd.toml is missing: run tools/cluster/up.sh first"
mkdir -p "$state"

start=$SECONDS
if running; then
  gs_log "buildkitd already running (pid $(cat "$pidfile"))"
else
  buildkitd --config "$cluster_dir/buildkitd.toml" --root "$state/root" --addr "unix://$sock" \
    --oci-worker=true --oci-worker-binary=runc --containerd-worker=false >"$state/buildkitd.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 100); do [[ -S "$sock" ]] && break; running || gs_die "buildkitd exited: $(tail -5 "$state/buildkitd.log")"; sleep 0.2; done
  [[ -S "$sock" ]] || gs_die "buildkitd did not open $sock"
  gs_log "buildkitd started (pid $(cat "$pidfile")) in $((SECONDS - start)) s"
fi

# (Re)register the builder when it is missing or points at another buildkitd (e.g. another state dir).
if ! buildx inspect "$builder" 2>/dev/null | grep -qF "unix://$sock"; then
  buildx rm "$builder" >/dev/null 2>&1 || true
  buildx create --name "$builder" --driver remote "unix://$sock" >/dev/null
fi
buildx inspect --bootstrap "$builder" | grep -E '^(Name|Driver|Status|Platforms):' >&2
gs_log "buildx builder \"$builder\" ready"
