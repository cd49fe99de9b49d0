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
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

devcontainer="${GITSPACE_DEVCONTAINER:-/usr/local/gitspace/bin/gitspace-devcontainer}"
declare state
gs_state_dir state

repos=("$@")
if ((${#repos[@]} == 0)); then
    gs_repo_dirs || true
    repos=("${GS_REPO_DIRS[@]}")
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
# One jq call: the content of session-env.json, each line of the problems (p), the summary (s), the variables (e).
records=()
if ! gs_records records "$GS_JQ_LINES"'({applied: (.env | keys), problems}), "\n\u0000",
        (.problems[] | gs_lines("p")),
        "s" + (.env | keys | if length == 0 then "no variable" else "\(length) variable(s): \(join(" "))" end) + "\u0000",
        (.env | to_entries[] | "e\(.key)=\(.value)\u0000"),
        "end\u0000"' <<<"$out"; then
    gs_error "session env: the output of gitspace-devcontainer env is not readable; containerEnv/remoteEnv not applied"
    exit 0
fi
env=()
for r in "${records[@]:1}"; do
    case "$r" in
        p*) gs_warn "session env: ${r#p}" ;;
        s*) gs_log "session env: ${r#s} from devcontainer.json" ;;
        e*) env+=("${r#e}") ;;
    esac
done
if gs_ensure_private_dir "$state" 2>/dev/null; then
    gs_write_content_if_changed "$state/session-env.json" 0644 "${records[0]}" || true
fi
((${#env[@]} == 0)) || printf '%s\0' "${env[@]}"
