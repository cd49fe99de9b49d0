#!/usr/bin/env bash
# Install what compiles code-server's native modules (node-pty, spdlog, sqlite3, kerberos, ...) for the architecture
# the result runs on, GITSPACE_TARGET_ARCH (a Debian architecture name; empty or unset: this system's).
# - native (the target is this system's architecture): build-essential, python3 and pkg-config for node-gyp,
#   libkrb5-dev for kerberos;
# - foreign (e.g. arm64 on an amd64 builder): the same native tools plus Debian's cross toolchain
#   (crossbuild-essential-<arch>) and the target's libkrb5-dev and libstdc++6 by dpkg multiarch: install-code-server.sh
#   then compiles with <triple>-gcc/g++ natively, and runs npm on the target's Node (under QEMU: JavaScript only).
#   On Ubuntu the target's packages come from the other Ubuntu archive (ports.ubuntu.com for everything but
#   amd64/i386): its deb822 sources (/etc/apt/sources.list.d/ubuntu.sources, Ubuntu 24.04 and later) are pinned to
#   this system's architecture and a source of the target's is added.
# Usage: install-build-tools.sh
# Environment: GITSPACE_TARGET_ARCH
set -euo pipefail

(($# == 0)) || { echo "usage: $0 (the target architecture comes from GITSPACE_TARGET_ARCH)" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_arch="$(dpkg --print-architecture)"
target_arch="${GITSPACE_TARGET_ARCH:-$build_arch}"
[[ "$target_arch" =~ ^[a-z0-9]+$ ]] || { echo "GITSPACE_TARGET_ARCH: not a Debian architecture: '$target_arch'" >&2; exit 2; }

# ubuntu_archive ARCH: the Ubuntu archive that carries ARCH.
ubuntu_archive() {
    case "$1" in
        amd64 | i386) echo http://archive.ubuntu.com/ubuntu/ ;;
        *) echo http://ports.ubuntu.com/ubuntu-ports/ ;;
    esac
}

# add_ubuntu_target_source: pin Ubuntu's sources to the build architecture, add the target's archive.
add_ubuntu_target_source() {
    local sources=/etc/apt/sources.list.d/ubuntu.sources codename
    [[ -f "$sources" ]] || { echo "Ubuntu without $sources (older than 24.04): cross build not supported" >&2; exit 1; }
    codename="$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)"
    grep -q '^Architectures:' "$sources" || sed -i "/^Types:/a Architectures: $build_arch" "$sources"
    cat >"/etc/apt/sources.list.d/ubuntu-$target_arch.sources" <<SOURCES
Types: deb
URIs: $(ubuntu_archive "$target_arch")
Suites: $codename $codename-updates $codename-security
Components: main universe
Architectures: $target_arch
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
SOURCES
}

packages=(build-essential python3 pkg-config)
if [[ "$target_arch" == "$build_arch" ]]; then
    packages+=(libkrb5-dev)
else
    echo "build tools for $target_arch on $build_arch: cross toolchain"
    if grep -qs '^ID=ubuntu$' /etc/os-release; then add_ubuntu_target_source; fi
    dpkg --add-architecture "$target_arch"
    packages+=("crossbuild-essential-$target_arch" "libkrb5-dev:$target_arch" "libstdc++6:$target_arch")
fi
"$here/apt-install.sh" "${packages[@]}"
