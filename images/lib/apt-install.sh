#!/usr/bin/env bash
# Install Debian/Ubuntu packages the way every gitspace image does: no recommends, no apt lists, caches or backups
# left.
# Usage: apt-install.sh PACKAGE...
set -euo pipefail

(($#)) || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
# Minimized Ubuntu images exclude /usr/share/man; some postinst scripts (openjdk's update-alternatives) need it.
mkdir -p /usr/share/man/man1
apt-get update
apt-get install -y --no-install-recommends "$@"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# The backups dpkg and debconf write on every run (status-old, templates.dat-old: ~1 MB per image layer).
rm -f /var/lib/dpkg/*-old /var/cache/debconf/*-old
