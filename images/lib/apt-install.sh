#!/usr/bin/env bash
# Install Debian/Ubuntu packages the way every gitspace image does: no recommends, no apt lists or caches left.
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
