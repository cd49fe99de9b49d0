#!/usr/bin/env bash
# Stops the local cluster of tools/cluster/up.sh: every daemon, every pod sandbox and container (through CRI, so the
# CNI plugins tear down veths, IPAM and their iptables rules), kubelet mounts, the bridge, kube-proxy's and the
# kubelet's iptables chains, and kubepods cgroups; then checks that nothing of it still runs.
# Data (etcd, registry, volumes, certificates, kubeconfig) stays for the next up.sh, unless --purge.
#
# Usage: bash tools/cluster/down.sh [--purge]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PURGE=
case ${1:-} in
  --purge) PURGE=1 ;;
  "") ;;
  *) gs_die "usage: $0 [--purge]" ;;
esac
[[ $(id -u) -eq 0 ]] || gs_die "run as root"
T_START=$(_now)
K8S_BIN=$(k8s_bin_dir || true)
GO_DIR=$(go_bin_dir)

# ---------------------------------------------------------------------------------------------------------------
part "kubernetes daemons"
stop_daemon local-path-provisioner
stop_daemon provisioner # the former home-made provisioner, on a cluster started by an older up.sh
stop_daemon kube-network-policies
stop_daemon coredns
stop_daemon kube-proxy
stop_daemon kube-scheduler
stop_daemon kube-controller-manager
stop_daemon kubelet 30

