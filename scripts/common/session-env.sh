#!/usr/bin/env bash
# The IDE session's environment from the cloned repositories' devcontainer.json (containerEnv, remoteEnv), checked by
# devcontainer-lifecycle.js (names, values, reserved names, substitution: see there). Prints NAME=VALUE records, each
# ended by a NUL, on stdout; the IDE entrypoints export them into code-server's environment (its terminals inherit
# it) and sshd's SetEnv (SSH sessions). What was applied and what was refused (and why) is logged and recorded in
# $GITSPACE_STATE_DIR/session-env.json. Never fails the start: no node, no repository, a bad file: nothing printed.
# Usage: session-env.sh [REPO_DIR...]   (default: $HOME/<name> of GITSPACE_REPOS, in order; the first one wins)
# Environment: GITSPACE_REPOS, GITSPACE_NODE (node), NODE_PATH (/usr/local/gitspace/lib/node_modules), GITSPACE_STATE_DIR
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node="${GITSPACE_NODE:-node}"
export NODE_PATH="${NODE_PATH:-/usr/local/gitspace/lib/node_modules}"
state="$(gs_state_dir)"

repos=("$@")
if ((${#repos[@]} == 0)); then
    while IFS= read -r d; do repos+=("$d"); done < <(gs_repo_dirs || true)
fi
args=()
for repo in "${repos[@]}"; do
    # Only repositories with a devcontainer.json: no node start (~0.3 s) for a gitspace that has none.
    if [[ -e "$repo/.devcontainer/devcontainer.json" || -e "$repo/.devcontainer.json" ]]; then args+=(--repo "$repo"); fi
done
((${#args[@]})) || exit 0
if ! command -v "$node" >/dev/null; then
    gs_error "session env: node ($node) not found: containerEnv/remoteEnv not applied"
    exit 0
fi
if ! out="$("$node" "$here/devcontainer-lifecycle.js" env "${args[@]}")"; then
    gs_error "session env: devcontainer-lifecycle.js failed; containerEnv/remoteEnv not applied"
    exit 0
fi
while IFS= read -r problem; do
    gs_warn "session env: $problem"
done < <(jq -r '.problems[]' <<<"$out")
gs_log "session env: $(jq -r '.env | keys | if length == 0 then "no variable" else "\(length) variable(s): \(join(" "))" end' <<<"$out") from devcontainer.json"
if gs_ensure_private_dir "$state" 2>/dev/null; then
    jq '{applied: (.env | keys), problems}' <<<"$out" | gs_write_if_changed "$state/session-env.json" 0644 || true
fi
jq -j '.env | to_entries[] | "\(.key)=\(.value)\u0000"' <<<"$out"
