# shellcheck shell=bash
# Shared helpers of the gitspace scripts. Sourced, never executed:
#   . "${BASH_SOURCE[0]%/*}/lib.sh"        (from scripts/common/; every script is run by its path)
# Every log line goes to stderr and starts with "[gitspace]" (then "$GS_LOG_TAG: " when a script sets it), so stdout
# stays free for data (JSON, paths). The tools and test scripts (tools/, tests/) log through these helpers too.
# Every pod start runs these scripts, on a node where all pods start at once: the helpers fork no process where a
# bash builtin does the same (functions that return a value take the name of the variable to set, as `printf -v`
# does, instead of being called in `$(...)`, which forks), and JSON is read with one jq call per value, not per field.

gs_log() { printf '[gitspace] %s%s\n' "${GS_LOG_TAG:+$GS_LOG_TAG: }" "$*" >&2; }
gs_info() { gs_log "$@"; }
gs_warn() { gs_log "WARNING: $*"; }
gs_error() { gs_log "ERROR: $*"; }
gs_die() {
    gs_error "$@"
    exit 1
}

# gs_script_dir VAR: set VAR to the absolute directory of the calling script, the path `cd "$(dirname "$0")" && pwd`
# prints; without forking when the script was run by an absolute path without `.`, `..` or `//` (every caller of
# the images and of gitspace-init.sh).
gs_script_dir() {
    local gs_src="${BASH_SOURCE[1]}" gs_dir
    if [[ "$gs_src" == */* ]]; then gs_dir="${gs_src%/*}"; else gs_dir=.; fi
    [[ -n "$gs_dir" ]] || gs_dir=/
    if [[ "$gs_dir" != /* || "$gs_dir" == *//* || "$gs_dir/" == */./* || "$gs_dir/" == */../* ]]; then
        gs_dir="$(cd "$gs_dir" && pwd)" || return 1
    fi
    printf -v "$1" '%s' "$gs_dir"
}

# Functions that set a caller's VAR keep their own locals prefixed gs_, so a caller's name is never shadowed.
# gs_now_ms [VAR]: milliseconds since the epoch, printed or set in VAR, without forking (bash 5 EPOCHREALTIME; falls
# back to date).
gs_now_ms() {
    local gs_ms gs_t
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        gs_t="${EPOCHREALTIME/[.,]/}"
        gs_ms=$((10#$gs_t / 1000))
    else
        gs_ms=$(($(date +%s%N) / 1000000))
    fi
    if (($#)); then printf -v "$1" '%s' "$gs_ms"; else printf '%s\n' "$gs_ms"; fi
}

# gs_duration START_MS [VAR]: "1.234s" since START_MS, printed or set in VAR.
gs_duration() {
    local gs_end gs_took
    gs_now_ms gs_end
    gs_took=$((gs_end - $1))
    if (($# > 1)); then
        printf -v "$2" '%d.%03ds' "$((gs_took / 1000))" "$((gs_took % 1000))"
    else
        printf '%d.%03ds' "$((gs_took / 1000))" "$((gs_took % 1000))"
    fi
}

# gs_utc_now VAR: set VAR to the current UTC time as `date -u +%Y-%m-%dT%H:%M:%SZ` prints it, without forking.
gs_utc_now() {
    TZ=UTC0 printf -v "$1" '%(%Y-%m-%dT%H:%M:%SZ)T' -1
}

# gs_step NAME COMMAND [ARG...]: run COMMAND as the step NAME, logging
#   [gitspace] step: NAME
#   [gitspace] step: NAME done in 0.012s        (or "failed (exit N) after ...")
# Returns the command's exit status.
gs_step() {
    local name="$1" start took rc=0
    shift
    gs_log "step: $name"
    gs_now_ms start
    "$@" || rc=$?
    gs_duration "$start" took
    if ((rc == 0)); then
        gs_log "step: $name done in $took"
    else
        gs_log "step: $name failed (exit $rc) after $took"
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

# gs_state_dir [VAR]: where the init step keeps its markers and reports, inside HOME; printed, or set in VAR.
gs_state_dir() {
    if (($#)); then
        printf -v "$1" '%s' "${GITSPACE_STATE_DIR:-${HOME:?HOME is not set}/.gitspace}"
    else
        printf '%s\n' "${GITSPACE_STATE_DIR:-${HOME:?HOME is not set}/.gitspace}"
    fi
}

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
        gs_error "$dir is not owned by uid $EUID; refusing to use it"
        return 1
    fi
    chmod 0700 -- "$dir"
}

# gs_write_if_changed FILE [MODE]: write stdin to FILE atomically (temp file + rename in the same directory) unless FILE
# already holds exactly that content. A symlink at FILE is replaced by the regular file, never written through.
# stdin is read with a bash builtin; content with a NUL byte, which a bash variable cannot hold, is compared with cmp.
gs_write_if_changed() {
    local file="$1" mode="${2:-0644}" tmp new=""
    if IFS= read -r -d '' new; then
        # A NUL byte: the rest goes through a temp file as it is.
        tmp="$(mktemp "${file%/*}/.${file##*/}.XXXXXX")" || return 1
        { printf '%s\0' "$new" && cat; } >"$tmp" || {
            rm -f -- "$tmp"
            return 1
        }
        if [[ -f "$file" && ! -L "$file" ]] && cmp -s -- "$tmp" "$file"; then
            rm -f -- "$tmp"
            return 0
        fi
        chmod "$mode" -- "$tmp" && mv -f -- "$tmp" "$file"
        return
    fi
    gs_write_content_if_changed "$file" "$mode" "$new"
}

# gs_write_content_if_changed FILE MODE CONTENT: gs_write_if_changed with the content given as an argument. The
# comparison with FILE's content is done with bash builtins: a warm start that changes nothing forks nothing here.
gs_write_content_if_changed() {
    local file="$1" mode="$2" tmp old=""
    if [[ -f "$file" && ! -L "$file" && -r "$file" ]] && ! IFS= read -r -d '' old <"$file" && [[ "$old" == "$3" ]]; then
        return 0
    fi
    tmp="$(mktemp "${file%/*}/.${file##*/}.XXXXXX")" || return 1
    printf '%s' "$3" >"$tmp" || {
        rm -f -- "$tmp"
        return 1
    }
    chmod "$mode" -- "$tmp" && mv -f -- "$tmp" "$file"
}

# The repository list GITSPACE_REPOS (JSON array of {name, url, branch?}) is the program's resolved, validated list:
# scripts read it with gs_repos_read and use the values as given.
# gs_repos_read JSON: read the list in one jq call into GS_REPO_COUNT and the arrays GS_REPO_NAME, GS_REPO_URL,
# GS_REPO_BRANCH: element I is the string JSON[I].KEY exactly (empty when absent or null), and is unset when that
# field is not a string (or the entry is not an object). Fails (count 0) when JSON is not one JSON array. Each value
# is its own NUL-terminated record of jq's output: no splitting on any separator (a NUL inside a value, which bash
# cannot hold, is dropped, as a command substitution drops it).
# shellcheck disable=SC2034 # GS_REPO_* and GS_FIELD are read by the scripts that source this file.
declare -g GS_REPO_COUNT=0 GS_REPO_NAME=() GS_REPO_URL=() GS_REPO_BRANCH=()
declare -gA GS_FIELD=()
# shellcheck disable=SC2034 # the arrays are the result.
gs_repos_read() {
    GS_REPO_COUNT=0
    GS_REPO_NAME=() GS_REPO_URL=() GS_REPO_BRANCH=()
    local records=() i=0 r
    # No repository (what the program writes for none, JSON.stringify([])): nothing to ask jq.
    [[ "$1" != "[]" ]] || return 0
    gs_records records -n "$GS_JQ_FIELD"'
        [inputs] | if length == 1 and (.[0] | type) == "array" then .[0] else error("not an array") end
        | (.[] | gs_field("name"), gs_field("url"), gs_field("branch")), "end\u0000"' 2>/dev/null <<<"$1" || return 1
    ((${#records[@]} % 3 == 0)) || return 1
    for ((r = 0; r < ${#records[@]}; r += 3, i++)); do
        [[ "${records[r]}" != s* ]] || GS_REPO_NAME[i]="${records[r]#s}"
        [[ "${records[r + 1]}" != s* ]] || GS_REPO_URL[i]="${records[r + 1]#s}"
        [[ "${records[r + 2]}" != s* ]] || GS_REPO_BRANCH[i]="${records[r + 2]#s}"
    done
    GS_REPO_COUNT=$i
}

# gs_json_fields JSON KEY...: read the string fields KEY... of the JSON object JSON (the program's single-entry values,
# GITSPACE_DOTFILES) in one jq call into the associative array GS_FIELD: GS_FIELD[KEY] is JSON.KEY exactly (empty when
# absent or null), unset when it is not a string. Fails when JSON is not one JSON object.
# shellcheck disable=SC2034 # GS_FIELD is the result.
gs_json_fields() {
    local json="$1" records=() keys i
    shift
    keys=("$@")
    GS_FIELD=()
    # shellcheck disable=SC2016 # jq's $ARGS.
    gs_records records -n "$GS_JQ_FIELD"'
        [inputs] | if length == 1 and (.[0] | type) == "object" then .[0] else error("not an object") end
        | gs_field($ARGS.positional[]), "end\u0000"' --args -- "$@" 2>/dev/null <<<"$json" || return 1
    ((${#records[@]} == $#)) || return 1
    for ((i = 0; i < $#; i++)); do
        [[ "${records[i]}" != s* ]] || GS_FIELD[${keys[i]}]="${records[i]#s}"
    done
}

# gs_repo_dirs: set the array GS_REPO_DIRS to the directory of each repository of GITSPACE_REPOS ($HOME/<name>, names
# as given; entries without a string name are left out). Fails (GS_REPO_DIRS empty) when the list is not an array.
# shellcheck disable=SC2034 # GS_REPO_DIRS is the result.
gs_repo_dirs() {
    local json="${GITSPACE_REPOS:-[]}" i
    GS_REPO_DIRS=()
    [[ -n "$json" ]] || json='[]'
    gs_repos_read "$json" || return 1
    for ((i = 0; i < GS_REPO_COUNT; i++)); do
        if [[ -n "${GS_REPO_NAME[i]:-}" ]]; then
            GS_REPO_DIRS+=("${HOME:?HOME is not set}/${GS_REPO_NAME[i]}")
        fi
    done
}

# gs_records VAR JQ_ARG...: run `jq -j JQ_ARG...` (its input on stdin) whose program prints NUL-terminated records and
# "end" as the last one; set the array VAR to the records (without "end"). Fails (VAR empty) when jq failed or
# stopped early.
gs_records() {
    local -n gs_records_out="$1"
    shift
    gs_records_out=()
    mapfile -d '' -t gs_records_out < <(jq -j "$@")
    if ((${#gs_records_out[@]} == 0)) || [[ "${gs_records_out[-1]}" != end ]]; then
        gs_records_out=()
        return 1
    fi
    unset 'gs_records_out[-1]'
}

# GS_JQ_FIELD: a jq function for gs_records programs, the one rule of gs_repos_read and gs_json_fields: the field $k of
# its input as one record, "s<value>" when it is a string (empty when absent or null; a NUL inside it dropped), "x"
# when it is not (or the input is not an object).
# shellcheck disable=SC2016,SC2034 # jq's own $variables; used by the functions above.
GS_JQ_FIELD='def gs_field($k): (try (((.[$k] // "") as $v | if ($v | type) == "string" then $v else error("\($k) is not a string") end)
        | "s" + (split("\u0000") | join(""))) catch "x") + "\u0000";'

# GS_JQ_LINES: a jq function for gs_records programs: each line of the string (or JSON text of any other value) as its
# own record "<prefix><line>", as `jq -r` and a `while read -r` loop split them.
# shellcheck disable=SC2016,SC2034 # jq's own $variables; used by the scripts that source this file.
GS_JQ_LINES='def gs_lines($prefix): (if type == "string" then . else tojson end | split("\u0000") | join("")) as $s
    | (if $s == "" then [""] else ($s | split("\n")) end)[] | $prefix + . + "\u0000";'