# ---------------------------------------------------------------------------------------------------------------
part "pods"
if pid_of containerd >/dev/null && [[ -S $CONTAINERD_SOCK ]]; then
  if [[ -x $GO_DIR/bin/cri-stop ]]; then
    "$GO_DIR/bin/cri-stop" --endpoint "$CONTAINERD_SOCK" --timeout 120s >&2 || gs_log "WARNING: cri-stop reported errors"
  else
    gs_log "WARNING: $GO_DIR/bin/cri-stop not built: killing tasks with ctr (CNI teardown is done by hand below)"
  fi
  # whatever is left (e.g. containers created outside CRI): kill and delete with ctr
  for ns in $(ctr --address "$CONTAINERD_SOCK" namespaces ls -q 2>/dev/null); do
    for t in $(ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
      ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
      sleep 0.2
      ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks delete -f "$t" >/dev/null 2>&1 || true
      gs_log "killed task $ns/$t"
    done
  done
fi

# ---------------------------------------------------------------------------------------------------------------
part "containerd"
stop_daemon containerd 30
# shims of our containerd (their command line names our socket); normally gone with their tasks
for pid in $(pgrep -f -- "-address $CONTAINERD_SOCK" || true); do
  gs_log "killing leftover shim $pid"
  kill -KILL "$pid" 2>/dev/null || true
done

# ---------------------------------------------------------------------------------------------------------------
part "kube-apiserver, etcd, registry"
stop_daemon kube-apiserver 10 # clients holding watches keep it in graceful shutdown
stop_daemon etcd 30
stop_daemon registry

# ---------------------------------------------------------------------------------------------------------------
part "mounts"
# everything mounted below our directories (kubelet volumes, pod shm, overlay rootfs, netns), deepest first
mapfile -t mounts < <(awk '{ print $5 }' /proc/self/mountinfo | grep -E "^($STATE|$RUN)/" | sort -r || true)
for m in /run/netns/cni-*; do [[ -e $m ]] && mounts+=("$m"); done
for m in "${mounts[@]+"${mounts[@]}"}"; do
  if umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; then gs_log "unmounted $m"; fi
done
for m in /run/netns/cni-*; do [[ -e $m ]] && rm -f "$m"; done
rm -rf "${STATE:?}/cni/ipam/$CNI_NETWORK"

# ---------------------------------------------------------------------------------------------------------------
part "network"
# drop_chains IPT TABLE REGEX: removes every rule jumping to a chain whose name matches REGEX, then those chains
drop_chains() {
  local ipt=$1 table=$2 re=$3 chains chain nums n
  mapfile -t chains < <("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" { print $2 }' | grep -E "^($re)\$" || true)
  [[ ${#chains[@]} -gt 0 ]] || return 0
  for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-P" || $1 == "-N" { print $2 }'); do
    # rule numbers (descending) whose target matches
    nums=$("$ipt" -w -t "$table" -L "$chain" -n --line-numbers 2>/dev/null |
      awk -v re="^($re)\$" 'NR > 2 && $2 ~ re { print $1 }' | sort -rn)
    for n in $nums; do "$ipt" -w -t "$table" -D "$chain" "$n"; done
  done
  for chain in "${chains[@]}"; do "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true; done
  for chain in "${chains[@]}"; do "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true; done
  gs_log "$ipt -t $table: removed ${#chains[@]} chains (${chains[*]:0:6}$([[ ${#chains[@]} -gt 6 ]] && echo ' ...'))"
}
if [[ -n $K8S_BIN && -x $K8S_BIN/kube-proxy ]]; then
  "$K8S_BIN/kube-proxy" --cleanup >"$LOGS/kube-proxy-cleanup.log" 2>&1 || gs_log "WARNING: kube-proxy --cleanup failed"
fi
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in nat filter mangle; do
    # the CNI plugins' per-container chains of our network (their rules carry the comment name: "gitspace")
    cni=$("$ipt" -w -t "$table" -S 2>/dev/null | grep -F "name: \\\"$CNI_NETWORK\\\"" |
      awk '$1 == "-A" && $2 ~ /^CNI-/ { print $2 }' | sort -u | paste -sd'|' || true)
    [[ -z $cni ]] || drop_chains "$ipt" "$table" "$cni"
    # the kubelet's and kube-proxy's chains (KUBE-*), and the portmap plugin's shared chains once no hostPort is left
    drop_chains "$ipt" "$table" 'KUBE-[A-Z0-9-]+'
    drop_chains "$ipt" "$table" "$FORWARD_CHAIN"
    if ! "$ipt" -w -t "$table" -S 2>/dev/null | grep -E '^-A CNI-HOSTPORT-DNAT ' >/dev/null; then
      drop_chains "$ipt" "$table" 'CNI-HOSTPORT-(DNAT|MASQ|SETMARK)'
    fi
  done
done
# kube-network-policies' table (it only removes it on SIGINT; without the agent, its queue would drop packets)
if command -v nft >/dev/null && nft list table inet "$KNP_TABLE" >/dev/null 2>&1; then
  nft delete table inet "$KNP_TABLE"
  gs_log "deleted nftables table inet $KNP_TABLE"
fi
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link delete "$BRIDGE"
  gs_log "deleted bridge $BRIDGE"
fi
# kube-proxy's dummy interface (ipvs/nftables modes) if any
ip link show kube-ipvs0 >/dev/null 2>&1 && ip link delete kube-ipvs0 && gs_log "deleted kube-ipvs0"

# ---------------------------------------------------------------------------------------------------------------
part "cgroups"
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/kubepods.slice; do
  [[ -d $d ]] || continue
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [[ -d $d ]] && gs_log "WARNING: $d not removed (processes left in it?)"
done

# ---------------------------------------------------------------------------------------------------------------
part "check"
left=()
for pid in $(ps -eo pid=); do
  [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
  { args=$(tr '\0' ' ' <"/proc/$pid/cmdline"); } 2>/dev/null || continue
  exe=$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)" 2>/dev/null) || exe=
  # our daemons (by executable, with our directories in their arguments; not e.g. a buildkitd that merely reads
  # $STATE/buildkitd.toml), shims of our containerd, and anything left in the kubelet's pod cgroups
  case $exe in
    etcd | docker-registry | containerd | containerd-shim* | kube-* | kubelet | coredns | provisioner | local-path-provisioner) ours=1 ;;
    *) ours= ;;
  esac
  if [[ -n $ours && ($args == *"$STATE/"* || $args == *"$RUN/"*) ]] || grep -qs kubepods "/proc/$pid/cgroup"; then
    left+=("$pid $args")
  fi
done
if [[ ${#left[@]} -gt 0 ]]; then
  gs_log "still running:"
  printf '    %s\n' "${left[@]}" >&2
  gs_die "processes of the cluster are still running"
fi
gs_log "no process of the cluster is running"

if [[ -n $PURGE ]]; then
  part "purge"
  # the local TLS CA in the system and Docker trust stores (only where it is ours, byte for byte)
  if [[ -f $LOCAL_CA ]]; then
    for f in "$SYSTEM_CA_FILE" "/etc/docker/certs.d/$REGISTRY_ADDR/ca.crt" "/etc/docker/certs.d/localhost:${REGISTRY_ADDR##*:}/ca.crt"; do
      cmp -s "$LOCAL_CA" "$f" || continue
      rm -f "$f"
      gs_log "removed $f"
      if [[ $f == "$SYSTEM_CA_FILE" ]]; then
        # --fresh: also drops the links to the removed file (it only touches the links it manages)
        update-ca-certificates --fresh >/dev/null 2>&1 || gs_log "WARNING: update-ca-certificates failed"
      else
        rmdir "$(dirname "$f")" 2>/dev/null || true # the certs.d/HOST directory, when empty
      fi
    done
  fi
  rm -rf --one-file-system "${STATE:?}" "${RUN:?}"
  gs_log "removed $STATE and $RUN"
fi
print_timings
gs_log "cluster down in $(_secs "$T_START" "$(_now)")s"
