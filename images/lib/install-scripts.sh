#!/usr/bin/env bash
# Last build step of every flavor, after `COPY scripts/<dir>/ /usr/local/gitspace/scripts/<dir>/`: make the scripts
# root-owned, not writable by anyone else, executables executable (whatever modes the build context had), and register
# the gitspace git credential helper system-wide (/etc/gitconfig).
set -euo pipefail

root="${GITSPACE_SCRIPTS_DIR:-/usr/local/gitspace/scripts}"
[[ -d "$root" ]] || { echo "no scripts in $root" >&2; exit 1; }

chown -R root:root "$root"
find "$root" -type d -exec chmod 0755 {} +
while IFS= read -r -d '' f; do
    if [[ "$f" == *.sh || "$(head -c2 "$f")" == '#!' ]]; then chmod 0755 "$f"; else chmod 0644 "$f"; fi
done < <(find "$root" -type f -print0)

# Git credentials: the helper reads the mounted Secret at use time, so no token is ever written anywhere.
setup="$root/common/setup-git-credentials.sh"
helper="$root/common/git-credential-gitspace"
if [[ -x "$setup" ]] && grep -q -- '--system' "$setup"; then
    "$setup" --system
else
    git config --system --replace-all credential.helper "$helper"
fi
git config --system --get-all credential.helper
