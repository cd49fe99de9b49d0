#!/usr/bin/env bash
# IDE container command of `cursor` and `windsurf`: they connect over SSH like VS Code Remote-SSH and install their
# server in HOME at connect time (~/.cursor-server, ~/.windsurf-server). Prepares that directory, logs the connection
# hint, then runs the common sshd (run-ssh-server.sh).
set -euo pipefail
# shellcheck source=../common/lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/../common/lib.sh" ;; *) . ../common/lib.sh ;; esac

declare here
gs_script_dir here
home="${HOME:?HOME is not set}"
case "${GITSPACE_IDE:-cursor}" in
    windsurf) server_dir=.windsurf-server ;;
    *) server_dir=.cursor-server ;;
esac
[[ -e "$home/$server_dir" || -L "$home/$server_dir" ]] || mkdir -p -- "$home/$server_dir"
gs_log "${GITSPACE_IDE:-cursor}: connect with Remote-SSH to ${GITSPACE_USER:-$(id -un)}@<gitspace host> port ${GITSPACE_IDE_PORT:-8088}, folder $home (server files in ~/$server_dir)"
exec "$here/../common/run-ssh-server.sh"
