#!/usr/bin/env bash
# Builds the end-to-end toolchain of the gitspace stack from the Go module proxy and Debian packages
# (nothing from GitHub, get.pulumi.com or a container registry), into a cache keyed by version:
#   ${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/<name>-<version>/
# A tool whose cache directory is complete (has .done) is reused; a tool already on PATH at the right version
# is used as it is. Idempotent: a second run only checks and prints.
#
# Usage: bash tools/toolchain.sh [all|pulumi|providers|buildkit|kubernetes]...   (default: all)
# Then:  source "${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/env.sh"
#
# Versions: the Pulumi CLI and the providers follow the npm SDKs in package-lock.json; the others are pinned
# below (one place each).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TOOLS_DIR=${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}
mkdir -p "$TOOLS_DIR"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd)

log() { printf '[gitspace] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------------------
lock_version() { # npm package name -> version in package-lock.json
  node -e 'const l=require(process.argv[1]); const p=l.packages["node_modules/"+process.argv[2]];
           if(!p){process.exit(1)} console.log(p.version)' "$REPO/package-lock.json" "$1" \
    || die "$1 not found in $REPO/package-lock.json"
}
PULUMI_VERSION=$(lock_version @pulumi/pulumi)
K8S_PROVIDER_VERSION=$(lock_version @pulumi/kubernetes)
RANDOM_PROVIDER_VERSION=$(lock_version @pulumi/random)
DOCKER_BUILD_PROVIDER_VERSION=$(lock_version @pulumi/docker-build)

# ---------------------------------------------------------------------------------------------------------------
# Go environment: module and build caches live in the tools cache, so one cached directory serves CI.
# ---------------------------------------------------------------------------------------------------------------
command -v go >/dev/null || die "go is required (Go >= 1.25)"
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
# step NAME VERSION FUNCTION: runs FUNCTION DIR unless DIR/.done exists; DIR=$TOOLS_DIR/NAME-VERSION
step() {
  local name=$1 version=$2 fn=$3 dir="$TOOLS_DIR/$1-$2"
  if [[ -f "$dir/.done" ]]; then
    log "$name $version: cached in $dir"
    return 0
  fi
  log "$name $version: building into $dir ..."
  local t0=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  "$fn" "$dir"
  local took=$((SECONDS - t0))
  echo "$took" >"$dir/.build-seconds"
  date -u +%FT%TZ >"$dir/.done"
  TIMINGS+=("$name $version: ${took}s")
  log "$name $version: built in ${took}s"
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

gobuild() { # DIR OUT PKG [go build args...]
  local src=$1/src out=$2 pkg=$3
  shift 3
  (cd "$src" && "${NICE[@]}" go build -trimpath "$@" -o "$out" "$pkg")
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
  gobuild "$dir" "$dir/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
}

# The upstream language host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not
# served by the module proxy at any version (403 for the tag and for the pseudo-version of the release commit),
# so we build our own small one (tools/langhost-nodejs) against the SDK of the same version.
build_langhost() {
  local dir=$1
  echo "require github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION" | wrapper_module "$dir" pulumi-language-nodejs
  cp "$HERE/langhost-nodejs/main.go" "$dir/src/"
  (cd "$dir/src" && "${NICE[@]}" go mod tidy)
  gobuild "$dir" "$dir/bin/pulumi-language-nodejs" . -ldflags "-s -w -X main.version=$PULUMI_VERSION"
  # Dynamic providers (pulumi.dynamic.Resource) run through this plugin: node with the SDK's dynamic-provider.
  cat >"$dir/bin/pulumi-resource-pulumi-nodejs" <<'SH'
#!/bin/sh
script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
exec node "$script" "$@"
SH
  chmod +x "$dir/bin/pulumi-resource-pulumi-nodejs"
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
  if "$@" 2>/dev/null | grep -qF -- "$want"; then
    log "$name: using $bin (version $want)"
    return 0
  fi
  return 1
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
  } >"$envfile"
  log "environment written to $envfile:"
  sed 's/^/    /' "$envfile" >&2
  log "use it with:  source $envfile"
}

main() {
  GROUPS_WANTED=("$@")
  [[ ${#GROUPS_WANTED[@]} -gt 0 ]] || GROUPS_WANTED=(all)
  local t_start=$SECONDS t
  PATH_DIRS=()
  declare -gA EXTRA_ENV=()
  # plugins (providers) are installed into this PULUMI_HOME, cached with the tools
  export PULUMI_HOME=${GITSPACE_PULUMI_HOME:-$TOOLS_DIR/pulumi-home}
  export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

  if want pulumi || want providers; then
    if ! on_path pulumi "v$PULUMI_VERSION" pulumi version; then
      step pulumi "$PULUMI_VERSION" build_pulumi
      PATH_DIRS+=("$TOOLS_DIR/pulumi-$PULUMI_VERSION/bin")
    fi
    if ! on_path pulumi-language-nodejs "$PULUMI_VERSION" pulumi-language-nodejs -version; then
      # keyed by the SDK version and our source, so an edit of main.go rebuilds it
      LANGHOST_KEY="$PULUMI_VERSION-$(sha256sum "$HERE/langhost-nodejs/main.go" | cut -c1-8)"
      step pulumi-language-nodejs "$LANGHOST_KEY" build_langhost
      PATH_DIRS+=("$TOOLS_DIR/pulumi-language-nodejs-$LANGHOST_KEY/bin")
    fi
  fi

  write_env
  log "done in $((SECONDS - t_start))s"
  for t in "${TIMINGS[@]+"${TIMINGS[@]}"}"; do log "  built $t"; done
}

main "$@"
