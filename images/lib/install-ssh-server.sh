#!/usr/bin/env bash
# The OpenSSH server of the SSH flavors (vscode-desktop, jetbrains, cursor). sshd runs as the developer at runtime
# (scripts/common/run-ssh-server.sh) with host keys mounted from a Secret, so the image ships no host key: every
# image built would otherwise share the same keys.
# Usage: install-ssh-server.sh [EXTRA_PACKAGE...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Do not let the package start a daemon inside the build.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT

"$here/apt-install.sh" openssh-server "$@"

rm -f /etc/ssh/ssh_host_*
# sshd -t and a root-started sshd want the privilege separation directory; harmless for a user-run sshd.
install -d -m 0755 /run/sshd
# Fail the build if a key is still there (e.g. a distribution that generates them elsewhere).
if compgen -G '/etc/ssh/ssh_host_*' >/dev/null; then
    echo "host keys left in /etc/ssh" >&2
    exit 1
fi
test -x /usr/sbin/sshd
