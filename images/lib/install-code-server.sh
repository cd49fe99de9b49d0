#!/usr/bin/env bash
# Install code-server from the npm registry (no GitHub, no code-server.dev) with the Node.js of install-node.sh,
# compiling its native modules against that Node's bundled headers (no header download either), and put a
# `code-server` on PATH that always runs with that Node.
# GITSPACE_TARGET_ARCH (a Debian architecture name; empty or unset: this system's) is the architecture of that Node
# and of the result. A foreign one (e.g. arm64 on amd64, install-build-tools.sh's cross toolchain installed) is a
# cross build: npm and node-gyp run on the target's Node under QEMU (JavaScript only, so process.arch, the optional
# platform packages such as @parcel/watcher-linux-arm64-glibc and the prebuilt-binary checks such as koffi's are the
# target's, and prebuilt binaries are kept), and what has no prebuilt binary is compiled by <triple>-gcc/g++, natively.
# Usage: install-code-server.sh NODE_PREFIX PREFIX VERSION
# Environment: NPM_REGISTRY (default https://registry.npmjs.org), GITSPACE_TARGET_ARCH
set -euo pipefail

(($# == 3)) || { echo "usage: $0 NODE_PREFIX PREFIX VERSION" >&2; exit 2; }
node_prefix="$1" prefix="$2" version="$3"

build_arch="$(dpkg --print-architecture)"
target_arch="${GITSPACE_TARGET_ARCH:-$build_arch}"
if [[ "$target_arch" != "$build_arch" ]]; then
    # node-gyp's Makefiles take the compilers from CC/CXX/LINK/AR; kerberos finds the target's krb5 by pkg-config.
    triple="$(dpkg-architecture -a "$target_arch" -qDEB_HOST_GNU_TYPE 2>/dev/null)" \
        || { echo "GITSPACE_TARGET_ARCH: not a Debian architecture: '$target_arch'" >&2; exit 2; }
    multiarch="$(dpkg-architecture -a "$target_arch" -qDEB_HOST_MULTIARCH 2>/dev/null)"
    command -v "$triple-g++" >/dev/null || { echo "no $triple-g++: run install-build-tools.sh first" >&2; exit 1; }
    export CC="$triple-gcc" CXX="$triple-g++" LINK="$triple-g++" AR="$triple-ar" STRIP="$triple-strip"
    export PKG_CONFIG_LIBDIR="/usr/lib/$multiarch/pkgconfig:/usr/share/pkgconfig"
    echo "cross build for $target_arch on $build_arch: compilers $CC/$CXX, npm on the $target_arch Node"
fi

export PATH="$node_prefix/bin:$PATH"
export npm_config_registry="${NPM_REGISTRY:-https://registry.npmjs.org}"
# node-gyp: use the headers shipped with this Node instead of downloading them from nodejs.org.
export npm_config_nodedir="$node_prefix"
# kerberos tries a prebuilt binary from GitHub first: build it from source right away.
export npm_config_build_from_source=kerberos
# The Node binaries trust their own CA list; also trust the system's (a TLS-inspecting proxy during the build).
export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export HOME="${TMPDIR:-/tmp}/code-server-build-home"
mkdir -p "$HOME"
trap 'rm -rf "$HOME"' EXIT

echo "installing code-server@$version with node $(node --version), npm $(npm --version)"
# npm 11 runs no dependency install script unless allowed: code-server's postinstall installs and builds VS Code's
# modules (lib/vscode declares its own allowScripts for its native modules); argon2's only checks its prebuilt binary.
npm install --global --prefix "$prefix" --allow-scripts=code-server,argon2 "code-server@$version"

pkg="$prefix/lib/node_modules/code-server"
entry="$pkg/out/node/entry.js"
[[ -f "$entry" ]] || { echo "code-server entry point $entry missing" >&2; exit 1; }
# The postinstall must have built VS Code's native modules for this platform: load each one with this Node (some
# packages also ship prebuilds for other platforms, so a file search proves nothing) and spawn a pty.
# shellcheck disable=SC2016  # JavaScript, not shell
(cd "$pkg/lib/vscode" && node -e '
    const load = (m) => require(require.resolve(m, { paths: [process.cwd()] }));
    for (const m of process.argv.slice(1)) {
        try { load(m); } catch (e) { console.error(`code-server: native module ${m} does not load: ${e.message}`); process.exit(1); }
    }
    const p = load("node-pty").spawn("/bin/true", [], {});
    p.onExit(({ exitCode }) => process.exit(exitCode));
' node-pty @vscode/spdlog @vscode/sqlite3 kerberos @vscode/native-watchdog @parcel/watcher @vscode/deviceid \
    @vscode/fs-copyfile) || { echo "code-server: native modules missing or broken" >&2; exit 1; }

# The package's own bin is `#!/usr/bin/env node`, which would pick the distribution's (older) node: wrap it.
rm -f "$prefix/bin/code-server"
cat >"$prefix/bin/code-server" <<WRAPPER
#!/bin/sh
exec "$node_prefix/bin/node" "$entry" "\$@"
WRAPPER
chmod 0755 "$prefix/bin/code-server"
ln -sf "$prefix/bin/code-server" /usr/local/bin/code-server

# Object files of the native builds, caches: not needed at runtime.
find "$pkg" -type d \( -name obj.target -o -name .deps \) -path '*/build/*' -prune -exec rm -rf {} +
npm cache clean --force >/dev/null 2>&1 || true
rm -rf /root/.npm /root/.cache/node-gyp "${TMPDIR:-/tmp}/node-compile-cache"
code-server --version
