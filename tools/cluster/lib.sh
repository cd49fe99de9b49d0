# shellcheck shell=bash
# Shared by tools/cluster/*.sh (sourced, not run). Paths, logging, timing, daemons, binaries.
# shellcheck disable=SC2034  # variables are used by the scripts that source this file

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CLUSTER_SRC/../.." && pwd)

# Everything of a running cluster lives here (certs, etcd data, registry storage, logs, pid files, volumes).
STATE=${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}
# Sockets and containerd's runtime state (tmpfs-like, not kept across down/up).
RUN=${GITSPACE_CLUSTER_RUN:-/run/gitspace-cluster}
# Build cache shared with tools/toolchain.sh: version- or content-keyed directories with a .done marker.
TOOLS_DIR=${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}

PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids
KUBECONFIG_ADMIN=$STATE/kubeconfig
CONTAINERD_SOCK=$RUN/containerd/containerd.sock
KUBELET_ROOT=$STATE/kubelet
VOLUMES=$STATE/volumes
CNI_CONF_DIR=$STATE/cni/net.d
CNI_BIN_DIR=${GITSPACE_CNI_BIN_DIR:-/usr/lib/cni}

# Network layout (distinct from Docker's 172.17.0.0/16).
REGISTRY_ADDR=${GITSPACE_REGISTRY_ADDR:-127.0.0.1:5000}
POD_CIDR=${GITSPACE_POD_CIDR:-10.88.0.0/16}
POD_GATEWAY=${GITSPACE_POD_GATEWAY:-10.88.0.1}
SERVICE_CIDR=${GITSPACE_SERVICE_CIDR:-10.96.0.0/16}
KUBERNETES_SERVICE_IP=${GITSPACE_KUBERNETES_SERVICE_IP:-10.96.0.1}
CLUSTER_DNS_IP=$POD_GATEWAY  # CoreDNS (when built) listens on the bridge's host address
BRIDGE=gitspace0
FORWARD_CHAIN=GITSPACE-FORWARD
CNI_NETWORK=gitspace
APISERVER_PORT=${GITSPACE_APISERVER_PORT:-6443}
ETCD_CLIENT=http://127.0.0.1:2379

NODE_NAME=${GITSPACE_NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}
STORAGE_CLASS=gitspace-local
PROVISIONER_NAME=rancher.io/local-path
PROVISIONER_NS=local-path-storage

# TLS: the DNS domain of the router's wildcard certificate (*.$CLUSTER_DOMAIN). The dev stack's gitspace:domain
# (Pulumi.dev.yaml) is gitspace.localtest.me; a caller with another stack passes its resolved domain here.
CLUSTER_DOMAIN=${GITSPACE_CLUSTER_DOMAIN:-gitspace.localtest.me}
# what the local TLS CA may vouch for (X.509 name constraints)
LOCAL_CA_PERMITTED="permitted;DNS:$CLUSTER_DOMAIN,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0"
LOCAL_CA=$STATE/pki/local-ca.crt
# the local CA in this machine's trust store (update-ca-certificates), for curl, Go programs (docker-build, buildx)
SYSTEM_CA_FILE=${GITSPACE_SYSTEM_CA_FILE:-/usr/local/share/ca-certificates/gitspace-local-ca.crt}

# NetworkPolicy agent: its nftables table and queue number
KNP_TABLE=kube-network-policies
KNP_QUEUE=100

