# shellcheck shell=bash
# Shared helpers of the gitspace scripts. Sourced, never executed:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"        (from scripts/common/)
# Every log line goes to stderr and starts with "[gitspace]", so stdout stays free for data (JSON, paths).

gs_log() { printf '[gitspace] %s\n' "$*" >&2; }
gs_info() { gs_log "$@"; }
gs_warn() { gs_log "WARNING: $*"; }
gs_error() { gs_log "ERROR: $*"; }
gs_die() {
    gs_error "$@"
    exit 1
}

# Milliseconds since the epoch, without forking (bash 5 EPOCHREALTIME; falls back to date).
gs_now_ms() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        local t="${EPOCHREALTIME/[.,]/}"
        printf '%s\n' "$((10#$t / 1000))"
    else
        printf '%s\n' "$(($(date +%s%N) / 1000000))"
    fi
}

# gs_duration START_MS: "1.234s" since START_MS.
gs_duration() {
    local ms=$(($(gs_now_ms) - $1))
    printf '%d.%03ds' "$((ms / 1000))" "$((ms % 1000))"
}

# gs_step NAME COMMAND [ARG...]: run COMMAND as the step NAME, logging
#   [gitspace] step: NAME
#   [gitspace] step: NAME done in 0.012s        (or "failed (exit N) after ...")
# Returns the command's exit status.
gs_step() {
    local name="$1" start rc=0
    shift
    gs_log "step: $name"
    start="$(gs_now_ms)"
    "$@" || rc=$?
    if ((rc == 0)); then
        gs_log "step: $name done in $(gs_duration "$start")"
    else
        gs_log "step: $name failed (exit $rc) after $(gs_duration "$start")"
    fi
    return "$rc"
}

# gs_is_true VALUE [NAME]: the program writes booleans as exactly `true` or `false` (String(boolean)); those (and an
# empty value, meaning false) are the only ones accepted. A look-alike (`yes`, `True`, `1`, `on`) is an error, never a
# guess: the script exits 1 naming NAME.
gs_is_true() {
    case "$1" in
        true) return 0 ;;
        false | "") return 1 ;;
        *) gs_die "${2:-a boolean setting} must be 'true' or 'false' (got '$1')" ;;
    esac
}

# gs_state_dir: where the init step keeps its markers and reports, inside HOME.
gs_state_dir() { printf '%s\n' "${GITSPACE_STATE_DIR:-${HOME:?HOME is not set}/.gitspace}"; }

# gs_ensure_private_dir DIR: create DIR (0700) or accept it when it is a real directory owned by us; never follows a
# symlink planted at DIR.
gs_ensure_private_dir() {
    local dir="$1"
    if [[ -L "$dir" ]]; then
        gs_error "$dir is a symlink; refusing to use it"
        return 1
    fi
    if [[ ! -d "$dir" ]]; then
        mkdir -p -- "$dir" || return 1
    fi
    if [[ ! -O "$dir" ]]; then
        gs_error "$dir is not owned by uid $(id -u); refusing to use it"
        return 1
    fi
    chmod 0700 -- "$dir"
}

# gs_write_if_changed FILE [MODE]: write stdin to FILE atomically (temp file + rename in the same directory) unless FILE
# already holds exactly that content. A symlink at FILE is replaced by the regular file, never written through.
gs_write_if_changed() {
    local file="$1" mode="${2:-0644}" tmp
    tmp="$(mktemp "${file%/*}/.${file##*/}.XXXXXX")" || return 1
    cat >"$tmp" || {
        rm -f -- "$tmp"
        return 1
    }
    if [[ -f "$file" && ! -L "$file" ]] && cmp -s -- "$tmp" "$file"; then
        rm -f -- "$tmp"
        return 0
    fi
    chmod "$mode" -- "$tmp" && mv -f -- "$tmp" "$file"
}

# The repository list GITSPACE_REPOS (JSON array of {name, url, branch?}) is the program's resolved, validated list:
# scripts read it field by field with these two functions and use the values as given.
# gs_repos_count JSON: the number of entries; fails when JSON is not an array.
gs_repos_count() {
    jq -e 'if type == "array" then length else error("not an array") end' 2>/dev/null <<<"$1"
}

# gs_repos_field JSON I KEY: the string JSON[I].KEY exactly (empty when absent); fails when it is not a string. One jq
# call per field: no splitting on any separator. The trailing "x" keeps trailing newlines through $(...).
gs_repos_field() {
    local out
    out="$(jq -j --argjson i "$2" --arg k "$3" \
        '(.[$i][$k] // "") as $v | if ($v | type) == "string" then $v else error("\($k) is not a string") end' <<<"$1" && printf x)" || return 1
    printf '%s' "${out%x}"
}

# gs_json_field JSON KEY: the string JSON.KEY of a JSON object exactly (empty when absent); fails when JSON is not an
# object or the field is not a string. For the program's single-entry values (GITSPACE_DOTFILES).
gs_json_field() {
    local out
    out="$(jq -j --arg k "$2" \
        'if type == "object" then . else error("not an object") end | (.[$k] // "") as $v | if ($v | type) == "string" then $v else error("\($k) is not a string") end' <<<"$1" && printf x)" || return 1
    printf '%s' "${out%x}"
}

# gs_repo_dirs: the directory of each repository of GITSPACE_REPOS ($HOME/<name>, names as given), one per line.
gs_repo_dirs() {
    local json="${GITSPACE_REPOS:-[]}" count i name
    [[ -n "$json" ]] || json='[]'
    count="$(gs_repos_count "$json")" || return 1
    for ((i = 0; i < count; i++)); do
        if name="$(gs_repos_field "$json" "$i" name)" && [[ -n "$name" ]]; then
            printf '%s\n' "${HOME:?HOME is not set}/$name"
        fi
    done
}
