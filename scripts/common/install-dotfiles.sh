#!/usr/bin/env bash
# Apply the developer's dotfiles (GITSPACE_DOTFILES, cloned into ~/.dotfiles by clone-code.sh) the way Codespaces
# does, as the user (never as root), in the IDE container (so it sees the IDE container's tools and identity):
# - `installCommand` when the config names one; else the first of install.sh, install, bootstrap.sh, bootstrap,
#   script/bootstrap, setup.sh, setup, script/setup that is a regular file inside ~/.dotfiles: run in ~/.dotfiles
#   with no argument and no stdin (directly when executable, else with /bin/sh), for at most GITSPACE_DOTFILES_TIMEOUT
#   seconds (600);
# - with no script: link every top-level entry of ~/.dotfiles whose name starts with `.` (but .git, and never
#   .gitspace or .dotfiles, which HOME uses) into HOME. An
#   existing entry of that name (not already that link) is moved aside into ~/.dotfiles-backup-<UTC time>/ first,
#   never overwritten nor deleted, and reported.
# Once per home: the result is recorded in $GITSPACE_STATE_DIR/dotfiles.json ({url, method, state, detail, at}) and
# the step is skipped while the configured URL is the one recorded (a new URL applies the new dotfiles once). A failed
# script is recorded too and not retried (delete dotfiles.json to retry); a missing clone is retried on the next start.
# The script's output goes to $GITSPACE_STATE_DIR/logs/dotfiles.log (the last GITSPACE_LIFECYCLE_LOG_MAX bytes, 1 MiB).
# A failure is reported (log, dotfiles.json) and exits 0: it never breaks the start.
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

home="${HOME:?HOME is not set}"
declare state
gs_state_dir state
dir="$home/.dotfiles"
timeout_s="${GITSPACE_DOTFILES_TIMEOUT:-600}"
log_max="${GITSPACE_LIFECYCLE_LOG_MAX:-1048576}"
json="${GITSPACE_DOTFILES:-}"
SCRIPTS=(install.sh install bootstrap.sh bootstrap script/bootstrap setup.sh setup script/setup)

[[ -n "$json" ]] || exit 0
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || gs_die "GITSPACE_DOTFILES_TIMEOUT must be a positive number of seconds (got '$timeout_s')"
[[ "$log_max" =~ ^[1-9][0-9]*$ ]] || gs_die "GITSPACE_LIFECYCLE_LOG_MAX must be a positive number of bytes (got '$log_max')"
if ((EUID == 0)); then
    gs_error "dotfiles: refusing to run as root; dotfiles not applied"
    exit 0
fi
gs_ensure_private_dir "$state" || exit 0
gs_ensure_private_dir "$state/logs" || exit 0
if ! gs_json_fields "$json" url installCommand || [[ ! -v 'GS_FIELD[url]' ]]; then
    gs_die "GITSPACE_DOTFILES is not a JSON object with a string url"
fi
[[ -v 'GS_FIELD[installCommand]' ]] || gs_die "GITSPACE_DOTFILES.installCommand is not a string"
url="${GS_FIELD[url]}"
install_command="${GS_FIELD[installCommand]}"
marker="$state/dotfiles.json"

# result METHOD STATE DETAIL: record the outcome (the marker of this URL).
result() {
    local at
    gs_utc_now at
    jq -n --arg url "$url" --arg method "$1" --arg state "$2" --arg detail "$3" --arg at "$at" \
        '{url: $url, method: $method, state: $state, detail: $detail, at: $at}' | gs_write_if_changed "$marker" 0644
    if [[ "$2" == ok ]]; then gs_log "dotfiles: $3"; else gs_error "dotfiles: $3"; fi
}

