#!/usr/bin/env bash
# Report the user each cloned repository's devcontainer.json asks for (remoteUser, else containerUser; formats name,
# uid, name:group, uid:gid) and warn clearly when it differs from the configured GITSPACE_USER/UID: the pod runs
# as the configured user (runAsUser is fixed by the pod spec), a devcontainer.json cannot change it.
# Never fails the init: a missing file means the default user, a malformed one is reported and ignored.
# Usage: detect-devcontainer-user.sh [REPO_DIR...]   (default: $HOME/<name> for each `name` of GITSPACE_REPOS, as given)
# Output: one JSON line per repository on stdout (`gitspace-devcontainer user`, images/devcontainer), log lines on
# stderr.
# Environment: GITSPACE_USER (vscode), GITSPACE_UID (1000), GITSPACE_GID, GITSPACE_REPOS,
#   GITSPACE_DEVCONTAINER (/usr/local/gitspace/bin/gitspace-devcontainer),
#   GITSPACE_PASSWD_FILE (/etc/passwd), GITSPACE_GROUP_FILE (/etc/group)
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

user="${GITSPACE_USER:-vscode}"
uid="${GITSPACE_UID:-1000}"
gid="${GITSPACE_GID:-$uid}"
devcontainer="${GITSPACE_DEVCONTAINER:-/usr/local/gitspace/bin/gitspace-devcontainer}"
passwd="${GITSPACE_PASSWD_FILE:-/etc/passwd}"
group="${GITSPACE_GROUP_FILE:-/etc/group}"

repos=("$@")
if ((${#repos[@]} == 0)); then
    home="${HOME:?HOME is not set}"
    if [[ -n "${GITSPACE_REPOS:-}" ]] && command -v jq >/dev/null && gs_repos_read "$GITSPACE_REPOS"; then
        for ((i = 0; i < GS_REPO_COUNT; i++)); do
            if [[ -n "${GS_REPO_NAME[i]:-}" ]]; then
                repos+=("$home/${GS_REPO_NAME[i]}")
            fi
        done
    fi
fi
if ((${#repos[@]} == 0)); then
    gs_log "devcontainer user: no repository to inspect; the IDE runs as $user (uid $uid)"
    exit 0
fi
if ! command -v "$devcontainer" >/dev/null; then
    gs_error "devcontainer user: $devcontainer not found: devcontainer.json not inspected; the IDE runs as $user (uid $uid)"
    exit 0
fi

for repo in "${repos[@]}"; do
    if [[ ! -d "$repo" ]]; then
        gs_log "devcontainer user: $repo is not there (clone failed?), skipped"
        continue
    fi
    if ! out="$("$devcontainer" user --repo "$repo" --passwd "$passwd" --group "$group" --default-user "$user")"; then
        gs_error "devcontainer user: could not inspect $repo; the IDE runs as $user (uid $uid)"
        continue
    fi
    printf '%s\n' "$out"
    IFS=$'\t' read -r file source spec want_user want_uid want_gid error < <(jq -r '[.file // "-", .source, .spec // "-", .user // "-", (.uid // "-" | tostring), (.gid // "-" | tostring), .error // "-"] | join("\t")' <<<"$out")
    if [[ "$error" != - ]]; then
        gs_error "devcontainer user: $error; using the default user $user"
        continue
    fi
    if [[ "$file" == - ]]; then
        gs_log "devcontainer user: $repo has no devcontainer.json; the IDE runs as $user (uid $uid)"
        continue
    fi
    gs_log "devcontainer user: $file asks for $source '$spec' (user ${want_user/#-/unknown}, uid ${want_uid/#-/unknown}, gid ${want_gid/#-/unknown})"
    mismatch=()
    [[ "$want_user" == - || "$want_user" == "$user" ]] || mismatch+=("user $want_user != $user")
    [[ "$want_uid" == - || "$want_uid" == "$uid" ]] || mismatch+=("uid $want_uid != $uid")
    [[ "$want_gid" == - || "$want_gid" == "$gid" ]] || mismatch+=("gid $want_gid != $gid")
    if ((${#mismatch[@]})); then
        gs_warn "devcontainer user: $file asks for '$spec' but this gitspace runs as $user (uid $uid, gid $gid): ${mismatch[*]}. The pod's runAsUser is fixed by the gitspace config; set the developer's user in the stack config to match, or change remoteUser/containerUser."
    fi
done
