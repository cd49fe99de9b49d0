#!/usr/bin/env bash
# The developer's own setup, run by the IDE entrypoints in the background once the IDE container starts, as the user
# (never as root), in the IDE container (its tools, its identity, the session environment of session-env.sh):
#   1. dotfiles (install-dotfiles.sh: once per home and URL);
#   2. for each cloned repository with a devcontainer.json, in GITSPACE_REPOS order:
#      - onCreateCommand, updateContentCommand, postCreateCommand: once per home and repository (marker
#        $GITSPACE_STATE_DIR/lifecycle/<name>.create.json, written whether they succeeded or not; delete it to run
#        them again);
#      - postStartCommand: on every start ($GITSPACE_STATE_DIR/lifecycle/<name>.start.json);
#      - postAttachCommand: not supported, reported.
# Commands run in the repository's directory (`gitspace-devcontainer run`: forms, limits, timeouts); their output is in
# $GITSPACE_STATE_DIR/logs/lifecycle-<name>-<create|start>.log (bounded; the start log is rewritten each start).
# A failure is logged (the IDE container's log) and recorded; it never stops the IDE. A repository that is not there
# (failed clone) is skipped and gets no marker, so its create commands run once it is cloned.
# Environment: GITSPACE_REPOS, GITSPACE_DOTFILES, GITSPACE_STATE_DIR,
#   GITSPACE_DEVCONTAINER (/usr/local/gitspace/bin/gitspace-devcontainer)
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

declare here
gs_script_dir here
devcontainer="${GITSPACE_DEVCONTAINER:-/usr/local/gitspace/bin/gitspace-devcontainer}"
declare state
gs_state_dir state

if ((EUID == 0)); then
    gs_error "lifecycle: refusing to run the developer's commands as root"
    exit 0
fi
gs_ensure_private_dir "$state" || exit 0
gs_ensure_private_dir "$state/logs" || exit 0
gs_ensure_private_dir "$state/lifecycle" || exit 0
# One run at a time per home.
exec 9>>"$state/lifecycle/.lock"
if ! flock -n 9; then
    gs_warn "lifecycle: another run is in progress in this home; not started again"
    exit 0
fi

gs_step dotfiles "$here/install-dotfiles.sh" || gs_warn "lifecycle: dotfiles failed; ignored"

if ! command -v "$devcontainer" >/dev/null; then
    gs_error "lifecycle: $devcontainer not found: devcontainer.json commands not run"
    exit 0
fi

# phase DIR NAME create|start: run the phase, record its summary, log its outcome.
phase() {
    local dir="$1" name="$2" which="$3" out log="$state/logs/lifecycle-$2-$3.log"
    [[ "$which" == create ]] || : >"$log"
    if ! out="$("$devcontainer" run --repo "$dir" --phase "$which" --log "$log")"; then
        gs_error "lifecycle $name: gitspace-devcontainer run failed ($which)"
        out="$(jq -cn --arg repo "$dir" --arg phase "$which" '{repo: $repo, phase: $phase, commands: [], ok: false, problems: ["the runner failed"]}')"
    fi
    # One jq call: the record's content, each line of the problems (p), what ran (r), whether all went well (o).
    local at records=() r ran="" ok=""
    gs_utc_now at
    # shellcheck disable=SC2016 # jq's $at.
    gs_records records --arg at "$at" "$GS_JQ_LINES"'(. + {at: $at}), "\n\u0000",
        (.problems[] | gs_lines("p")),
        "r" + ([.commands[] | "\(.hook)\(if .name then " (\(.name))" else "" end): \(if .error then .error elif .signal then "killed by \(.signal)" else "exit \(.exit)" end)"] | join(", ")) + "\u0000",
        "o" + (.ok | tostring) + "\u0000",
        "end\u0000"' <<<"$out" || gs_error "lifecycle $name: the summary of gitspace-devcontainer run is not readable ($which)"
    ((${#records[@]} == 0)) || gs_write_content_if_changed "$state/lifecycle/$name.$which.json" 0644 "${records[0]}"
    for r in "${records[@]:1}"; do
        case "$r" in
            p*) gs_warn "lifecycle $name: ${r#p}" ;;
            r*) ran="${r#r}" ;;
            o*) ok="${r#o}" ;;
        esac
    done
    # As $(...) gave it: without trailing newlines.
    while [[ "$ran" == *$'\n' ]]; do ran="${ran%$'\n'}"; done
    if [[ "$ok" == true ]]; then
        gs_log "lifecycle $name: $which ${ran:+done: $ran}${ran:-had nothing to run}"
    else
        gs_error "lifecycle $name: $which failed${ran:+: $ran} (output: $log)"
    fi
}

gs_repo_dirs || true
for dir in "${GS_REPO_DIRS[@]}"; do
    name="${dir##*/}"
    if [[ ! -d "$dir" || -L "$dir" ]]; then
        gs_log "lifecycle $name: $dir is not there (clone failed?); skipped"
        continue
    fi
    if [[ -e "$state/lifecycle/$name.create.json" ]]; then
        gs_log "lifecycle $name: create commands already ran in this home ($state/lifecycle/$name.create.json)"
    else
        phase "$dir" "$name" create
    fi
    phase "$dir" "$name" start
done
