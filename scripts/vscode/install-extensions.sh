#!/usr/bin/env bash
# Image build time: install VS Code extensions into the baked extensions dir (outside HOME, which the home volume
# hides); run-vscode-web.sh makes them visible to the user on first start.
# Usage: install-extensions.sh [ID|VSIX ...]   or VSCODE_EXTENSIONS="ms-python.python, golang.go" (spaces/commas)
# No-op for an empty list. Fails when an extension cannot be installed.
# Environment: GITSPACE_VSCODE_EXTENSIONS_DIR (/usr/local/gitspace/vscode/extensions), GITSPACE_CODE_SERVER (code-server)
# Self-contained (no lib.sh): the vscode Dockerfile copies this file alone, before the other scripts.
set -euo pipefail

gs_log() { printf '[gitspace] %s\n' "$*" >&2; }
gs_die() {
    gs_log "ERROR: $*"
    exit 1
}

dir="${GITSPACE_VSCODE_EXTENSIONS_DIR:-/usr/local/gitspace/vscode/extensions}"
code_server="${GITSPACE_CODE_SERVER:-code-server}"
list="${*:-${VSCODE_EXTENSIONS:-}}"
read -r -a extensions <<<"${list//,/ }"
if ((${#extensions[@]} == 0)); then
    gs_log "extensions: none to install"
    exit 0
fi
command -v "$code_server" >/dev/null || gs_die "extensions: code-server not found ('$code_server')"
mkdir -p -- "$dir"
# code-server also writes user data while installing: keep it out of the image's HOME.
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
for ext in "${extensions[@]}"; do
    gs_log "extensions: installing $ext into $dir"
    "$code_server" --user-data-dir "$data" --extensions-dir "$dir" --install-extension "$ext" \
        || gs_die "extensions: could not install $ext"
done
chmod -R a+rX -- "$dir"
gs_log "extensions: ${#extensions[@]} installed in $dir"
