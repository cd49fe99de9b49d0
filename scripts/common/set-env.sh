#!/usr/bin/env bash
# Make HOME usable for login shells. A fresh (empty) HOME volume hides the image's /home/<user>, so the skeleton
# dotfiles (.bashrc, .profile, ...) are copied from /etc/skel once, each only when HOME has no entry of that name:
# a user file is never overwritten, and a dotfile the user deletes later is not brought back (marker
# $GITSPACE_STATE_DIR/skel.done).
# PATH and the other tool variables come from the image (Dockerfile ENV) for the IDE process, and from the sshd
# config (SetEnv, run-ssh-server.sh) for SSH sessions: nothing is written into the user's dotfiles.
# Environment: HOME, GITSPACE_SKEL_DIR (/etc/skel), GITSPACE_STATE_DIR ($HOME/.gitspace)
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

home="${HOME:?HOME is not set}"
skel="${GITSPACE_SKEL_DIR:-/etc/skel}"
declare state
gs_state_dir state

[[ -d "$home" && ! -L "$home" ]] || gs_die "HOME $home is not a directory"
[[ -w "$home" ]] || gs_die "HOME $home is not writable by uid $EUID (is the volume's fsGroup set?)"
gs_ensure_private_dir "$state"

if [[ -e "$state/skel.done" ]]; then
    gs_log "skeleton dotfiles: already set up (marker $state/skel.done)"
    exit 0
fi

copied=() kept=()
if [[ -d "$skel" ]]; then
    while IFS= read -r -d '' entry; do
        name="${entry##*/}"
        if [[ -e "$home/$name" || -L "$home/$name" ]]; then
            kept+=("$name")
        else
            # -T: never copy *into* an existing directory; --no-dereference keeps symlinks as symlinks.
            cp -a -T --no-dereference -- "$entry" "$home/$name"
            copied+=("$name")
        fi
    done < <(find "$skel" -mindepth 1 -maxdepth 1 -print0)
else
    gs_warn "no skeleton directory $skel: HOME gets no default dotfiles"
fi
: >"$state/skel.done"
gs_log "skeleton dotfiles: copied ${#copied[@]} (${copied[*]:-none}), kept ${#kept[@]} existing (${kept[*]:-none})"
