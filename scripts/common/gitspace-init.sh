#!/usr/bin/env bash
# Entrypoint of the init container `gitspace-init` (runs as the developer, non-root). Prepares HOME on the volume and
# the identity files of the IDE container, then exits 0 when HOME is ready. Each step is logged as
#   [gitspace] step: NAME ... [gitspace] step: NAME done in 0.012s
# Steps: supported-os-distribution, migrate-to-home (GITSPACE_MIGRATE_LEGACY=true, or an interrupted migration to
# finish), write-user-identity, set-env, setup-git-credentials, clone-code (the repos and the dotfiles repository),
# detect-devcontainer-user. What runs the developer's own code (the dotfiles' install script, devcontainer.json
# lifecycle commands) is not here: it runs in the IDE container (run-lifecycle.sh), which has its own root filesystem.
# A failed clone does not fail the init (the IDE opens; see clone-code.sh); a migration that leaves some entries
# in place (exit 3) is reported and does not fail it either: HOME is usable.
# Warm start: every step is O(1) in the size of HOME (markers in $HOME/.gitspace, no walk, no chown).
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

declare here
gs_script_dir here
home="${HOME:?HOME is not set}"
declare started took at
gs_now_ms started
gs_log "init: user ${GITSPACE_USER:-vscode} (uid $EUID, gid $(id -g)), HOME $home, IDE ${GITSPACE_IDE:-unknown}"
[[ -d "$home" ]] || gs_die "init: HOME $home does not exist (is the home volume mounted?)"

gs_step supported-os-distribution "$here/supported-os-distribution.sh"

if gs_is_true "${GITSPACE_MIGRATE_LEGACY:-false}" GITSPACE_MIGRATE_LEGACY || [[ -s "$home/.gitspace/migration.journal" && ! -e "$home/.gitspace/migration.done" ]]; then
    rc=0
    gs_step migrate-to-home "$here/migrate-to-home.sh" "$home" || rc=$?
    case "$rc" in
        0) ;;
        3) gs_warn "init: the legacy layout was not fully migrated (see $home/.gitspace/migration.json); continuing, HOME is usable" ;;
        *) gs_die "init: migration failed (exit $rc); HOME is not ready" ;;
    esac
else
    gs_log "step: migrate-to-home skipped (GITSPACE_MIGRATE_LEGACY is not true)"
fi

# From here on this init writes into HOME: mark it as prepared by a gitspace (first time only), so a later
# GITSPACE_MIGRATE_LEGACY=true never takes the user's own ~/workspaces for the legacy layout (migrate-to-home.sh).
if [[ ! -e "$home/.gitspace/initialized.json" ]]; then
    gs_ensure_private_dir "$home/.gitspace" || gs_die "init: cannot use $home/.gitspace"
    gs_utc_now at
    jq -cn --arg at "$at" '{first_init_at: $at}' | gs_write_if_changed "$home/.gitspace/initialized.json" 0644
fi

gs_step write-user-identity "$here/write-user-identity.sh"
gs_step set-env "$here/set-env.sh"
gs_step setup-git-credentials "$here/setup-git-credentials.sh"
gs_step clone-code "$here/clone-code.sh"
gs_step detect-devcontainer-user "$here/detect-devcontainer-user.sh" >/dev/null || gs_warn "init: detect-devcontainer-user failed; ignored"

gs_duration "$started" took
gs_log "init: HOME $home ready in $took"
