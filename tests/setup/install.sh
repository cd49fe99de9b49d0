#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (shellcheck, git, OpenSSH, ...), listed one per line in
# tests/setup/apt-packages.txt. Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$here/../../scripts/common/lib.sh"
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$here/apt-packages.txt" | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  gs_log "test packages: all ${#wanted[@]} present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
gs_log "installing test packages: ${missing[*]}"
start=$SECONDS
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
gs_log "installed ${#missing[@]} packages in $((SECONDS - start)) s"
