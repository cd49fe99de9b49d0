#!/usr/bin/env bash
# Brings up the local one-node Kubernetes cluster of the gitspace end-to-end tests (like Kubernetes'
# hack/local-up-cluster.sh): etcd, a registry on https://127.0.0.1:5000 (certificate of the local TLS CA, trusted
# by containerd, BuildKit, Docker and the system store), containerd + runc + bridge CNI, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy (iptables), rancher's local-path-provisioner (local
# PVs; default StorageClass "gitspace-local"), kube-network-policies (NetworkPolicy enforcement), Traefik (Gateway
# API and Ingress; a pod in traefik-system on host ports 443/80), a locally built pause image and a Debian base
# image (127.0.0.1:5000/debian:bookworm). The daemons are host processes with pid files and logs under
# ${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}. Idempotent: a second run checks, starts what is missing and
# re-runs the smoke test. Stop with tools/cluster/down.sh.
#
# Usage: bash tools/cluster/up.sh            (as root)
# Env:   GITSPACE_CLUSTER_DIR, GITSPACE_TOOLS_DIR, GITSPACE_BASE_ARCHES (default: the host's and those cached;
#        "amd64 arm64" builds arm64 with qemu-user-static),
#        GITSPACE_CLUSTER_SMOKE=0 (skip the smoke tests), GITSPACE_K8S_WAIT (seconds to wait for a running
#        Kubernetes build, default 5400), GITSPACE_CLUSTER_DOMAIN (the router's wildcard certificate; default
#        gitspace.localtest.me), GITSPACE_ROUTER_HTTPS_PORT / GITSPACE_ROUTER_HTTP_PORT (host ports, 443 / 80: the URLs in the outputs open as they are)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=pki.sh
. "$CLUSTER_SRC/pki.sh"

[[ $(id -u) -eq 0 ]] || gs_die "run as root (containerd, kubelet and kube-proxy need it)"
T_START=$(_now)
mkdir -p "$STATE" "$RUN" "$LOGS" "$PIDS" "$VOLUMES" "$CNI_CONF_DIR"
chmod 711 "$STATE"

# ---------------------------------------------------------------------------------------------------------------
part "debian packages"
need_pkg containerd containerd
need_pkg runc runc
need_pkg "$CNI_BIN_DIR/bridge" containernetworking-plugins
need_pkg docker-registry docker-registry
need_pkg etcd etcd-server
need_pkg openssl openssl
need_pkg curl curl
need_pkg jq jq
need_pkg iptables iptables
need_pkg conntrack conntrack
need_pkg ipset ipset # kube-proxy --cleanup (down.sh) wants it
need_pkg nft nftables # kube-network-policies' table (down.sh removes it; `nft list table inet kube-network-policies`)
need_pkg update-ca-certificates ca-certificates
need_pkg patch patch # tools/toolchain.sh cluster patches kube-network-policies
need_pkg debootstrap debootstrap
need_pkg gcc gcc
need_pkg /usr/include/stdio.h libc6-dev

NODE_IP=${GITSPACE_NODE_IP:-$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}
[[ -n $NODE_IP ]] || NODE_IP=$(hostname -I | awk '{print $1}')
[[ -n $NODE_IP ]] || gs_die "cannot find the node IP; set GITSPACE_NODE_IP"
gs_log "node $NODE_NAME, IP $NODE_IP, state in $STATE"

