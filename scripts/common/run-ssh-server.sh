#!/usr/bin/env bash
# IDE container command of the SSH IDEs (VS Code Remote-SSH, and the base of run-jetbrains.sh / run-cursor.sh):
# prepare sshd (setup-ssh-server.sh) and replace this shell with `sshd -D -e` (foreground, logs on stderr), running
# as the developer on $GITSPACE_IDE_PORT. Environment: see setup-ssh-server.sh.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sshd="${GITSPACE_SSHD:-/usr/sbin/sshd}"
config="$("$here/setup-ssh-server.sh")"
cd "${HOME:-/}"
gs_log "sshd: starting on port ${GITSPACE_IDE_PORT:-8088}"
exec "$sshd" -D -e -f "$config"
