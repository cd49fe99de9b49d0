#!/usr/bin/env bash
# IDE container command of the JetBrains family (intellij, goland, pycharm, ...): JetBrains Gateway connects over SSH
# and installs the IDE backend in HOME (~/.cache/JetBrains/RemoteDev) at connect time. Prepares the directories the
# backend uses, logs the connection hint, then runs the common sshd (run-ssh-server.sh).
set -euo pipefail
# shellcheck source=../common/lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/../common/lib.sh" ;; *) . ../common/lib.sh ;; esac

declare here
gs_script_dir here
home="${HOME:?HOME is not set}"
for d in .cache/JetBrains .config/JetBrains .local/share/JetBrains; do
    [[ -e "$home/$d" || -L "$home/$d" ]] || mkdir -p -- "$home/$d"
done
[[ -n "${JAVA_HOME:-}" ]] && gs_log "jetbrains: JAVA_HOME=$JAVA_HOME"
gs_log "jetbrains: connect JetBrains Gateway over SSH to ${GITSPACE_USER:-$(id -un)}@<gitspace host> port ${GITSPACE_IDE_PORT:-8088} (${GITSPACE_IDE:-jetbrains}), project directory $home"
exec "$here/../common/run-ssh-server.sh"
