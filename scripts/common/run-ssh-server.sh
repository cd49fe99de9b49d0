#!/usr/bin/env bash
# IDE container command of the SSH IDEs (VS Code Remote-SSH, and the base of run-jetbrains.sh / run-cursor.sh):
# prepare sshd (setup-ssh-server.sh) and replace this shell with `sshd -D -e` (foreground, logs on stderr), running
# as the developer on $GITSPACE_IDE_PORT. Before it: session-env.sh (containerEnv/remoteEnv of the repos, passed to
# sessions with SetEnv) and, in the background, run-lifecycle.sh (dotfiles, devcontainer.json lifecycle commands).
# Environment: see setup-ssh-server.sh.
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

declare here
gs_script_dir here
sshd="${GITSPACE_SSHD:-/usr/sbin/sshd}"
# The repositories' containerEnv/remoteEnv (session-env.sh) reach SSH sessions through sshd's SetEnv.
names=()
while IFS= read -r -d '' kv; do
    export "${kv?}"
    names+=("${kv%%=*}")
done < <("$here/session-env.sh" || true)
export GITSPACE_SESSION_ENV_NAMES="${names[*]:-}"
config="$("$here/setup-ssh-server.sh")"
# The developer's own setup (dotfiles, devcontainer.json lifecycle commands) in the background, as this user.
# The subshell exits at once: the runner is reparented to tini (PID 1), which reaps it (sshd would not).
("$here/run-lifecycle.sh" </dev/null >/dev/null &)
cd "${HOME:-/}"
gs_log "sshd: starting on port ${GITSPACE_IDE_PORT:-8088}"
exec "$sshd" -D -e -f "$config"
