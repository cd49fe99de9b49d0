#!/usr/bin/env bash
# Clone every repository of GITSPACE_REPOS into $HOME/<name>, and the dotfiles repository GITSPACE_DOTFILES into
# $HOME/.dotfiles (its install script runs later, in the IDE container: install-dotfiles.sh).
#   GITSPACE_REPOS='[{"name":"api","url":"https://host/org/api.git","branch":"main"}]'  (branch optional)
#   GITSPACE_DOTFILES='{"url":"https://host/alice/dotfiles.git","branch":"main"}'       (optional; empty: none)
# The list is the program's resolved and validated one (components/repo.ts: URL, directory name, branch): this script
# uses each value as given (read with jq: gs_repos_read, gs_json_fields), and derives or re-checks nothing.
# Rules:
# - an existing $HOME/<name> (anything, even a symlink or an empty dir) is never touched: skipped and logged;
# - each clone goes into a temp dir inside HOME (same filesystem) and is renamed into place only when complete, so a
#   failure (bad URL, bad credentials, unreachable host) leaves no half repo: only that temp dir is removed;
# - attempts with exponential backoff: GITSPACE_CLONE_ATTEMPTS (3), first delay GITSPACE_CLONE_RETRY_DELAY seconds (2);
# - credentials come only from the helper git-credential-gitspace, passed on the command line as the only helper (a
#   helper of the user's own ~/.gitconfig, e.g. `store`, never receives the token);
# - git never prompts (GIT_TERMINAL_PROMPT=0, ssh BatchMode).
# Dotfiles: an existing ~/.dotfiles that is a checkout of the configured URL is kept as it is (the developer's own
# edits stay); a checkout of another URL (the config changed) or any other directory is moved aside to
# ~/.dotfiles.replaced-<UTC time> (never deleted) and the configured repository cloned; a symlink or an entry owned by
# another uid is left untouched and reported.
# A failed clone does not fail the init by default: the IDE still opens, the log says ERROR and why, and
# $GITSPACE_STATE_DIR/clone-status.json records the state of every repository (ok/failed; the file only changes when a
# state changes, so a warm start rewrites nothing). GITSPACE_CLONE_STRICT=true makes
# this script exit 1 when any repository failed.
# Clones belong to the running user, so git's safe.directory check passes without configuration; an existing
# checkout owned by another uid is reported (git would refuse it) but nothing is written to the user's git config.
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

declare here
gs_script_dir here
helper="$here/git-credential-gitspace"
home="${HOME:?HOME is not set}"
declare state
gs_state_dir state
attempts="${GITSPACE_CLONE_ATTEMPTS:-3}"
delay="${GITSPACE_CLONE_RETRY_DELAY:-2}"
repos_json="${GITSPACE_REPOS:-[]}"
[[ -n "$repos_json" ]] || repos_json='[]'

[[ "$attempts" =~ ^[1-9][0-9]*$ ]] || gs_die "GITSPACE_CLONE_ATTEMPTS must be a positive integer (got '$attempts')"
[[ "$delay" =~ ^[0-9]+([.][0-9]+)?$ ]] || gs_die "GITSPACE_CLONE_RETRY_DELAY must be a number of seconds (got '$delay')"
command -v git >/dev/null || gs_die "git is not installed"
command -v jq >/dev/null || gs_die "jq is not installed"
[[ -d "$home" && -w "$home" ]] || gs_die "HOME $home is not a writable directory"
gs_ensure_private_dir "$state"

export GIT_TERMINAL_PROMPT=0
export GIT_SSH_COMMAND="${GIT_SSH_COMMAND:-ssh -o BatchMode=yes -o ConnectTimeout=20}"
unset GIT_ASKPASS SSH_ASKPASS

# Temp dirs of a run that was killed (kill -9, node eviction) before it could clean up: they are ours by name (real
# directories owned by this uid).
shopt -s nullglob
for stale in "$home"/.gitspace-clone-*.??????; do
    [[ -d "$stale" && ! -L "$stale" && -O "$stale" ]] || continue
    gs_warn "clone: removing the temp dir of an interrupted clone: $stale"
    rm -rf -- "$stale"
done
shopt -u nullglob

# The fields of each record (NAME URL STATE DETAIL), four by four; clone-status.json is written from them at the end.
statuses=()
failures=0
# record NAME URL STATE DETAIL
record() {
    statuses+=("$1" "$2" "$3" "$4")
    if [[ "$3" == failed ]]; then failures=$((failures + 1)); fi
}

# last_error FILE: the most telling line of git's stderr, for the log.
last_error() {
    grep -E '^(fatal|error|remote):' "$1" | tail -n 2 | tr '\n' ' ' | sed 's/ *$//' || true
}