# The router: Traefik in a pod of ROUTER_NS, its entry points published on these host ports (hostPort)
ROUTER_NS=traefik-system
ROUTER_HTTPS_PORT=${GITSPACE_ROUTER_HTTPS_PORT:-443}
ROUTER_HTTP_PORT=${GITSPACE_ROUTER_HTTP_PORT:-80}
ROUTER_GATEWAY=gitspace
ROUTER_TLS_SECRET=gitspace-wildcard-tls
ROUTER_IMAGE=$REGISTRY_ADDR/gitspace-cluster/traefik
PAUSE_IMAGE=$REGISTRY_ADDR/pause:3.10
BASE_SUITE=${GITSPACE_BASE_SUITE:-bookworm}
BASE_IMAGE=$REGISTRY_ADDR/debian:$BASE_SUITE
DEBIAN_MIRROR=${GITSPACE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

NICE=(nice -n "${GITSPACE_NICE:-10}")

# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "${BASH_SOURCE[0]%/*}/../../scripts/common/lib.sh"

# Timing: `part NAME` starts a part (and ends the previous one), `part_end` ends the current one.
TIMINGS=()
_PART=
_PART_T0=0
_now() { date +%s.%N; }
_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
part_end() {
  [[ -n $_PART ]] || return 0
  local took
  took=$(_secs "$_PART_T0" "$(_now)")
  TIMINGS+=("$(printf '%-28s %6ss' "$_PART" "$took")")
  gs_log "$_PART: done in ${took}s"
  _PART=
}
part() {
  part_end
  _PART=$1
  _PART_T0=$(_now)
  gs_log "$_PART ..."
}
print_timings() {
  part_end
  local t
  gs_log "timings:"
  for t in "${TIMINGS[@]+"${TIMINGS[@]}"}"; do gs_log "  $t"; done
}

# ---------------------------------------------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------------------------------------------
_APT_UPDATED=
# need_pkg CHECK PACKAGE: install PACKAGE unless CHECK (a command name or an absolute path) exists
need_pkg() {
  local check=$1 pkg=$2
  if [[ $check == /* ]]; then [[ -e $check ]] && return 0; else command -v "$check" >/dev/null && return 0; fi
  [[ $(id -u) -eq 0 ]] || gs_die "$check missing: install the Debian package $pkg (as root)"
  gs_log "installing Debian package $pkg"
  if [[ -z $_APT_UPDATED ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || gs_log "WARNING: apt-get update failed"
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2
}

# ---------------------------------------------------------------------------------------------------------------
# Daemons: pid file $PIDS/NAME.pid, log $LOGS/NAME.log, command line in $PIDS/NAME.cmd
# ---------------------------------------------------------------------------------------------------------------
# pid_of NAME: prints the pid if the daemon runs (the pid file's process still has the recorded executable)
pid_of() {
  local name=$1 pid exe
  [[ -f $PIDS/$name.pid ]] || return 1
  pid=$(<"$PIDS/$name.pid")
  [[ -n $pid && -d /proc/$pid ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ -f $PIDS/$name.exe && $exe == "$(<"$PIDS/$name.exe")" ]] || return 1
  echo "$pid"
}

# start_daemon NAME CMD...: starts CMD detached (own session), unless it already runs with the same command line.
# A running daemon with another command line (changed flags) is restarted; so is one whose files listed in
# RESTART_ON (space-separated paths, e.g. its config file: RESTART_ON=FILE start_daemon ...) changed.
start_daemon() {
  local name=$1 pid exe f
  shift
  mkdir -p "$PIDS" "$LOGS"
  local want
  want=$(printf '%q ' "$@")
  for f in ${RESTART_ON:-}; do want+=" # $f:$(sha256sum <"$f" | cut -c1-12)"; done
  if pid=$(pid_of "$name"); then
    if [[ -f $PIDS/$name.cmd && $(<"$PIDS/$name.cmd") == "$want" ]]; then
      gs_log "$name: running (pid $pid)"
      return 0
    fi
    gs_log "$name: command line changed, restarting"
    stop_daemon "$name"
  fi
  exe=$(readlink -f "$(command -v "$1")") || gs_die "$1 not found"
  printf '\n==== %s start: %s\n' "$(date -u +%FT%TZ)" "$want" >>"$LOGS/$name.log"
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDS/$name.pid"
  echo "$exe" >"$PIDS/$name.exe"
  echo "$want" >"$PIDS/$name.cmd"
  sleep 0.3
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 30 "$LOGS/$name.log" >&2
    gs_die "$name exited at once (log: $LOGS/$name.log)"
  fi
  gs_log "$name: started (pid $pid, log $LOGS/$name.log)"
}

# stop_daemon NAME [TIMEOUT]: SIGTERM, then SIGKILL after TIMEOUT seconds (default 15)
stop_daemon() {
  local name=$1 timeout=${2:-15} pid i
  if ! pid=$(pid_of "$name"); then
    rm -f "$PIDS/$name.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    gs_log "$name: still running after ${timeout}s, SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$PIDS/$name.pid"
  gs_log "$name: stopped (was pid $pid)"
}

# wait_for DESCRIPTION TIMEOUT CMD...: retries CMD every 0.5 s
wait_for() {
  local what=$1 timeout=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < timeout)) || gs_die "timed out after ${timeout}s waiting for $what"
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------------------------------------------
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# k8s_bin_dir: the directory holding the Kubernetes binaries: on PATH (after the toolchain's env.sh), or the newest
# complete kubernetes-v1.3[1-3].* build in the tools cache.
k8s_bin_dir() {
  local d b ok
  if [[ -f $TOOLS_DIR/env.sh ]]; then
    # shellcheck disable=SC1091
    d=$(
      . "$TOOLS_DIR/env.sh" >/dev/null 2>&1
      command -v kube-apiserver
    ) || d=
    if [[ -n $d ]]; then
      d=$(dirname "$d")
      ok=1
      for b in "${K8S_BINARIES[@]}"; do [[ -x $d/$b ]] || ok=; done
      [[ -n $ok ]] && { echo "$d"; return 0; }
    fi
  fi
  d=$(command -v kube-apiserver 2>/dev/null || true)
  if [[ -n $d ]]; then
    d=$(dirname "$d")
    ok=1
    for b in "${K8S_BINARIES[@]}"; do [[ -x $d/$b ]] || ok=; done
    [[ -n $ok ]] && { echo "$d"; return 0; }
  fi
  for d in $(printf '%s\n' "$TOOLS_DIR"/kubernetes-v1.3[123].* | sort -rV); do
    [[ -f $d/.done ]] || continue
    ok=1
    for b in "${K8S_BINARIES[@]}"; do [[ -x $d/bin/$b ]] || ok=; done
    [[ -n $ok ]] && { echo "$d/bin"; return 0; }
  done
  return 1
}

# write_file FILE: writes stdin to FILE only when the content differs (daemons such as kube-proxy exit when their
# config file is touched)
write_file() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else chmod 644 "$tmp" && mv "$tmp" "$1"; fi
}

# content_key FILE...: short hash of files' contents (cache keys for our own builds)
content_key() { cat "$@" | sha256sum | cut -c1-10; }

# cluster_tool VAR: the cache directory of a part built by `tools/toolchain.sh cluster` (local-path-provisioner,
# kube-network-policies, Traefik, Gateway API CRDs), named by a variable of the toolchain's env.sh
cluster_tool() {
  local d
  [[ -f $TOOLS_DIR/env.sh ]] || return 1
  # shellcheck disable=SC1091
  d=$(
    . "$TOOLS_DIR/env.sh" >/dev/null 2>&1
    printf '%s' "${!1:-}"
  )
  [[ -n $d && -f $d/.done ]] || return 1
  echo "$d"
}

# go_bin_dir: the cache directory of our Go programs (cri-stop), keyed by their sources
go_bin_dir() {
  local files
  mapfile -t files < <(find "$CLUSTER_SRC/go" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | sort)
  echo "$TOOLS_DIR/gitspace-cluster-go-$(content_key "${files[@]}")"
}

kubectl_admin() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
