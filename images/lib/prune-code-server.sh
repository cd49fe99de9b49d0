#!/usr/bin/env bash
# Remove from a code-server install (install-code-server.sh) and its Node (install-node.sh) what code-server never
# reads at runtime on this platform: npm and Node's headers (only the build used them), prebuilt binaries of other
# operating systems and architectures (node-pty's and argon2's prebuilds/<os>-<arch>/, ripgrep-universal's
# bin/<os>-<arch>/, the mxc-sdk's bin/<arch>/, Windows and macOS executables), the intermediate files of the native
# builds (obj/, static libraries) and source maps. Every module still loads: the vscode smoke test loads the native
# modules and starts code-server afterwards.
# Usage: prune-code-server.sh NODE_PREFIX PREFIX
set -euo pipefail

(($# == 2)) || { echo "usage: $0 NODE_PREFIX PREFIX" >&2; exit 2; }
node_prefix="$1" prefix="$2"
pkg="$prefix/lib/node_modules/code-server"
[[ -x "$node_prefix/bin/node" && -d "$pkg" ]] || { echo "no node in $node_prefix or no code-server in $prefix" >&2; exit 1; }

# Node's names (process.platform-process.arch) are those of the prebuild directories: linux-x64, linux-arm64.
arch="$("$node_prefix/bin/node" -p process.arch)"
platform="linux-$arch"
size() { du -sm "$@" | awk '{ s += $1 } END { print s }'; }
before="$(size "$node_prefix" "$prefix")"

rm -rf "$node_prefix/include" "$node_prefix/share" "$node_prefix/lib/node_modules/npm" \
    "$node_prefix/bin/npm" "$node_prefix/bin/npx" "$node_prefix/bin/corepack"

# keep_only DIR NAME: remove every entry of DIR but NAME.
keep_only() {
    local entry
    for entry in "$1"/*; do
        [[ -e "$entry" && "$(basename "$entry")" != "$2" ]] && rm -rf "$entry"
    done
    return 0
}
while IFS= read -r -d '' dir; do
    case "$dir" in
        */prebuilds | */@vscode/ripgrep-universal/bin) keep_only "$dir" "$platform" ;;
        */@microsoft/mxc-sdk/bin) keep_only "$dir" "$arch" ;;
    esac
done < <(find "$pkg" -type d \( -name prebuilds -o -path '*/@vscode/ripgrep-universal/bin' \
    -o -path '*/@microsoft/mxc-sdk/bin' \) -print0)
find "$pkg" -type f \( -iname '*.exe' -o -iname '*.dll' -o -iname '*.dylib' -o -iname '*.pdb' \) -delete
find "$pkg" -type d -path '*/build/Release/obj' -prune -exec rm -rf {} +
find "$pkg" -type f -path '*/build/Release/*' -name '*.a' -delete
find "$pkg" -type f \( -name '*.js.map' -o -name '*.mjs.map' -o -name '*.cjs.map' -o -name '*.css.map' \) -delete

echo "pruned code-server and node: ${before} MB -> $(size "$node_prefix" "$prefix") MB ($platform)"