# ---------------------------------------------------------------------------------------------------------------
part "kernel settings"
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then CGROUP_VERSION=2; else CGROUP_VERSION=1; fi
[[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null ||
  gs_log "WARNING: br_netfilter not available: service traffic between pods on the bridge may fail"
for s in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables; do
  [[ -w /proc/sys/$s ]] && [[ $(<"/proc/sys/$s") == 1 ]] || echo 1 >"/proc/sys/$s" 2>/dev/null || true
done
gs_log "cgroup v$CGROUP_VERSION (cgroupfs driver), ip_forward=$(</proc/sys/net/ipv4/ip_forward)"

# ---------------------------------------------------------------------------------------------------------------
part "certificates"
make_pki "$NODE_IP"
# the local TLS CA, trusted on this machine: the system store (curl, Go programs such as the docker-build
# provider and buildx), Docker; containerd and BuildKit get it in their own configs below
if ! cmp -s "$LOCAL_CA" "$SYSTEM_CA_FILE"; then
  mkdir -p "$(dirname "$SYSTEM_CA_FILE")"
  install -m 644 "$LOCAL_CA" "$SYSTEM_CA_FILE"
  update-ca-certificates >/dev/null 2>&1 || gs_die "update-ca-certificates failed"
  gs_log "local TLS CA added to the system trust store ($SYSTEM_CA_FILE)"
fi
for reg in "$REGISTRY_ADDR" "localhost:${REGISTRY_ADDR##*:}"; do
  mkdir -p "/etc/docker/certs.d/$reg"
  cmp -s "$LOCAL_CA" "/etc/docker/certs.d/$reg/ca.crt" || install -m 644 "$LOCAL_CA" "/etc/docker/certs.d/$reg/ca.crt"
done
export GITSPACE_REGISTRY_CA=$LOCAL_CA # oci-push.sh

# ---------------------------------------------------------------------------------------------------------------
part "etcd"
mkdir -p "$STATE/etcd"
chmod 700 "$STATE/etcd"
start_daemon etcd etcd --name gitspace --data-dir "$STATE/etcd" \
  --listen-client-urls "$ETCD_CLIENT" --advertise-client-urls "$ETCD_CLIENT" \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster gitspace=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --quota-backend-bytes 4294967296 --snapshot-count 10000 --log-level warn --logger zap
wait_for "etcd health" 60 curl -fsS "$ETCD_CLIENT/health"

# ---------------------------------------------------------------------------------------------------------------
part "registry"
mkdir -p "$STATE/registry/data"
write_file "$STATE/registry/config.yml" <<EOF
# written by tools/cluster/up.sh: HTTPS on $REGISTRY_ADDR (certificate of the local TLS CA), no auth (local tests only)
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $REGISTRY_ADDR
  tls:
    certificate: $PKI/registry.crt
    key: $PKI/registry.key
  headers:
    X-Content-Type-Options: [nosniff]
EOF
RESTART_ON="$STATE/registry/config.yml $PKI/registry.crt" start_daemon registry docker-registry serve "$STATE/registry/config.yml"
wait_for "registry on https://$REGISTRY_ADDR" 30 curl -fsS --cacert "$LOCAL_CA" "https://$REGISTRY_ADDR/v2/"
# BuildKit (buildkitd --config FILE) trusts the registry with this:
write_file "$STATE/buildkitd.toml" <<EOF
# written by tools/cluster/up.sh: lets buildkitd push to and pull from the local registry (HTTPS, local TLS CA;
# http = false: BuildKit assumes plain HTTP for a localhost registry unless told)
[registry."$REGISTRY_ADDR"]
  http = false
  ca = ["$LOCAL_CA"]
[registry."localhost:${REGISTRY_ADDR##*:}"]
  http = false
  ca = ["$LOCAL_CA"]
EOF

# ---------------------------------------------------------------------------------------------------------------
part "pause image"
PAUSE_DIR=$TOOLS_DIR/gitspace-pause-$(content_key "$CLUSTER_SRC/pause/pause.c")
if [[ ! -f $PAUSE_DIR/.done ]]; then
  rm -rf "$PAUSE_DIR"
  mkdir -p "$PAUSE_DIR/root"
  gcc -Os -static -Wall -Wextra -o "$PAUSE_DIR/root/pause" "$CLUSTER_SRC/pause/pause.c"
  strip "$PAUSE_DIR/root/pause"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$PAUSE_DIR/root" -cf - pause | gzip -9n >"$PAUSE_DIR/layer.tar.gz"
  touch "$PAUSE_DIR/.done"
fi
bash "$CLUSTER_SRC/oci-push.sh" "$PAUSE_IMAGE" --layer "linux/amd64=$PAUSE_DIR/layer.tar.gz" \
  --config '{"Entrypoint":["/pause"],"User":"65535:65535"}' >/dev/null

# ---------------------------------------------------------------------------------------------------------------
part "debian base image"
# Extra CA certificates this machine's egress needs (e.g. a TLS-inspecting proxy): baked into the base image so
# that builds FROM it (apt's ca-certificates picks up /usr/local/share/ca-certificates) reach HTTPS registries.
EXTRA_CA_DIR=${GITSPACE_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
# (not the cluster's own local TLS CA, which is in the same directory: images do not need it, and a new CA would
# rebuild the rootfs)
extra_ca_find() { find "$EXTRA_CA_DIR" -maxdepth 1 -name '*.crt' ! -name "$(basename "$SYSTEM_CA_FILE")" -type f "$@" 2>/dev/null; }
extra_ca_hash=$(extra_ca_find -print0 | sort -z | xargs -0r cat | sha256sum | cut -c1-12)
# register_binfmt QEMU_ARCH: the kernel runs foreign binaries through qemu-user-static (debootstrap's second stage
# here, and BuildKit's builds for that platform, also when the rootfs is cached). Debian's package registers
# it through systemd-binfmt, which does not run in a container: write its binfmt.d line into the kernel ourselves.
register_binfmt() {
  local name=qemu-$1 conf
  need_pkg "/usr/bin/$name-static" qemu-user-static
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [[ -e /proc/sys/fs/binfmt_misc/$name ]] && return 0
  conf=/usr/lib/binfmt.d/$name.conf
  [[ -r $conf ]] || gs_die "$conf is missing (Debian package qemu-user-static)"
  grep -v '^#' "$conf" | head -1 >/proc/sys/fs/binfmt_misc/register || gs_die "could not register $name with binfmt_misc"
  [[ -e /proc/sys/fs/binfmt_misc/$name ]] || gs_die "$name is not registered with binfmt_misc"
  gs_log "registered $name with binfmt_misc ($(sed -n 's/^flags: //p' "/proc/sys/fs/binfmt_misc/$name"))"
}
# build_rootfs ARCH: a debootstrap --variant=minbase rootfs as a gzip layer, cached by suite, arch and extra CAs
build_rootfs() {
  local arch=$1 dir="$TOOLS_DIR/debian-rootfs-$BASE_SUITE-$1" host_arch r
  [[ -f $dir/.done && "$(cat "$dir/.extra-ca" 2>/dev/null)" == "$extra_ca_hash" ]] && return 0
  host_arch=$(dpkg --print-architecture)
  rm -rf "$dir"
  mkdir -p "$dir"
  r=$dir/rootfs
  gs_log "debootstrap $BASE_SUITE ($arch) from $DEBIAN_MIRROR ..."
  if [[ $arch == "$host_arch" ]]; then
    "${NICE[@]}" debootstrap --variant=minbase --arch="$arch" "$BASE_SUITE" "$r" "$DEBIAN_MIRROR" >"$dir/debootstrap.log" 2>&1 ||
      { tail -20 "$dir/debootstrap.log" >&2; gs_die "debootstrap failed"; }
  else
    "${NICE[@]}" debootstrap --foreign --variant=minbase --arch="$arch" "$BASE_SUITE" "$r" "$DEBIAN_MIRROR" \
      >"$dir/debootstrap.log" 2>&1 || { tail -20 "$dir/debootstrap.log" >&2; gs_die "debootstrap (foreign) failed"; }
    "${NICE[@]}" chroot "$r" /debootstrap/debootstrap --second-stage >>"$dir/debootstrap.log" 2>&1 ||
      { tail -20 "$dir/debootstrap.log" >&2; gs_die "debootstrap second stage failed"; }
  fi
  # like the official image: no package lists or caches, no host files, the usual sources
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log \
    "$r"/tmp/* "$r"/var/tmp/* "$r"/debootstrap
  : >"$r/etc/resolv.conf"
  echo localhost >"$r/etc/hostname"
  mkdir -p "$r/usr/local/share/ca-certificates"
  extra_ca_find -exec cp -t "$r/usr/local/share/ca-certificates/" {} + || true
  cat >"$r/etc/apt/sources.list" <<EOF
deb http://deb.debian.org/debian $BASE_SUITE main
deb http://deb.debian.org/debian $BASE_SUITE-updates main
deb http://deb.debian.org/debian-security $BASE_SUITE-security main
EOF
  tar --numeric-owner --xattrs --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --sort=name \
    -C "$r" -cf - . | "${NICE[@]}" gzip -6n >"$dir/layer.tar.gz.tmp"
  mv "$dir/layer.tar.gz.tmp" "$dir/layer.tar.gz"
  rm -rf "$r"
  echo "$extra_ca_hash" >"$dir/.extra-ca"
  date -u +%FT%TZ >"$dir/.done"
  gs_log "rootfs $BASE_SUITE/$arch: $(du -h "$dir/layer.tar.gz" | cut -f1) compressed"
}
# default: the host's architecture plus any other already cached (so a plain re-run keeps a multi-arch tag)
if [[ -z ${GITSPACE_BASE_ARCHES:-} ]]; then
  GITSPACE_BASE_ARCHES=$(dpkg --print-architecture)
  for d in "$TOOLS_DIR/debian-rootfs-$BASE_SUITE-"*/.done; do
    [[ -f $d ]] || continue
    d=${d%/.done}
    d=${d##*-}
    [[ " $GITSPACE_BASE_ARCHES " == *" $d "* ]] || GITSPACE_BASE_ARCHES+=" $d"
  done
fi
base_layers=()
for arch in $GITSPACE_BASE_ARCHES; do
  [[ $arch == "$(dpkg --print-architecture)" ]] || register_binfmt "${arch/arm64/aarch64}"
  build_rootfs "$arch"
  base_layers+=(--layer "linux/$arch=$TOOLS_DIR/debian-rootfs-$BASE_SUITE-$arch/layer.tar.gz")
done
bash "$CLUSTER_SRC/oci-push.sh" "$BASE_IMAGE" "${base_layers[@]}" \
  --config '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["bash"]}' >/dev/null

# ---------------------------------------------------------------------------------------------------------------
part "cri-stop build"
GO_DIR=$(go_bin_dir)
if [[ ! -f $GO_DIR/.done ]]; then
  command -v go >/dev/null || gs_die "go is required to build tools/cluster/go (Go >= 1.24)"
  rm -rf "$GO_DIR"
  mkdir -p "$GO_DIR/bin"
  cp -r "$CLUSTER_SRC/go" "$GO_DIR/src"
  (cd "$GO_DIR/src" &&
    GOMODCACHE=${GITSPACE_GOMODCACHE:-$TOOLS_DIR/go/mod} GOCACHE=${GITSPACE_GOCACHE:-$TOOLS_DIR/go/build} \
      GOSUMDB=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
      "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$GO_DIR/bin/" ./...)
  date -u +%FT%TZ >"$GO_DIR/.done"
fi

# ---------------------------------------------------------------------------------------------------------------
# CoreDNS (cluster DNS), a build of our own with few plugins; GITSPACE_CLUSTER_DNS=0 runs without cluster DNS
COREDNS_BIN=
if [[ ${GITSPACE_CLUSTER_DNS:-1} != 0 ]]; then
  part "coredns build"
  DNS_SRC=$CLUSTER_SRC/coredns
  DNS_DIR=$TOOLS_DIR/gitspace-coredns-$(content_key "$DNS_SRC/main.go" "$DNS_SRC/go.mod" "$DNS_SRC/go.sum")
  if [[ ! -f $DNS_DIR/.done ]]; then
    rm -rf "$DNS_DIR"
    mkdir -p "$DNS_DIR/bin"
    cp -r "$DNS_SRC" "$DNS_DIR/src"
    gs_log "building CoreDNS (a few minutes on 2 cores; GITSPACE_CLUSTER_DNS=0 skips it)"
    if (cd "$DNS_DIR/src" &&
      GOMODCACHE=${GITSPACE_GOMODCACHE:-$TOOLS_DIR/go/mod} GOCACHE=${GITSPACE_GOCACHE:-$TOOLS_DIR/go/build} \
        GOSUMDB=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
        "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$DNS_DIR/bin/coredns" .); then
      date -u +%FT%TZ >"$DNS_DIR/.done"
    else
      gs_log "WARNING: CoreDNS build failed: the cluster runs without cluster DNS"
    fi
  fi
  [[ -f $DNS_DIR/.done ]] && COREDNS_BIN=$DNS_DIR/bin/coredns
fi

# ---------------------------------------------------------------------------------------------------------------
part "containerd"
mkdir -p "$STATE/containerd/root" "$RUN/containerd" "$STATE/cni/ipam"
# the registry over HTTPS with the local TLS CA, also under the name localhost:PORT
for reg in "$REGISTRY_ADDR" "localhost:${REGISTRY_ADDR##*:}"; do
  mkdir -p "$STATE/containerd/certs.d/$reg"
  write_file "$STATE/containerd/certs.d/$reg/hosts.toml" <<EOF
server = "https://$reg"

[host."https://$reg"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$LOCAL_CA"
EOF
done
write_file "$STATE/containerd/config.toml" <<EOF
# written by tools/cluster/up.sh (containerd $(containerd --version | awk '{print $3}')); its own root, state and
# socket, apart from any other containerd (e.g. Docker's)
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd/state"

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  # the sandbox gets oom_score_adj -998 (Guaranteed pods -997): lowering it needs CAP_SYS_RESOURCE, which this
  # machine's bounding set lacks (runc: "failed to update /proc/self/oom_score_adj: Permission denied");
  # clamp to containerd's own score instead
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
EOF
write_file "$CNI_CONF_DIR/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
# the bridge exists before the first pod so that CoreDNS can listen on its address; the bridge plugin adopts it
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
  gs_log "created bridge $BRIDGE"
fi
ip -4 addr show dev "$BRIDGE" | grep -F " $POD_GATEWAY/${POD_CIDR#*/} " >/dev/null ||
  ip addr add "$POD_GATEWAY/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Docker sets the FORWARD policy to DROP: accept the pods' traffic (pod to pod through a Service, pod to outside)
# in a chain of ours, jumped to first
iptables -w -N "$FORWARD_CHAIN" 2>/dev/null || true
iptables -w -F "$FORWARD_CHAIN"
iptables -w -A "$FORWARD_CHAIN" -s "$POD_CIDR" -j ACCEPT
iptables -w -A "$FORWARD_CHAIN" -d "$POD_CIDR" -j ACCEPT
iptables -w -C FORWARD -m comment --comment "gitspace-cluster pods" -j "$FORWARD_CHAIN" 2>/dev/null ||
  iptables -w -I FORWARD 1 -m comment --comment "gitspace-cluster pods" -j "$FORWARD_CHAIN"
RESTART_ON="$STATE/containerd/config.toml $CNI_CONF_DIR/10-$CNI_NETWORK.conflist" start_daemon containerd containerd --config "$STATE/containerd/config.toml"
wait_for "containerd socket" 60 ctr --address "$CONTAINERD_SOCK" version

# ---------------------------------------------------------------------------------------------------------------
part "kubernetes binaries"
# k8s_build_running: a tools/toolchain.sh run is building Kubernetes into the cache (directory without .done), or
# will (a run of all groups or of "kubernetes", still at an earlier tool)
k8s_build_running() {
  local d pid args
  pgrep -f 'tools/toolchain.sh' >/dev/null 2>&1 || return 1
  for d in "$TOOLS_DIR"/kubernetes-v1.3[123].*; do [[ -d $d && ! -f $d/.done ]] && return 0; done
  for pid in $(pgrep -f 'tools/toolchain.sh'); do
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    args=" ${args#*toolchain.sh} "
    [[ -z ${args// /} || $args == *" all "* || $args == *" kubernetes "* ]] && return 0
  done
  return 1
}
if ! K8S_BIN=$(k8s_bin_dir); then
  # a build in progress (ours or another session's): wait for it rather than starting a second one
  if k8s_build_running; then
    gs_log "tools/toolchain.sh is building Kubernetes: waiting for the binaries in $TOOLS_DIR ..."
    t0=$SECONDS
    until K8S_BIN=$(k8s_bin_dir); do
      ((SECONDS - t0 < ${GITSPACE_K8S_WAIT:-5400})) || gs_die "no Kubernetes binaries after ${GITSPACE_K8S_WAIT:-5400}s"
      k8s_build_running || break
      sleep 10
    done
  fi
  if ! K8S_BIN=$(k8s_bin_dir); then
    gs_log "building the Kubernetes binaries with tools/toolchain.sh kubernetes (long: ~30+ min on 2 cores)"
    bash "$REPO/tools/toolchain.sh" kubernetes
    K8S_BIN=$(k8s_bin_dir) || gs_die "no Kubernetes binaries in $TOOLS_DIR after tools/toolchain.sh kubernetes"
  fi
fi
K8S_VERSION=$("$K8S_BIN/kube-apiserver" --version | awk '{print $2}')
gs_log "Kubernetes $K8S_VERSION from $K8S_BIN"

# ---------------------------------------------------------------------------------------------------------------
part "cluster parts (tools/toolchain.sh cluster)"
# local-path-provisioner, kube-network-policies, Traefik, Gateway API CRDs: built once into the tools cache
# (seconds when cached; waits for another run building them)
bash "$REPO/tools/toolchain.sh" cluster
LPP_DIR=$(cluster_tool GITSPACE_LOCAL_PATH_PROVISIONER) || gs_die "local-path-provisioner not built (tools/toolchain.sh cluster)"
KNP_DIR=$(cluster_tool GITSPACE_KUBE_NETWORK_POLICIES) || gs_die "kube-network-policies not built (tools/toolchain.sh cluster)"
TRAEFIK_DIR=$(cluster_tool GITSPACE_TRAEFIK) || gs_die "traefik not built (tools/toolchain.sh cluster)"
GATEWAY_CRDS_DIR=$(cluster_tool GITSPACE_GATEWAY_API_CRDS) || gs_die "Gateway API CRDs missing (tools/toolchain.sh cluster)"

# ---------------------------------------------------------------------------------------------------------------
part "kube-apiserver"
RESTART_ON="$PKI/apiserver.crt $PKI/sa.pub $PKI/ca.crt" start_daemon kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers="$ETCD_CLIENT" \
  --bind-address=0.0.0.0 --secure-port="$APISERVER_PORT" --advertise-address="$NODE_IP" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,NodeRestriction,PodSecurity,ResourceQuota,StorageObjectInUseProtection,PersistentVolumeClaimResize,Priority,RuntimeClass,TaintNodesByCondition,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy \
  --allow-privileged=true \
  --profiling=false \
  --cert-dir="$STATE/apiserver-certs"
wait_for "kube-apiserver /readyz" 120 curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz"

# ---------------------------------------------------------------------------------------------------------------
part "controller-manager, scheduler"
RESTART_ON="$STATE/controller-manager.kubeconfig $PKI/sa.key" start_daemon kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --use-service-account-credentials=true \
  --controllers='*,bootstrapsigner,tokencleaner' \
  --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false \
  --profiling=false
RESTART_ON="$STATE/scheduler.kubeconfig" start_daemon kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false

# ---------------------------------------------------------------------------------------------------------------
CLUSTER_DNS_LINE=
if [[ -n $COREDNS_BIN ]]; then
  part "coredns"
  kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: gitspace:coredns
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gitspace:coredns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: gitspace:coredns
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: gitspace-coredns
EOF
  mkdir -p "$STATE/coredns"
  write_file "$STATE/coredns/Corefile" <<EOF
# written by tools/cluster/up.sh: cluster DNS on the pod bridge's host address, upstream = the host's resolver
.:53 {
    bind $CLUSTER_DNS_IP
    errors
    health 127.0.0.1:10253
    ready 127.0.0.1:10254
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $STATE/coredns.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    forward . /etc/resolv.conf
    cache 30
    loadbalance
}
EOF
  RESTART_ON="$STATE/coredns/Corefile $STATE/coredns.kubeconfig" start_daemon coredns "$COREDNS_BIN" \
    -conf "$STATE/coredns/Corefile"
  wait_for "CoreDNS ready" 60 curl -fsS http://127.0.0.1:10254/ready
  CLUSTER_DNS_LINE="clusterDNS: [\"$CLUSTER_DNS_IP\"]"
fi

# ---------------------------------------------------------------------------------------------------------------
part "kubelet"
mkdir -p "$KUBELET_ROOT"
write_file "$STATE/kubelet-config.yaml" <<EOF
# written by tools/cluster/up.sh
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
rotateCertificates: false
serverTLSBootstrap: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
clusterDomain: cluster.local
$CLUSTER_DNS_LINE
resolvConf: /etc/resolv.conf
hairpinMode: hairpin-veth
maxPods: 110
serializeImagePulls: false
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard:
  memory.available: 100Mi
  nodefs.available: 3%
  nodefs.inodesFree: 3%
  imagefs.available: 3%
protectKernelDefaults: false
EOF
RESTART_ON="$STATE/kubelet-config.yaml $STATE/kubelet.kubeconfig $PKI/kubelet.crt" start_daemon kubelet "$K8S_BIN/kubelet" \
  --config="$STATE/kubelet-config.yaml" \
  --kubeconfig="$STATE/kubelet.kubeconfig" \
  --root-dir="$KUBELET_ROOT" \
  --cert-dir="$STATE/kubelet-certs" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
  --node-labels=node.kubernetes.io/gitspace-local=true \
  --pod-infra-container-image="$PAUSE_IMAGE"
wait_for "node $NODE_NAME registered" 120 kubectl_admin get node "$NODE_NAME"

# ---------------------------------------------------------------------------------------------------------------
part "kube-proxy"
write_file "$STATE/kube-proxy-config.yaml" <<EOF
# written by tools/cluster/up.sh
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
EOF
RESTART_ON="$STATE/kube-proxy-config.yaml $STATE/kube-proxy.kubeconfig" start_daemon kube-proxy "$K8S_BIN/kube-proxy" --config="$STATE/kube-proxy-config.yaml"

# ---------------------------------------------------------------------------------------------------------------
part "network policies: kube-network-policies"
# kube-network-policies (what kind runs), a host process with its own kubeconfig: for pods selected by a
# NetworkPolicy, the first packet of each connection goes to NFQUEUE $KNP_QUEUE (table inet kube-network-policies,
# postrouting hook) and the agent accepts or drops it by the policies. Fail closed: without the agent, such
# packets are dropped. Traffic from root-owned sockets of the host itself (kubelet probes) is not evaluated, which
# is why the router runs as a pod, not on the host. --judge-host-traffic (our patch): connections from pods to the
# node itself (the API server behind 10.96.0.1, CoreDNS on the bridge) are judged too, on the input hook.
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: gitspace:kube-network-policies
rules:
- apiGroups: [""]
  resources: [pods, namespaces]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gitspace:kube-network-policies
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitspace:kube-network-policies}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: gitspace:kube-network-policies}
EOF
# its DNS workaround (netfilter bug 1766) is for kernels before 6.12
kernel=$(uname -r)
kminor=${kernel#*.}
if ((${kernel%%.*} * 100 + ${kminor%%.*} >= 612)); then knp_dns_fix=false; else knp_dns_fix=true; fi
RESTART_ON="$STATE/network-policies.kubeconfig" start_daemon kube-network-policies \
  "$KNP_DIR/bin/kube-network-policies" --kubeconfig="$STATE/network-policies.kubeconfig" \
  --hostname-override="$NODE_NAME" --nfqueue-id="$KNP_QUEUE" --disable-nri --judge-host-traffic \
  --netfilter-bug-1766-fix="$knp_dns_fix" \
  --metrics-bind-address=127.0.0.1:9080
wait_for "kube-network-policies' nftables table" 60 nft list table inet "$KNP_TABLE"

# ---------------------------------------------------------------------------------------------------------------
part "storage: local-path-provisioner"
# rancher's local-path-provisioner (what kind and k3s run) as a host process with its own kubeconfig; volumes are
# directories under $VOLUMES made and removed by its helper pod (the Debian base image) in namespace
# $PROVISIONER_NS, which may use hostPath (Pod Security "privileged"; no other pod runs there). The StorageClass
# annotation defaultVolumeType=local makes them `local` PVs (not hostPath) so that the kubelet applies fsGroup.
mkdir -p "$VOLUMES"
write_file "$STATE/local-path-provisioner.yaml" <<EOF
# written by tools/cluster/up.sh
apiVersion: v1
kind: Namespace
metadata:
  name: $PROVISIONER_NS
  labels:
    app.kubernetes.io/managed-by: gitspace-cluster
    pod-security.kubernetes.io/enforce: privileged
    pod-security.kubernetes.io/warn: baseline
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: local-path-helper
  namespace: $PROVISIONER_NS
automountServiceAccountToken: false
---
# the provisioner (user gitspace:local-path-provisioner of its client certificate): upstream's rules
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: gitspace:local-path-provisioner
rules:
- apiGroups: [""]
  resources: [nodes, persistentvolumeclaims, configmaps, pods, pods/log]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gitspace:local-path-provisioner
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitspace:local-path-provisioner}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: gitspace:local-path-provisioner}
---
# its helper pods, in its own namespace only
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: gitspace:local-path-provisioner
  namespace: $PROVISIONER_NS
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, patch, update, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: gitspace:local-path-provisioner
  namespace: $PROVISIONER_NS
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitspace:local-path-provisioner}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: gitspace:local-path-provisioner}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-path-config
  namespace: $PROVISIONER_NS
data:
  config.json: |-
    {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["$VOLUMES"]}]}
  # the volume root is 0755 root:root; the kubelet gives it the pod's fsGroup (2775 root:GID), no 0777 anywhere
  setup: |-
    #!/bin/sh
    set -eu
    mkdir -m 0755 -p "\$VOL_DIR"
  teardown: |-
    #!/bin/sh
    set -eu
    rm -rf "\$VOL_DIR"
  helperPod.yaml: |-
    apiVersion: v1
    kind: Pod
    metadata:
      name: helper-pod
    spec:
      priorityClassName: system-node-critical
      tolerations:
      - {key: node.kubernetes.io/disk-pressure, operator: Exists, effect: NoSchedule}
      containers:
      - name: helper-pod
        image: $BASE_IMAGE
        imagePullPolicy: IfNotPresent
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
    defaultVolumeType: local
  labels:
    app.kubernetes.io/managed-by: gitspace-cluster
provisioner: $PROVISIONER_NAME
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: false
---
# same volumes, kept (directory and Released PV) when the claim is deleted
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS-retain
  annotations:
    defaultVolumeType: local
  labels:
    app.kubernetes.io/managed-by: gitspace-cluster
provisioner: $PROVISIONER_NAME
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: false
EOF
# a StorageClass's provisioner cannot change: replace the classes of the former home-made provisioner
for sc in "$STORAGE_CLASS" "$STORAGE_CLASS-retain"; do
  p=$(kubectl_admin get storageclass "$sc" -o jsonpath='{.provisioner}' 2>/dev/null || true)
  if [[ -n $p && $p != "$PROVISIONER_NAME" ]]; then
    kubectl_admin delete storageclass "$sc" >/dev/null
    gs_log "StorageClass $sc of provisioner $p replaced"
  fi
done
kubectl_admin apply -f "$STATE/local-path-provisioner.yaml" >/dev/null
stop_daemon provisioner # the former home-made provisioner, on a cluster started by an older up.sh
RESTART_ON="$STATE/local-path-provisioner.kubeconfig $STATE/local-path-provisioner.yaml" start_daemon local-path-provisioner \
  "$LPP_DIR/bin/local-path-provisioner" start --kubeconfig="$STATE/local-path-provisioner.kubeconfig" \
  --provisioner-name="$PROVISIONER_NAME" --namespace="$PROVISIONER_NS" --configmap-name=local-path-config \
  --service-account-name=local-path-helper --helper-image="$BASE_IMAGE"

# ---------------------------------------------------------------------------------------------------------------
part "node ready"
# the kubelet answers through the apiserver (the path of kubectl logs/exec), and the node is Ready (after a down/up
# the old Ready condition can be stale for ~40 s, hence the kubelet check first)
wait_for "kubelet healthz through the apiserver" 120 kubectl_admin get --raw "/api/v1/nodes/$NODE_NAME/proxy/healthz"
wait_for "node $NODE_NAME Ready" 180 kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s
wait_for "default service account" 60 kubectl_admin -n default get serviceaccount default

# ---------------------------------------------------------------------------------------------------------------
part "router: Traefik"
# Traefik (Gateway API and Ingress providers) runs as a pod in $ROUTER_NS, not on the host: NetworkPolicies must
# see its pod IP and namespace (a host process reaches pods from the node's address, which no namespaceSelector
# matches, and as root it is not even evaluated). Its image is the Debian base layer plus the static binary.
# Entry points web :8000 and websecure :8443 are published on host ports $ROUTER_HTTP_PORT and $ROUTER_HTTPS_PORT
# (hostPort, so Pod Security "privileged" in $ROUTER_NS; the pod itself is non-root, read-only, no capabilities).
arch=$(dpkg --print-architecture)
TRAEFIK_VERSION=$("$TRAEFIK_DIR/bin/traefik" version | awk '$1 == "Version:" { print $2 }')
TRAEFIK_LAYER_DIR=$TOOLS_DIR/gitspace-traefik-layer-$(basename "$TRAEFIK_DIR")
if [[ ! -f $TRAEFIK_LAYER_DIR/.done ]]; then
  rm -rf "$TRAEFIK_LAYER_DIR"
  mkdir -p "$TRAEFIK_LAYER_DIR/root/usr/local/bin"
  cp "$TRAEFIK_DIR/bin/traefik" "$TRAEFIK_LAYER_DIR/root/usr/local/bin/"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -C "$TRAEFIK_LAYER_DIR/root" -cf - usr |
    "${NICE[@]}" gzip -6n >"$TRAEFIK_LAYER_DIR/layer.tar.gz"
  rm -rf "$TRAEFIK_LAYER_DIR/root"
  date -u +%FT%TZ >"$TRAEFIK_LAYER_DIR/.done"
fi
traefik_digest=$(bash "$CLUSTER_SRC/oci-push.sh" "$ROUTER_IMAGE:$TRAEFIK_VERSION" \
  --layer "linux/$arch=$TOOLS_DIR/debian-rootfs-$BASE_SUITE-$arch/layer.tar.gz" \
  --layer "linux/$arch=$TRAEFIK_LAYER_DIR/layer.tar.gz" \
  --config '{"Entrypoint":["/usr/local/bin/traefik"],"User":"65532:65532","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}')
# Gateway API CRDs (standard channel) of the version Traefik is built against; server-side: they are large
kubectl_admin apply --server-side --force-conflicts -f "$GATEWAY_CRDS_DIR/crd/" >/dev/null
mapfile -t gateway_crds < <(grep -l '^kind: CustomResourceDefinition' "$GATEWAY_CRDS_DIR"/crd/*.yaml)
for f in "${gateway_crds[@]}"; do
  kubectl_admin wait --for=condition=Established --timeout=60s -f "$f" >/dev/null
done
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ROUTER_NS
  labels:
    app.kubernetes.io/managed-by: gitspace-cluster
    pod-security.kubernetes.io/enforce: privileged
EOF
kubectl_admin -n "$ROUTER_NS" create secret tls "$ROUTER_TLS_SECRET" --cert="$PKI/router-wildcard.crt" \
  --key="$PKI/router-wildcard.key" --dry-run=client -o yaml | kubectl_admin apply -f - >/dev/null
write_file "$STATE/traefik.yaml" <<EOF
# written by tools/cluster/up.sh
apiVersion: v1
kind: ServiceAccount
metadata:
  name: traefik
  namespace: $ROUTER_NS
---
# upstream's rules for the kubernetesGateway and kubernetesIngress providers (the Ingress provider watches nodes too)
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: gitspace:traefik
rules:
- apiGroups: [""]
  resources: [namespaces, nodes]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [services, secrets, configmaps]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, ingressclasses]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses/status]
  verbs: [update]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses, gateways, httproutes, grpcroutes, tcproutes, tlsroutes, referencegrants, backendtlspolicies]
  verbs: [get, list, watch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses/status, gateways/status, httproutes/status, grpcroutes/status, tcproutes/status, tlsroutes/status, referencegrants/status, backendtlspolicies/status]
  verbs: [update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gitspace:traefik
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitspace:traefik}
subjects:
- {kind: ServiceAccount, name: traefik, namespace: $ROUTER_NS}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: traefik
spec:
  controller: traefik.io/ingress-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: traefik
spec:
  controllerName: traefik.io/gateway-controller
---
# the dev domain's Gateway: HTTPS (wildcard certificate of the local TLS CA) and HTTP, routes from every namespace
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: $ROUTER_GATEWAY
  namespace: $ROUTER_NS
spec:
  gatewayClassName: traefik
  listeners:
  - name: https
    protocol: HTTPS
    port: 8443
    hostname: "*.$CLUSTER_DOMAIN"
    tls:
      mode: Terminate
      certificateRefs: [{kind: Secret, name: $ROUTER_TLS_SECRET}]
    allowedRoutes: {namespaces: {from: All}}
  - name: http
    protocol: HTTP
    port: 8000
    hostname: "*.$CLUSTER_DOMAIN"
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: traefik
  namespace: $ROUTER_NS
  labels: {app.kubernetes.io/name: traefik}
spec:
  replicas: 1
  strategy: {type: Recreate} # host ports: the old pod must go first
  selector:
    matchLabels: {app.kubernetes.io/name: traefik}
  template:
    metadata:
      labels: {app.kubernetes.io/name: traefik}
    spec:
      serviceAccountName: traefik
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: traefik
        image: $ROUTER_IMAGE:$TRAEFIK_VERSION@$traefik_digest
        args:
        - --global.checkNewVersion=false
        - --global.sendAnonymousUsage=false
        - --log.level=INFO
        - --log.noColor=true
        - --entryPoints.web.address=:8000
        - --entryPoints.websecure.address=:8443
        - --entryPoints.traefik.address=:9000
        - --ping=true
        - --ping.entryPoint=traefik
        - --providers.kubernetesGateway=true
        - --providers.kubernetesGateway.statusAddress.ip=$NODE_IP
        - --providers.kubernetesIngress=true
        - --providers.kubernetesIngress.ingressClass=traefik
        - --entryPoints.websecure.http.tls=true
        - --providers.file.filename=/etc/traefik/dynamic/tls.yaml
        ports:
        - {name: web, containerPort: 8000, hostPort: $ROUTER_HTTP_PORT}
        - {name: websecure, containerPort: 8443, hostPort: $ROUTER_HTTPS_PORT}
        - {name: traefik, containerPort: 9000}
        readinessProbe:
          httpGet: {path: /ping, port: 9000}
          periodSeconds: 2
        livenessProbe:
          httpGet: {path: /ping, port: 9000}
          periodSeconds: 10
        resources:
          requests: {cpu: 50m, memory: 64Mi}
          limits: {memory: 512Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts:
        - {name: dynamic, mountPath: /etc/traefik/dynamic, readOnly: true}
        - {name: wildcard, mountPath: /etc/traefik/certs, readOnly: true}
      volumes:
      - name: dynamic
        configMap: {name: traefik-dynamic}
      - name: wildcard
        secret: {secretName: $ROUTER_TLS_SECRET}
---
# the wildcard certificate is also the default one (Ingresses with TLS but no secret of their own, unknown names)
apiVersion: v1
kind: ConfigMap
metadata:
  name: traefik-dynamic
  namespace: $ROUTER_NS
data:
  tls.yaml: |
    tls:
      stores:
        default:
          defaultCertificate:
            certFile: /etc/traefik/certs/tls.crt
            keyFile: /etc/traefik/certs/tls.key
EOF
kubectl_admin apply -f "$STATE/traefik.yaml" >/dev/null
kubectl_admin -n "$ROUTER_NS" rollout status deployment/traefik --timeout=180s >/dev/null ||
  gs_die "Traefik did not become ready (kubectl -n $ROUTER_NS logs deploy/traefik)"
wait_for "Gateway $ROUTER_NS/$ROUTER_GATEWAY programmed" 60 kubectl_admin -n "$ROUTER_NS" wait \
  --for=condition=Programmed "gateway/$ROUTER_GATEWAY" --timeout=5s
# the router answers over TLS with the wildcard certificate (404: no route for this name)
probe_host=router-probe.$CLUSTER_DOMAIN
wait_for "router on https://$probe_host:$ROUTER_HTTPS_PORT" 60 bash -c \
  "[[ \$(curl -sS -o /dev/null -w '%{http_code}' --cacert '$LOCAL_CA' --resolve '$probe_host:$ROUTER_HTTPS_PORT:127.0.0.1' 'https://$probe_host:$ROUTER_HTTPS_PORT/') == 404 ]]"

# ---------------------------------------------------------------------------------------------------------------
if [[ ${GITSPACE_CLUSTER_SMOKE:-1} != 0 ]]; then
  part "smoke test"
  bash "$CLUSTER_SRC/smoke.sh"
  part "network smoke test"
  bash "$CLUSTER_SRC/smoke-net.sh"
fi

print_timings
gs_log "cluster up in $(_secs "$T_START" "$(_now)")s (Kubernetes $K8S_VERSION, node $NODE_NAME)"
gs_log "registry: https://$REGISTRY_ADDR (CA: $LOCAL_CA, also in the system trust store)  base image: $BASE_IMAGE  storage class: $STORAGE_CLASS (default)"
gs_log "BuildKit: buildkitd --config $STATE/buildkitd.toml trusts the registry"
gs_log "router: Traefik, Gateway $ROUTER_NS/$ROUTER_GATEWAY (GatewayClass traefik), IngressClass traefik; https on port $ROUTER_HTTPS_PORT, http on $ROUTER_HTTP_PORT"
gs_log "  try: curl --cacert $LOCAL_CA --resolve NAME.$CLUSTER_DOMAIN:$ROUTER_HTTPS_PORT:127.0.0.1 https://NAME.$CLUSTER_DOMAIN:$ROUTER_HTTPS_PORT/"
gs_log "kubectl: $K8S_BIN/kubectl (or: source $TOOLS_DIR/env.sh)"
echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