# One jq call reads the marker: the URL it records, and "method, state" for the log.
applied=()
if [[ -f "$marker" ]] && gs_records applied '(.url // "" | if type == "string" then . else tojson end), "\u0000",
        "\(.method), \(.state)\u0000", "end\u0000"' <"$marker" 2>/dev/null && [[ "${applied[0]}" == "$url" ]]; then
    gs_log "dotfiles: already applied for this URL (${applied[1]}); delete $marker to apply them again"
    exit 0
fi
if [[ -L "$dir" || ! -d "$dir" || ! -O "$dir" ]]; then
    gs_error "dotfiles: $dir is not a checkout of uid $EUID (clone failed? see the init container's log); retried on the next start"
    exit 0
fi
if [[ "$(git -C "$dir" config --get remote.origin.url 2>/dev/null || true)" != "$url" ]]; then
    gs_error "dotfiles: $dir is not a checkout of the configured URL; not applied (retried on the next start)"
    exit 0
fi
real_dir="$(realpath -e -- "$dir")"

# inside PATH: true when PATH resolves to a regular file inside ~/.dotfiles (a symlink may not lead out of it).
inside() {
    local real
    real="$(realpath -e -- "$1" 2>/dev/null)" || return 1
    [[ "$real" == "$real_dir"/* && -f "$real" ]]
}

script=""
if [[ -n "$install_command" ]]; then
    if inside "$dir/$install_command"; then
        script="$install_command"
    else
        result script failed "installCommand '$install_command' is not a file inside $dir"
        exit 0
    fi
else
    for candidate in "${SCRIPTS[@]}"; do
        if inside "$dir/$candidate"; then
            script="$candidate"
            break
        fi
    done
fi

if [[ -n "$script" ]]; then
    logfile="$state/logs/dotfiles.log"
    runner=("./$script")
    [[ -x "$dir/$script" ]] || runner=(/bin/sh "./$script")
    gs_log "dotfiles: running $script in $dir (output: $logfile)"
    # tail keeps the last bytes, reading everything: a chatty script is never cut off by a closed pipe.
    set +e
    (cd "$dir" && timeout --kill-after=10 "$timeout_s" "${runner[@]}" </dev/null 2>&1) | tail -c "$log_max" >"$logfile"
    rc="${PIPESTATUS[0]}"
    set -e
    case "$rc" in
        0) result script ok "$script finished" ;;
        124 | 137) result script failed "$script timed out after ${timeout_s}s (see $logfile)" ;;
        *) result script failed "$script failed (exit $rc; see $logfile)" ;;
    esac
    exit 0
fi

linked=() kept=() failed=()
backup=""
while IFS= read -r -d '' entry; do
    name="${entry##*/}"
    # .git is the checkout's own; .gitspace (this state) and .dotfiles (the checkout itself) are never replaced.
    case "$name" in .git | .gitspace | .dotfiles) continue ;; esac
    target="$home/$name"
    if [[ -L "$target" && "$(readlink -- "$target")" == "$dir/$name" ]]; then
        linked+=("$name")
        continue
    fi
    if [[ -e "$target" || -L "$target" ]]; then
        if [[ -z "$backup" ]]; then
            backup="$home/.dotfiles-backup-$(date -u +%Y%m%dT%H%M%SZ)"
            mkdir -p -- "$backup" || { failed+=("$name"); continue; }
        fi
        if ! mv -n -T -- "$target" "$backup/$name" || [[ -e "$target" || -L "$target" ]]; then
            failed+=("$name")
            continue
        fi
        kept+=("$name")
    fi
    if ln -s -T -- "$dir/$name" "$target"; then linked+=("$name"); else failed+=("$name"); fi
done < <(find "$dir" -mindepth 1 -maxdepth 1 -name '.*' -print0 | sort -z)

detail="linked ${#linked[@]} (${linked[*]:-none})"
((${#kept[@]} == 0)) || detail+="; existing ${kept[*]} moved aside to $backup"
if ((${#failed[@]})); then
    result links failed "$detail; could not link ${failed[*]}"
else
    result links ok "$detail"
fi
