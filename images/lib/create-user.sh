#!/usr/bin/env bash
# Create the developer user NAME with UID:GID and HOME /home/NAME, shell bash.
# Any other user or group already holding UID/GID is removed first: Ubuntu 24.04 ships user and group `ubuntu` with
# 1000:1000, and `useradd -u 1000` fails there. Idempotent: on Debian (no such user) or on a second run it only
# makes sure the user exists.
# Usage: create-user.sh NAME UID GID
set -euo pipefail

(($# == 3)) || { echo "usage: $0 NAME UID GID" >&2; exit 2; }
name="$1" uid="$2" gid="$3"

# Remove another user holding the uid (its home too: it is image content, not user data).
other_user="$(getent passwd "$uid" | cut -d: -f1 || true)"
if [[ -n "$other_user" && "$other_user" != "$name" ]]; then
    echo "removing user $other_user (uid $uid)"
    userdel --remove "$other_user" 2>/dev/null || userdel "$other_user"
fi
other_group="$(getent group "$gid" | cut -d: -f1 || true)"
if [[ -n "$other_group" && "$other_group" != "$name" ]]; then
    echo "removing group $other_group (gid $gid)"
    groupdel "$other_group"
fi

getent group "$name" >/dev/null || groupadd --gid "$gid" "$name"
if ! getent passwd "$name" >/dev/null; then
    useradd --uid "$uid" --gid "$gid" --create-home --home-dir "/home/$name" --shell /bin/bash "$name"
fi

[[ "$(id -u "$name"):$(id -g "$name")" == "$uid:$gid" ]] || { echo "$name is not $uid:$gid" >&2; exit 1; }
install -d -o "$uid" -g "$gid" -m 0755 "/home/$name"
