#!/usr/bin/env bash
# Build gitspace-devcontainer (images/devcontainer: the init and session scripts' devcontainer.json reader) as one
# static binary, with the distribution's Go (Debian 12 ships 1.19: the module is kept buildable with it), modules from
# the Go module proxy checked against go.sum. Cross-compiles: a BuildKit build runs this stage on the builder's own
# platform and passes the target's GOARCH, so an arm64 image needs no emulation here.
# Usage: build-devcontainer.sh SRC_DIR OUT [GOARCH]   (GOARCH: default the dpkg architecture of this system)
# Environment: GOPROXY (the Go module proxy or a mirror; default Go's own)
set -euo pipefail
(($# >= 2)) || { echo "usage: $0 SRC_DIR OUT [GOARCH]" >&2; exit 2; }
src="$1" out="$2" arch="${3:-}"
if [[ -z "$arch" ]]; then
    arch="$(dpkg --print-architecture)"
    case "$arch" in
        i386) arch=386 ;;
        armhf | armel) arch=arm ;;
        ppc64el) arch=ppc64le ;;
    esac
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOPATH="$work/go" GOCACHE="$work/cache" GOFLAGS=-mod=readonly GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux GOARCH="$arch"
cd "$src"
go version
go mod download
go build -trimpath -ldflags='-s -w' -o "$out" .
# A binary for this machine is run once: it must start and refuse a bad call with its usage.
if [[ "$arch" == "$(go env GOHOSTARCH)" ]]; then
    if "$out" >/dev/null 2>"$work/usage"; then echo "$out ran without arguments" >&2; exit 1; fi
    grep -q '^\[gitspace\] ERROR: gitspace-devcontainer: usage:' "$work/usage"
fi
ls -l "$out"
