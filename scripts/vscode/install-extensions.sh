#!/usr/bin/env bash
# Image build time: install VS Code extensions into the baked extensions dir (outside HOME, which the home volume
# hides); run-vscode-web.sh makes them visible to the user on first start.
# Usage: install-extensions.sh [ID|VSIX ...]   or VSCODE_EXTENSIONS="ms-python.python, golang.go" (spaces/commas)
# No-op for an empty list. Fails when an extension cannot be installed.
# Environment: GITSPACE_VSCODE_EXTENSIONS_DIR (/usr/local/gitspace/vscode/extensions), GITSPACE_CODE_SERVER (code-server)
# The vscode Dockerfile stages this file and ../common/lib.sh alone, before the other scripts.
set -euo pipefail
# shellcheck source=../common/lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/../common/lib.sh" ;; *) . ../common/lib.sh ;; esac

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