clone_one() {
    local url="$1" name="$2" branch="$3" target tmp attempt wait errfile reason=""
    target="$home/$name"
    if [[ -e "$target" || -L "$target" ]]; then
        local owner
        gs_log "clone $name: $target already exists, left untouched"
        if [[ ! -L "$target" && ! -O "$target" ]]; then
            owner="$(stat -c %u -- "$target" 2>/dev/null || echo '?')"
            gs_warn "clone $name: $target is owned by uid $owner, not $EUID; git will refuse it until it is trusted (git config --global --add safe.directory $target)"
        fi
        record "$name" "$url" ok "ready"
        return 0
    fi
    tmp="$(mktemp -d "$home/.gitspace-clone-$name.XXXXXX")"
    errfile="$tmp/git-stderr"
    wait="$delay"
    for ((attempt = 1; attempt <= attempts; attempt++)); do
        gs_log "clone $name: attempt $attempt/$attempts from $url${branch:+ (branch $branch)}"
        local args=(-c credential.helper= -c "credential.helper=$helper" clone --quiet --no-hardlinks)
        [[ -n "$branch" ]] && args+=(--branch "$branch")
        if git "${args[@]}" -- "$url" "$tmp/repo" 2>"$errfile"; then
            # rename into place; -n + -T: never replace something that appeared at the target meanwhile.
            if mv -n -T -- "$tmp/repo" "$target" && [[ ! -e "$tmp/repo" ]]; then
                rm -rf -- "$tmp"
                gs_log "clone $name: cloned into $target ($(git -C "$target" rev-parse --abbrev-ref HEAD 2>/dev/null || echo '?') at $(git -C "$target" rev-parse --short HEAD 2>/dev/null || echo '?'))"
                record "$name" "$url" ok "ready"
                return 0
            fi
            reason="$target appeared during the clone; left untouched"
            break
        fi
        reason="$(last_error "$errfile")"
        [[ -n "$reason" ]] || reason="git clone failed"
        rm -rf -- "$tmp/repo"
        if ((attempt < attempts)); then
            gs_warn "clone $name: attempt $attempt/$attempts failed: $reason; retrying in ${wait}s"
            sleep "$wait"
            wait="$(awk -v w="$wait" 'BEGIN { print w * 2 }')"
        fi
    done
    rm -rf -- "$tmp"
    gs_error "clone $name: failed after $((attempt > attempts ? attempts : attempt)) attempt(s): $reason (nothing left in $target)"
    record "$name" "$url" failed "$reason"
    return 0
}

if ! gs_repos_read "$repos_json"; then
    gs_error "GITSPACE_REPOS is not a JSON array; no repository cloned"
    record "" "" failed "GITSPACE_REPOS is not a JSON array"
else
    count="$GS_REPO_COUNT"
    plural=ies
    ((count != 1)) || plural=y
    gs_log "clone: $count repositor$plural to clone into $home"
    for ((i = 0; i < count; i++)); do
        if [[ -v 'GS_REPO_NAME[i]' && -v 'GS_REPO_URL[i]' && -v 'GS_REPO_BRANCH[i]' && -n "${GS_REPO_NAME[i]}" && -n "${GS_REPO_URL[i]}" ]]; then
            clone_one "${GS_REPO_URL[i]}" "${GS_REPO_NAME[i]}" "${GS_REPO_BRANCH[i]}"
        else
            gs_error "clone: GITSPACE_REPOS[$i] lacks a string name or url; skipped"
            record "" "" failed "GITSPACE_REPOS[$i] is malformed"
        fi
    done
fi

# set_aside_dotfiles TARGET URL: 0 when TARGET is free for a clone of URL (absent, or moved aside now), 2 when it is
# already a checkout of URL, 1 when it must be left alone (reported).
set_aside_dotfiles() {
    local target="$1" url="$2" current="" aside
    [[ -e "$target" || -L "$target" ]] || return 0
    if [[ -L "$target" || ! -d "$target" || ! -O "$target" ]]; then
        gs_error "dotfiles: $target is not a directory of uid $EUID (a symlink, a file or another owner's); left untouched, dotfiles not cloned"
        return 1
    fi
    if [[ -d "$target/.git" ]]; then
        current="$(git -C "$target" config --get remote.origin.url 2>/dev/null || true)"
    fi
    [[ "$current" != "$url" ]] || return 2
    aside="$target.replaced-$(date -u +%Y%m%dT%H%M%SZ)"
    if ! mv -n -T -- "$target" "$aside" || [[ -e "$target" ]]; then
        gs_error "dotfiles: cannot move $target aside; left untouched, dotfiles not cloned"
        return 1
    fi
    gs_warn "dotfiles: $target was ${current:+a checkout of another URL}${current:-not a checkout of the configured URL}; moved aside to $aside (nothing deleted)"
    return 0
}

dotfiles_json="${GITSPACE_DOTFILES:-}"
if [[ -n "$dotfiles_json" ]]; then
    if gs_json_fields "$dotfiles_json" url branch && [[ -v 'GS_FIELD[url]' && -v 'GS_FIELD[branch]' && -n "${GS_FIELD[url]}" ]]; then
        url="${GS_FIELD[url]}" branch="${GS_FIELD[branch]}"
        rc=0
        set_aside_dotfiles "$home/.dotfiles" "$url" || rc=$?
        case "$rc" in
            0) clone_one "$url" .dotfiles "$branch" ;;
            2) record .dotfiles "$url" ok "ready" && gs_log "clone .dotfiles: $home/.dotfiles is already a checkout of the configured URL, left as it is" ;;
            *) record .dotfiles "$url" failed "$home/.dotfiles left untouched (see the log)" ;;
        esac
    else
        gs_error "clone: GITSPACE_DOTFILES lacks a string url; dotfiles skipped"
        record .dotfiles "" failed "GITSPACE_DOTFILES is malformed"
    fi
fi

if ((${#statuses[@]})); then
    # One jq call for every record; after `--`, no field is taken for an option.
    jq -n '[$ARGS.positional as $f | range(0; $f | length; 4) | {name: $f[.], url: $f[. + 1], state: $f[. + 2], detail: $f[. + 3]}]' \
        --args -- "${statuses[@]}"
else
    echo '[]'
fi | gs_write_if_changed "$state/clone-status.json" 0644

if ((failures)); then
    plural=ies
    ((failures != 1)) || plural=y
    gs_error "clone: $failures repositor$plural failed (see above and $state/clone-status.json)"
    gs_is_true "${GITSPACE_CLONE_STRICT:-false}" GITSPACE_CLONE_STRICT && exit 1
    exit 0
fi
gs_log "clone: all repositories ready"
