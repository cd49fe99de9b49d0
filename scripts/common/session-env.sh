#!/usr/bin/env bash
# The IDE session's environment from the cloned repositories' devcontainer.json (containerEnv, remoteEnv), checked by
# `gitspace-devcontainer env` (names, values, reserved names, substitution: images/devcontainer/env.go). Prints NAME=VALUE records, each
# ended by a NUL, on stdout; the IDE entrypoints export them into code-server's environment (its terminals inherit
# it) and sshd's SetEnv (SSH sessions). What was applied and what was refused (and why) is logged and recorded in
# $GITSPACE_STATE_DIR/session-env.json. Never fails the start: no helper binary, no repository, a bad file: nothing printed.
# Usage: session-env.sh [REPO_DIR...]   (default: $HOME/<name> of GITSPACE_REPOS, in order; the first one wins)
# Environment: GITSPACE_REPOS, GITSPACE_STATE_DIR, GITSPACE_DEVCONTAINER (/usr/local/gitspace/bin/gitspace-devcontainer)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

devcontainer="${GITSPACE_DEVCONTAINER:-/usr/local/gitspace/bin/gitspace-devcontainer}"
state="$(gs_state_dir)"

repos=("$@")
if ((${#repos[@]} == 0)); then
    while IFS= read -r d; do repos+=("$d"); done < <(gs_repo_dirs || true)
fi
args=()
for repo in "${repos[@]}"; do
    # Only repositories with a devcontainer.json: nothing to start for a gitspace that has none.
    if [[ -e "$repo/.devcontainer/devcontainer.json" || -e "$repo/.devcontainer.json" ]]; then args+=(--repo "$repo"); fi
done
((${#args[@]})) || exit 0
if ! command -v "$devcontainer" >/dev/null; then
    gs_error "session env: $devcontainer not found: containerEnv/remoteEnv not applied"
    exit 0
fi
if ! out="$("$devcontainer" env "${args[@]}")"; then
    gs_error "session env: gitspace-devcontainer env failed; containerEnv/remoteEnv not applied"
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
