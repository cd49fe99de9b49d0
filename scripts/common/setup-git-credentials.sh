#!/usr/bin/env bash
# Git credentials without a secret on disk: the helper git-credential-gitspace (next to this script) reads the
# mounted Secret at use time. The helper is registered in the *system* git config, never in HOME nor in a
# repository's .git/config.
#
# Modes:
#   setup-git-credentials.sh --system   Image build time, as root: register the helper in the system gitconfig
#                                        (/etc/gitconfig; git honours GIT_CONFIG_SYSTEM to point elsewhere). The
#                                        Dockerfile runs: RUN /usr/local/gitspace/scripts/common/setup-git-credentials.sh --system
#                                        (images/lib/install-scripts.sh does it after copying the scripts).
#   setup-git-credentials.sh            Runtime (init container, non-root): verify the helper is registered and log
#                                        whether credentials are mounted. Writes nothing; never prints the token.
# Environment: GITSPACE_GIT_CREDENTIALS_DIR (/etc/gitspace/git), GIT_CONFIG_SYSTEM (git's own, default /etc/gitconfig)
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

declare here
gs_script_dir here
helper="$here/git-credential-gitspace"
dir="${GITSPACE_GIT_CREDENTIALS_DIR:-/etc/gitspace/git}"
system_config="${GIT_CONFIG_SYSTEM:-/etc/gitconfig}"

command -v git >/dev/null || gs_die "git is not installed"
[[ -x "$helper" ]] || gs_die "credential helper $helper is missing or not executable"

case "${1:-}" in
    --system)
        # --replace-all: exactly one helper entry, whatever a base image configured before.
        git config --system --replace-all credential.helper "$helper"
        gs_log "git credential helper registered in $system_config: $helper"
        exit 0
        ;;
    "") ;;
    *) gs_die "usage: $0 [--system]" ;;
esac

registered=0
while IFS= read -r value; do
    [[ "$value" == "$helper" ]] && registered=1
done < <(git config --system --get-all credential.helper 2>/dev/null || true)
if ((registered)); then
    gs_log "git credential helper: registered in $system_config"
else
    gs_warn "git credential helper $helper is not registered in $system_config (the image must run '$0 --system' at build time); clone-code.sh passes it explicitly, but git in the IDE will not find the credentials"
fi

if [[ -r "$dir/username" && -r "$dir/token" ]]; then
    if [[ -s "$dir/token" ]]; then
        gs_log "git credentials: mounted in $dir (username and token present; the token is read by the helper at use time)"
    else
        gs_warn "git credentials: $dir/token is empty"
    fi
    if [[ -s "$dir/hosts" ]]; then
        scopes=()
        mapfile -t scopes <"$dir/hosts" || true
        gs_log "git credentials: given only to ${#scopes[@]} scope(s) listed in $dir/hosts"
    else
        gs_warn "git credentials: $dir/hosts is missing or empty: the helper gives the token to no host"
    fi
elif [[ -e "$dir/token" || -e "$dir/username" ]]; then
    gs_warn "git credentials: $dir holds an incomplete or unreadable pair (need readable 'username' and 'token'); git will run without credentials"
else
    gs_log "git credentials: none mounted in $dir (public repositories only)"
fi
