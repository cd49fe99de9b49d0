#!/usr/bin/env bash
# Builds the end-to-end toolchain of the gitspace stack from the Go module proxy and Debian packages
# (nothing from GitHub, get.pulumi.com or a container registry), into a cache keyed by version:
#   ${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/<name>-<version>/
# A tool whose cache directory is complete (has .done) is reused; a tool already on PATH at the right version
# is used as it is. Idempotent: a second run only checks and prints.
#
# Usage: bash tools/toolchain.sh [all|pulumi|providers|buildkit|kubernetes|cluster]...   (default: all)
# Then:  source "${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/env.sh"
#
# Versions: the Pulumi CLI and the providers follow the npm SDKs in package-lock.json; the others are pinned
# below (one place each).
# shellcheck disable=SC2317  # the build_* functions are called indirectly, through step()
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TOOLS_DIR=${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}
mkdir -p "$TOOLS_DIR"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd)

# shellcheck source=SCRIPTDIR/../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common/lib.sh"

# ---------------------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------------------
lock_version() { # npm package name -> version in package-lock.json
  node -e 'const l=require(process.argv[1]); const p=l.packages["node_modules/"+process.argv[2]];
           if(!p){process.exit(1)} console.log(p.version)' "$REPO/package-lock.json" "$1" \
    || gs_die "$1 not found in $REPO/package-lock.json"
}
PULUMI_VERSION=$(lock_version @pulumi/pulumi)
K8S_PROVIDER_VERSION=$(lock_version @pulumi/kubernetes)
RANDOM_PROVIDER_VERSION=$(lock_version @pulumi/random)
DOCKER_BUILD_PROVIDER_VERSION=$(lock_version @pulumi/docker-build)

# ---------------------------------------------------------------------------------------------------------------
# Go environment: module and build caches live in the tools cache, so one cached directory serves CI.
# ---------------------------------------------------------------------------------------------------------------
command -v go >/dev/null || gs_die "go is required (Go >= 1.25)"
export GOMODCACHE=${GITSPACE_GOMODCACHE:-$TOOLS_DIR/go/mod}
export GOCACHE=${GITSPACE_GOCACHE:-$TOOLS_DIR/go/build}
# The checksum database is not reachable for most of these versions from here; the module proxy is the trust root.
export GOSUMDB=${GOSUMDB:-off}
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
NICE=(nice -n "${GITSPACE_NICE:-19}")

# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------
TIMINGS=()
COLD_NOTICE_SHOWN=0
# cold_notice: before the first build of this run, say once what is coming (a newcomer's first run builds it all)
cold_notice() {
  [[ $COLD_NOTICE_SHOWN == 1 ]] && return 0
  COLD_NOTICE_SHOWN=1
  gs_log "building the toolchain from the Go module proxy: a full cold build takes about 35-45 min on 2 cores, once;"
  gs_log "it is cached in $TOOLS_DIR afterwards (a second run takes seconds). Each step prints its progress and time."
}
# step NAME VERSION FUNCTION: runs FUNCTION DIR unless DIR/.done exists; DIR=$TOOLS_DIR/NAME-VERSION
step() {
  local name=$1 version=$2 fn=$3 dir="$TOOLS_DIR/$1-$2" lockfd
  # one builder per tool at a time (several sessions or CI jobs may share the cache): wait for the lock
  exec {lockfd}>"$TOOLS_DIR/.lock-$name-$version"
  if ! flock -n "$lockfd"; then
    gs_log "$name $version: another run is building it, waiting ..."
    flock "$lockfd"
  fi
  if [[ -f "$dir/.done" ]]; then
    gs_log "$name $version: cached in $dir"
    exec {lockfd}>&-
    return 0
  fi
  cold_notice
  gs_log "$name $version: building into $dir ..."
  local t0=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  "$fn" "$dir"
  local took=$((SECONDS - t0))
  echo "$took" >"$dir/.build-seconds"
  date -u +%FT%TZ >"$dir/.done"
  exec {lockfd}>&-
  TIMINGS+=("$name $version: ${took}s")
  gs_log "$name $version: built in ${took}s"
}

# wrapper_module DIR MODPATH: a go.mod in DIR/src for a module that only requires the tool's module.
# Extra lines (require/replace) come on stdin.
wrapper_module() {
  local src=$1/src
  mkdir -p "$src"
  {
    echo "module gitspace.local/tools/$2"
    echo
    echo "go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
    echo
    cat
  } >"$src/go.mod"
}

