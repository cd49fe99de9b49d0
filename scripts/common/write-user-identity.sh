#!/usr/bin/env bash
# Write the passwd and group files the IDE container mounts over /etc/passwd and /etc/group, so that `id` there
# prints the configured user (an init container's own /etc never reaches the IDE container).
# They are the image's files with the configured user added and every entry that conflicts with it removed: a user
# with the same name or uid, a group with the same name or gid (Ubuntu 24.04 ships `ubuntu` holding 1000:1000).
# Removed users are also dropped from the member lists of the remaining groups. Runs as non-root. Idempotent: files
# already holding the right content are not rewritten.
# Environment:
#   GITSPACE_USER (vscode), GITSPACE_UID (1000), GITSPACE_GID (= GITSPACE_UID)
#   GITSPACE_USER_HOME (default $HOME, else /home/$GITSPACE_USER), GITSPACE_USER_SHELL (/bin/bash)
#   GITSPACE_ETC_DIR (/etc): where the image's passwd and group are read
#   GITSPACE_IDENTITY_DIR (/var/run/gitspace/identity): where passwd and group are written
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

user="${GITSPACE_USER:-vscode}"
uid="${GITSPACE_UID:-1000}"
gid="${GITSPACE_GID:-$uid}"
home="${GITSPACE_USER_HOME:-${HOME:-/home/$user}}"
shell="${GITSPACE_USER_SHELL:-/bin/bash}"
etc="${GITSPACE_ETC_DIR:-/etc}"
out="${GITSPACE_IDENTITY_DIR:-/var/run/gitspace/identity}"

[[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || gs_die "GITSPACE_USER '$user' is not a valid user name ([a-z_][a-z0-9_-]*, at most 32 characters)"
[[ "$uid" =~ ^[0-9]+$ && "$gid" =~ ^[0-9]+$ ]] || gs_die "GITSPACE_UID/GITSPACE_GID must be numbers (got '$uid'/'$gid')"
((uid != 0 && gid != 0)) || gs_die "GITSPACE_UID/GITSPACE_GID must not be 0: the developer is never root"
[[ "$user" != root ]] || gs_die "GITSPACE_USER must not be root"
[[ "$home" == /* && "$home" != *:* && "$shell" == /* && "$shell" != *:* ]] || gs_die "home '$home' and shell '$shell' must be absolute paths without ':'"
for f in passwd group; do
    [[ -r "$etc/$f" ]] || gs_die "cannot read $etc/$f"
done
[[ -d "$out" && ! -L "$out" ]] || gs_die "identity directory $out does not exist or is a symlink (the pod mounts an emptyDir there)"
[[ -w "$out" ]] || gs_die "identity directory $out is not writable by uid $EUID"

# Users removed because they hold our name or uid (their names are also dropped from group member lists).
removed_users="$(awk -F: -v u="$user" -v id="$uid" '$1 != u && $3 == id { printf "%s%s", sep, $1; sep = "," }' "$etc/passwd")"

awk -F: -v OFS=: -v u="$user" -v id="$uid" -v g="$gid" -v h="$home" -v s="$shell" '
    NF == 0 || $1 == u || $3 == id { next }
    { print }
    END { print u, "x", id, g, u, h, s }
' "$etc/passwd" | gs_write_if_changed "$out/passwd" 0644

awk -F: -v OFS=: -v u="$user" -v g="$gid" -v removed="$removed_users" '
    BEGIN { n = split(removed, r, ","); for (i = 1; i <= n; i++) gone[r[i]] = 1 }
    NF == 0 || $1 == u || $3 == g { next }
    {
        m = split($4, members, ","); kept = ""
        for (i = 1; i <= m; i++) if (members[i] != "" && !(members[i] in gone)) kept = kept (kept == "" ? "" : ",") members[i]
        $4 = kept; print
    }
    END { print u, "x", g, "" }
' "$etc/group" | gs_write_if_changed "$out/group" 0644

gs_log "identity: $user uid=$uid gid=$gid home=$home written to $out/{passwd,group}${removed_users:+ (replaced conflicting user(s): $removed_users)}"
