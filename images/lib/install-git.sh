#!/usr/bin/env bash
# Install the distribution's git without the full Perl (47 MB: perl, perl-modules, libperl, liberror-perl): the
# package is downloaded from the configured archive (apt checks it against the signed index) and its control data
# rewritten by repack-git.sh (why that is safe, and how a later install still gets the real perl: see there).
# Fails when perl came in anyway (through another dependency).
# Usage: install-git.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

had_perl=0
dpkg-query -W -f='${Status}' perl 2>/dev/null | grep -q ' installed$' && had_perl=1
apt-get update
# As root into a root-owned directory (apt would otherwise warn that its _apt user cannot write there).
(cd "$work" && apt-get download -o APT::Sandbox::User=root git)
debs=("$work"/git_*.deb)
[[ -f "${debs[0]}" ]] || { echo "apt-get download git gave no package" >&2; exit 1; }
"$here/repack-git.sh" "${debs[0]}" "$work/git.deb"
# apt-install.sh: --no-install-recommends, the lists removed afterwards.
"$here/apt-install.sh" "$work/git.deb"

# Debian's git ships git, git-shell and scalar twice, as identical files in /usr/bin and /usr/lib/git-core: one
# inode for both (8 MB). dpkg replaces each file by renaming a new one over it, so an upgrade stays correct.
for f in /usr/bin/*; do
    twin="/usr/lib/git-core/${f##*/}"
    if [[ -f "$f" && ! -L "$f" && -f "$twin" && ! -L "$twin" && ! "$f" -ef "$twin" ]] && cmp -s "$f" "$twin"; then
        ln -f "$twin" "$f"
        echo "hard-linked $f to $twin"
    fi
done
git --version
if ((had_perl == 0)) && dpkg-query -W -f='${Status}' perl 2>/dev/null | grep -q ' installed$'; then
    echo "perl was installed with git anyway: $(apt-cache rdepends --installed perl 2>/dev/null | tr '\n' ' ')" >&2
    exit 1
fi