gobuild() { # DIR OUT [go build flags...] PACKAGES...: go build in DIR/src
  local src=$1/src out=$2
  shift 2
  (cd "$src" && "${NICE[@]}" go build -trimpath -o "$out" "$@")
}

# ---------------------------------------------------------------------------------------------------------------
# 1. Pulumi CLI + nodejs language host
# ---------------------------------------------------------------------------------------------------------------
build_pulumi() {
  local dir=$1
  # pkg/go.mod replaces the SDK with ../sdk (local: becomes a require) and atotto/clipboard with a fork.
  wrapper_module "$dir" pulumi <<EOF
require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  (cd "$dir/src" && "${NICE[@]}" go mod download github.com/pulumi/pulumi/pkg/v3)
  gobuild "$dir" "$dir/bin/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# The upstream language host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not
# served by the module proxy at any version (403 for the tag and for the pseudo-version of the release commit),
# so we build our own small one (tools/langhost-nodejs) against the SDK of the same version.
build_langhost() {
  local dir=$1
  echo "require github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION" | wrapper_module "$dir" pulumi-language-nodejs
  cp "$HERE/langhost-nodejs/main.go" "$dir/src/"
  (cd "$dir/src" && "${NICE[@]}" go mod tidy)
  gobuild "$dir" "$dir/bin/pulumi-language-nodejs" -ldflags "-s -w -X main.version=$PULUMI_VERSION" .
  # Dynamic providers (pulumi.dynamic.Resource) run through this plugin: node with the SDK's dynamic-provider.
  cat >"$dir/bin/pulumi-resource-pulumi-nodejs" <<'SH'
#!/bin/sh
script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
exec node "$script" "$@"
SH
  chmod +x "$dir/bin/pulumi-resource-pulumi-nodejs"
}

# ---------------------------------------------------------------------------------------------------------------
# 2. Resource providers, at the versions of the npm SDKs
# ---------------------------------------------------------------------------------------------------------------
# pulumi-kubernetes: the provider module (provider/v4) has no tags; the module proxy reachable here serves only
# versions somebody fetched before, and it refuses (403) the pseudo-version of the v4.34.2 release commit as well
# as the sdk/v4 v4.34.2 tag. The newest provider/v4 version we found served is this one (2026-01-15); it is built
# and stamped as the SDK's version. Override with GITSPACE_K8S_PROVIDER_MODVERSION once the release commit is served.
K8S_PROVIDER_MODVERSION=${GITSPACE_K8S_PROVIDER_MODVERSION:-v4.0.0-20260115033456-f47bc2d6f199}

build_kubernetes_provider() {
  local dir=$1 mod=github.com/pulumi/pulumi-kubernetes/provider/v4 src
  # provider/go.mod replaces sdk/v4 with ../sdk (local): the wrapper takes the sdk/v4 version it requires.
  echo "require $mod $K8S_PROVIDER_MODVERSION" | wrapper_module "$dir" pulumi-resource-kubernetes
  (cd "$dir/src" && go mod download "$mod")
  src=$(cd "$dir/src" && go list -m -f '{{.Dir}}' "$mod")
  # main.go embeds schema-embed.json and terraform-mapping-embed.json, generated (not committed) from the
  # committed schema.json (with its version set) and terraform-mapping.json, as its go:generate does.
  cp "$src/cmd/pulumi-resource-kubernetes/main.go" "$dir/src/"
  node -e '
    const fs = require("fs"); const [from, to, version] = process.argv.slice(1);
    const s = JSON.parse(fs.readFileSync(from + "/schema.json")); s.version = version;
    fs.writeFileSync(to + "/schema-embed.json", JSON.stringify(s));
    fs.writeFileSync(to + "/terraform-mapping-embed.json",
      JSON.stringify(JSON.parse(fs.readFileSync(from + "/terraform-mapping.json"))));
  ' "$src/cmd/pulumi-resource-kubernetes" "$dir/src" "$K8S_PROVIDER_VERSION"
  gobuild "$dir" "$dir/bin/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $mod/pkg/version.Version=$K8S_PROVIDER_VERSION" .
}

build_docker_build_provider() {
  local dir=$1 mod=github.com/pulumi/pulumi-docker-build
  local dotnet=github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3 java=github.com/pulumi/pulumi-java
  # No replace directives, but `go install mod@version` also asks the proxy for the module's version list
  # (deprecation check), which this proxy refuses (403): build it from a wrapper module instead.
  # The provider imports the C# and Java SDK generators only for two struct types of its schema's language
  # section; neither module is served here. Local stand-ins with those types (same JSON fields) replace them:
  # only the C#/Java hints in the provider's GetSchema answer depend on them.
  wrapper_module "$dir" pulumi-resource-docker-build <<EOF
require $mod v$DOCKER_BUILD_PROVIDER_VERSION

replace (
	$dotnet => ./stubs/dotnet
	$java => ./stubs/java
)
EOF
  mkdir -p "$dir/src/stubs/dotnet/codegen" "$dir/src/stubs/java/pkg/codegen/java"
  printf 'module %s\n\ngo 1.21\n' "$dotnet" >"$dir/src/stubs/dotnet/go.mod"
  printf 'module %s\n\ngo 1.21\n' "$java" >"$dir/src/stubs/java/go.mod"
  cat >"$dir/src/stubs/dotnet/codegen/codegen.go" <<'EOF'
// Package codegen stands in for the C# generator's package info type (gitspace toolchain).
package codegen

type CSharpPackageInfo struct {
	RespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`
	PackageReferences    map[string]string `json:"packageReferences,omitempty"`
}
EOF
  cat >"$dir/src/stubs/java/pkg/codegen/java/java.go" <<'EOF'
// Package java stands in for the Java generator's package info type (gitspace toolchain).
package java

type PackageInfo struct {
	BuildFiles                      string            `json:"buildFiles,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion,omitempty"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
}
EOF
  (cd "$dir/src" && go mod download "$mod")
  gobuild "$dir" "$dir/bin/pulumi-resource-docker-build" \
    -ldflags "-s -w -X $mod/provider.Version=$DOCKER_BUILD_PROVIDER_VERSION" "$mod/provider/cmd/pulumi-resource-docker-build"
}

# ---------------------------------------------------------------------------------------------------------------
# 3. BuildKit (buildkitd, buildctl) and buildx, at the versions pulumi-docker-build is built against
# ---------------------------------------------------------------------------------------------------------------
BUILDKIT_VERSION=${GITSPACE_BUILDKIT_VERSION:-v0.31.0}
BUILDX_VERSION=${GITSPACE_BUILDX_VERSION:-v0.35.0}

# gomod_file MODULE@VERSION: path of the downloaded go.mod
gomod_file() { (cd "$TOOLS_DIR" && go mod download -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p'); }

build_buildkit() {
  local dir=$1 mod=github.com/moby/buildkit
  # buildkit's go.mod has an exclude block (go install refuses it): copy it into the wrapper.
  {
    echo "require $mod $BUILDKIT_VERSION"
    awk '/^exclude \(/,/^\)/' "$(gomod_file "$mod@$BUILDKIT_VERSION")"
  } | wrapper_module "$dir" buildkit
  # the docker-build provider parses buildkitd's version (>= 0.13 enables multiple exports): stamp it
  local ld="-s -w -X $mod/version.Version=$BUILDKIT_VERSION -X $mod/version.Package=$mod"
  ld+=" -X $mod/version.Revision=$BUILDKIT_VERSION"
  (cd "$dir/src" && go mod download "$mod")
  gobuild "$dir" "$dir/bin/" -tags "osusergo netgo static_build" -ldflags "$ld" "$mod/cmd/buildkitd"
  gobuild "$dir" "$dir/bin/" -ldflags "$ld" "$mod/cmd/buildctl"
}

build_buildx() {
  local dir=$1 mod=github.com/docker/buildx
  echo "require $mod $BUILDX_VERSION" | wrapper_module "$dir" buildx
  (cd "$dir/src" && go mod download "$mod")
  gobuild "$dir" "$dir/bin/buildx" \
    -ldflags "-s -w -X $mod/version.Version=$BUILDX_VERSION -X $mod/version.Revision=$BUILDX_VERSION -X $mod/version.Package=$mod" \
    "$mod/cmd/buildx"
  # also usable as `docker buildx`: link it as a CLI plugin (~/.docker/cli-plugins/docker-buildx -> this)
  mkdir -p "$dir/cli-plugins"
  ln -sf ../bin/buildx "$dir/cli-plugins/docker-buildx"
}

# ---------------------------------------------------------------------------------------------------------------
# 4. Kubernetes server binaries and kubectl (a release that still runs on cgroup v1)
# ---------------------------------------------------------------------------------------------------------------
K8S_VERSION=${GITSPACE_K8S_VERSION:-v1.33.13}
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

build_kubernetes() {
  local dir=$1 mod=k8s.io/kubernetes gomod staging=v0.${K8S_VERSION#v1.} pkgs=() b
  gomod=$(gomod_file "$mod@$K8S_VERSION")
  # k8s.io/kubernetes replaces every staging module with ./staging/src/k8s.io/X: use the published v0.x.y twin.
  {
    echo "require $mod $K8S_VERSION"
    echo
    grep -E '^godebug ' "$gomod" || true
    echo "replace ("
    sed -nE 's#^\t(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+$#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } | wrapper_module "$dir" kubernetes
  (cd "$dir/src" && go mod download "$mod")
  for b in "${K8S_BINARIES[@]}"; do pkgs+=("$mod/cmd/$b"); done
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.gitCommit=$K8S_VERSION -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  # one go build for all binaries: the shared packages are compiled once
  gobuild "$dir" "$dir/bin/" -ldflags "$ld" "${pkgs[@]}"
}

# ---------------------------------------------------------------------------------------------------------------
# 5. Parts of the local cluster (tools/cluster) that upstream serves: volume provisioner, NetworkPolicy agent,
#    router, Gateway API CRDs
# ---------------------------------------------------------------------------------------------------------------
LOCAL_PATH_PROVISIONER_VERSION=${GITSPACE_LOCAL_PATH_PROVISIONER_VERSION:-v0.0.30}
KUBE_NETWORK_POLICIES_VERSION=${GITSPACE_KUBE_NETWORK_POLICIES_VERSION:-v0.8.0}
TRAEFIK_VERSION=${GITSPACE_TRAEFIK_VERSION:-v3.7.13}
# the Gateway API release Traefik is built against (its go.mod): the CRDs come from the same module version
GATEWAY_API_VERSION=${GITSPACE_GATEWAY_API_VERSION:-v1.6.1}

build_local_path_provisioner() {
  local dir=$1 mod=github.com/rancher/local-path-provisioner
  echo "require $mod $LOCAL_PATH_PROVISIONER_VERSION" | wrapper_module "$dir" local-path-provisioner
  (cd "$dir/src" && go mod download "$mod")
  gobuild "$dir" "$dir/bin/local-path-provisioner" \
    -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" "$mod"
}

# kube-network-policies (what kind runs) with tools/cluster/patches/kube-network-policies-<version>.patch:
# --kubeconfig (upstream's main only has the in-cluster configuration; the agent runs on the host here), its
# --disable-nri flag passed on (declared but unused upstream), and the xtables NFQUEUE target through nft_compat
# where the kernel lacks nft's native "queue" expression (CONFIG_NFT_QUEUE; the native one is used when present).
KNP_PATCH=$HERE/cluster/patches/kube-network-policies-$KUBE_NETWORK_POLICIES_VERSION.patch
build_kube_network_policies() {
  local dir=$1 mod=sigs.k8s.io/kube-network-policies src
  src=$(cd "$TOOLS_DIR" && go mod download -json "$mod@$KUBE_NETWORK_POLICIES_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -n $src ]] || gs_die "$mod@$KUBE_NETWORK_POLICIES_VERSION not downloaded"
  printf 'require %s %s\n\nreplace %s => ./upstream\n' "$mod" "$KUBE_NETWORK_POLICIES_VERSION" "$mod" |
    wrapper_module "$dir" kube-network-policies
  cp -r "$src" "$dir/src/upstream"
  chmod -R u+w "$dir/src/upstream"
  patch -s -p1 -d "$dir/src/upstream" <"$KNP_PATCH"
  gobuild "$dir" "$dir/bin/kube-network-policies" -ldflags "-s -w" "$mod/cmd"
}

# Traefik's go.mod requires modules the proxy does not serve (403): its fork of go-http-auth at the pinned
# pseudo-version (the fork's previous commit, with the same API, is served), and thirteen SDKs that lego's DNS
# challenge providers import. lego is copied into the wrapper and tools/cluster/patches/lego-*.patch drops those
# thirteen providers from its provider factory (ACME DNS challenges with alidns, aliesa, azion, dnsimple, edgedns,
# edgeone, huaweicloud, oraclecloud, regfish, sakuracloud, tencentcloud, ucloud, yandexcloud are not built in).
TRAEFIK_GO_HTTP_AUTH="github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e"
LEGO_VERSION=v5.4.1
LEGO_PATCH=$HERE/cluster/patches/lego-$LEGO_VERSION-unserved-dns-providers.patch
build_traefik() {
  local dir=$1 mod=github.com/traefik/traefik/v3 ext=github.com/traefik/traefik/dynamic/ext
  local lego=github.com/go-acme/lego/v5 gomod lego_src
  gomod=$(gomod_file "$mod@$TRAEFIK_VERSION")
  grep -qE "^\s+$lego $LEGO_VERSION\$" "$gomod" || gs_die "traefik $TRAEFIK_VERSION does not require $lego $LEGO_VERSION"
  lego_src=$(cd "$TOOLS_DIR" && go mod download -json "$lego@$LEGO_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  # traefik's go.mod: forks (replace), an exclude, and the "dynamic config extension" module, a directory of the
  # repository with its own go.mod that is not in the module zip: a stand-in with its two (empty, in the open
  # source build) embedded types.
  {
    echo "require $mod $TRAEFIK_VERSION"
    echo
    awk '/^replace \(/,/^\)/' "$gomod" | grep -v 'abbot/go-http-auth =>'
    grep -E '^exclude ' "$gomod"
    echo "replace github.com/abbot/go-http-auth => $TRAEFIK_GO_HTTP_AUTH"
    echo "replace $ext => ./stubs/ext"
    echo "replace $lego => ./lego"
  } | wrapper_module "$dir" traefik
  mkdir -p "$dir/src/stubs/ext"
  printf 'module %s\n\ngo 1.24\n' "$ext" >"$dir/src/stubs/ext/go.mod"
  cat >"$dir/src/stubs/ext/ext.go" <<'EOF'
// Package ext stands in for Traefik's dynamic configuration extension point (gitspace toolchain).
package ext

// HTTP is inlined into the HTTP configuration; empty in the open source build.
type HTTP struct{}

// Router is inlined into a router's configuration; empty in the open source build.
type Router struct{}
EOF
  cp -r "$lego_src" "$dir/src/lego"
  chmod -R u+w "$dir/src/lego"
  patch -s -p1 -d "$dir/src/lego" <"$LEGO_PATCH"
  (cd "$dir/src" && go mod download "$mod")
  gobuild "$dir" "$dir/bin/traefik" -ldflags "-s -w -X $mod/pkg/version.Version=$TRAEFIK_VERSION \
    -X $mod/pkg/version.Codename=gitspace -X $mod/pkg/version.BuildDate=1970-01-01T00:00:00Z" "$mod/cmd/traefik"
}

# The Gateway API CRDs (standard channel) of the module version Traefik is built against, from the module zip
fetch_gateway_api_crds() {
  local dir=$1 mod=sigs.k8s.io/gateway-api src
  src=$(cd "$TOOLS_DIR" && go mod download -json "$mod@$GATEWAY_API_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $src/config/crd/standard ]] || gs_die "no config/crd/standard in $mod@$GATEWAY_API_VERSION"
  mkdir -p "$dir/crd"
  cp "$src"/config/crd/standard/*.yaml "$dir/crd/"
  chmod -R u+w "$dir/crd"
}

# pulumi-random: neither provider/v4 (tags, or the pseudo-version of the v4.21.2 release commit) nor the
# terraform bridge it is built on is served here, so a small native provider of our own (tools/provider-random)
# stands in, at the SDK's version: RandomPassword and RandomString, same tokens, inputs and outputs.
build_random_provider() {
  local dir=$1
  echo "require github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION" | wrapper_module "$dir" pulumi-resource-random
  cp "$HERE/provider-random/main.go" "$dir/src/"
  (cd "$dir/src" && "${NICE[@]}" go mod tidy)
  gobuild "$dir" "$dir/bin/pulumi-resource-random" -ldflags "-s -w -X main.version=$RANDOM_PROVIDER_VERSION" .
}

# install_plugin NAME VERSION BIN: pulumi plugin install, unless the same binary is installed already
install_plugin() {
  local name=$1 version=$2 bin=$3 pdir="$PULUMI_HOME/plugins/resource-$1-v$2"
  if cmp -s "$bin" "$pdir/pulumi-resource-$name"; then
    gs_log "plugin $name $version: installed in $pdir"
    return 0
  fi
  pulumi plugin install resource "$name" "$version" --file "$bin" --reinstall >&2
  gs_log "plugin $name $version: installed from $bin"
}

# ---------------------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------------------
want() { # is the group $1 requested?
  local g
  for g in "${GROUPS_WANTED[@]}"; do [[ $g == all || $g == "$1" ]] && return 0; done
  return 1
}

# on_path NAME WANT CMD...: true if NAME is on PATH (outside the tools cache) and CMD's output contains WANT
on_path() {
  local name=$1 want=$2 bin
  shift 2
  bin=$(command -v "$name" 2>/dev/null) || return 1
  [[ $bin == "$TOOLS_DIR"/* ]] && return 1
  if timeout 5 "$@" 2>/dev/null | grep -qF -- "$want"; then
    gs_log "$name: using $bin (version $want)"
    return 0
  fi
  return 1
}

# apt_install CMD PACKAGE: install a Debian package when CMD is missing (root only; otherwise say what to run)
APT_UPDATED=
apt_install() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    gs_log "WARNING: $cmd not found: install the Debian package $pkg"
    return 0
  fi
  gs_log "installing Debian package $pkg ..."
  local t0=$SECONDS
  if [[ -z $APT_UPDATED ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2
  TIMINGS+=("$pkg (apt): $((SECONDS - t0))s")
}

write_env() {
  local envfile="$TOOLS_DIR/env.sh" d path=""
  for d in "${PATH_DIRS[@]+"${PATH_DIRS[@]}"}"; do path+="$d:"; done
  {
    echo "# written by tools/toolchain.sh; source it"
    echo "export GITSPACE_TOOLS_DIR=\"$TOOLS_DIR\""
    echo "export PATH=\"$path\$PATH\""
    echo "export PULUMI_HOME=\"$PULUMI_HOME\""
    echo "export PULUMI_SKIP_UPDATE_CHECK=true"
    echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
    local k
    for k in "${!EXTRA_ENV[@]}"; do echo "export $k=\"${EXTRA_ENV[$k]}\""; done
  } >"$envfile.$$"
  mv -f "$envfile.$$" "$envfile" # atomic: other shells may be sourcing it
  gs_log "environment written to $envfile:"
  sed 's/^/    /' "$envfile" >&2
  gs_log "use it with:  source $envfile"
}

# use DIR: put DIR/bin on the PATH of env.sh if that tool is built (whatever groups this run was asked for)
use() { [[ -f "$TOOLS_DIR/$1/.done" ]] && PATH_DIRS+=("$TOOLS_DIR/$1/bin"); return 0; }

main() {
  GROUPS_WANTED=("$@")
  [[ ${#GROUPS_WANTED[@]} -gt 0 ]] || GROUPS_WANTED=(all)
  local t_start=$SECONDS t p
  PATH_DIRS=()
  declare -gA EXTRA_ENV=()
  # plugins (providers) are installed into this PULUMI_HOME, cached with the tools
  export PULUMI_HOME=${GITSPACE_PULUMI_HOME:-$TOOLS_DIR/pulumi-home}
  export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  # keyed by version and by our own source, so an edit of main.go rebuilds it
  local langhost_key rkey kkey="$K8S_PROVIDER_VERSION-${K8S_PROVIDER_MODVERSION##*-}"
  langhost_key="$PULUMI_VERSION-$(sha256sum "$HERE/langhost-nodejs/main.go" | cut -c1-8)"
  rkey="$RANDOM_PROVIDER_VERSION-$(sha256sum "$HERE/provider-random/main.go" | cut -c1-8)"

  # 1. Pulumi CLI + language host (the providers group needs them too, to install plugins)
  if ! on_path pulumi "v$PULUMI_VERSION" pulumi version; then
    if want pulumi || want providers; then step pulumi "$PULUMI_VERSION" build_pulumi; fi
    use "pulumi-$PULUMI_VERSION"
  fi
  if ! on_path pulumi-language-nodejs "$PULUMI_VERSION" pulumi-language-nodejs -version; then
    if want pulumi || want providers; then
      step pulumi-language-nodejs "$langhost_key" build_langhost
      # next to our pulumi binary too: the CLI warns about a language host found elsewhere on PATH
      if [[ -d "$TOOLS_DIR/pulumi-$PULUMI_VERSION/bin" ]]; then
        ln -sf "$TOOLS_DIR/pulumi-language-nodejs-$langhost_key/bin/"* "$TOOLS_DIR/pulumi-$PULUMI_VERSION/bin/"
      fi
    fi
    use "pulumi-language-nodejs-$langhost_key"
  fi
  for p in "${PATH_DIRS[@]+"${PATH_DIRS[@]}"}"; do PATH="$p:$PATH"; done

  # 2. providers, installed as plugins into PULUMI_HOME
  if want providers; then
    step random-provider "$rkey" build_random_provider
    install_plugin random "$RANDOM_PROVIDER_VERSION" "$TOOLS_DIR/random-provider-$rkey/bin/pulumi-resource-random"
    step kubernetes-provider "$kkey" build_kubernetes_provider
    install_plugin kubernetes "$K8S_PROVIDER_VERSION" "$TOOLS_DIR/kubernetes-provider-$kkey/bin/pulumi-resource-kubernetes"
    step docker-build-provider "$DOCKER_BUILD_PROVIDER_VERSION" build_docker_build_provider
    install_plugin docker-build "$DOCKER_BUILD_PROVIDER_VERSION" \
      "$TOOLS_DIR/docker-build-provider-$DOCKER_BUILD_PROVIDER_VERSION/bin/pulumi-resource-docker-build"
  fi

  # 3. BuildKit and buildx (+ Debian runc)
  if want buildkit; then apt_install runc runc; fi
  if ! on_path buildkitd "$BUILDKIT_VERSION" buildkitd --version; then
    if want buildkit; then step buildkit "$BUILDKIT_VERSION" build_buildkit; fi
    use "buildkit-$BUILDKIT_VERSION"
  fi
  if ! on_path buildx "$BUILDX_VERSION" buildx version; then
    if want buildkit; then step buildx "$BUILDX_VERSION" build_buildx; fi
    use "buildx-$BUILDX_VERSION"
    if [[ -f "$TOOLS_DIR/buildx-$BUILDX_VERSION/.done" ]]; then
      EXTRA_ENV[GITSPACE_BUILDX_CLI_PLUGIN]="$TOOLS_DIR/buildx-$BUILDX_VERSION/cli-plugins/docker-buildx"
    fi
  fi

  # 4. Kubernetes binaries, etcd from Debian
  if ! on_path kube-apiserver "$K8S_VERSION" kube-apiserver --version; then
    if want kubernetes; then step kubernetes "$K8S_VERSION" build_kubernetes; fi
    use "kubernetes-$K8S_VERSION"
  fi
  if want kubernetes; then
    apt_install etcd etcd-server
    if command -v etcd >/dev/null; then gs_log "etcd: using $(command -v etcd) ($(etcd --version 2>/dev/null | head -1))"; fi
  fi

  # 5. parts of the local cluster (tools/cluster/up.sh finds them through these variables of env.sh)
  local knp_key c var name version fn
  knp_key="$KUBE_NETWORK_POLICIES_VERSION-$(sha256sum "$KNP_PATCH" | cut -c1-8)"
  for c in "local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION build_local_path_provisioner GITSPACE_LOCAL_PATH_PROVISIONER" \
    "gateway-api-crds $GATEWAY_API_VERSION fetch_gateway_api_crds GITSPACE_GATEWAY_API_CRDS" \
    "kube-network-policies $knp_key build_kube_network_policies GITSPACE_KUBE_NETWORK_POLICIES" \
    "traefik $TRAEFIK_VERSION-$(sha256sum "$LEGO_PATCH" | cut -c1-8) build_traefik GITSPACE_TRAEFIK"; do
    read -r name version fn var <<<"$c"
    if want cluster; then step "$name" "$version" "$fn"; fi
    if [[ -f "$TOOLS_DIR/$name-$version/.done" ]]; then EXTRA_ENV[$var]="$TOOLS_DIR/$name-$version"; fi
  done

  write_env
  gs_log "done in $((SECONDS - t_start))s"
  for t in "${TIMINGS[@]+"${TIMINGS[@]}"}"; do gs_log "  built $t"; done
}

main "$@"; exit $?  # on one line: an edit of this file during a run cannot be picked up
