#!/usr/bin/env bash
# Keep files nobody reads at runtime out of the gitspace images: documentation (only the copyright files stay, they
# carry the licenses), man and info pages (no man-db or info reader is installed), message translations (the images
# run LANG=C.UTF-8, so a translated message is never shown), and two files of the Java runtime that only a JDK or a
# heap over 32 GiB use (ct.sym: javac's symbol table; classes_nocoops.jsa: the CDS archive without compressed oops,
# the JVM runs without it). Writes a dpkg path-exclude configuration, so every later package install (in this image
# and in the flavors built FROM it) skips them too, and removes what the base OS image already holds.
# Usage: slim-dpkg.sh
# Environment: GITSPACE_SLIM_ROOT (default /): the root filesystem to prune (tests)
set -euo pipefail

root="${GITSPACE_SLIM_ROOT:-}"
root="${root%/}"
conf="$root/etc/dpkg/dpkg.cfg.d/gitspace-slim"

mkdir -p "$(dirname "$conf")"
cat >"$conf" <<'CFG'
# gitspace images: no documentation, manuals or translations (images/lib/slim-dpkg.sh)
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/linda/*
path-exclude=/usr/share/groff/*
path-exclude=/usr/lib/jvm/*/lib/ct.sym
path-exclude=/usr/lib/jvm/*/lib/server/classes_nocoops.jsa
CFG

# The same paths in what is already installed.
if [[ -d "$root/usr/share/doc" ]]; then
    find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
fi
for dir in "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian" "$root/usr/share/linda" \
    "$root/usr/share/groff"; do
    if [[ -d "$dir" ]]; then find "$dir" -mindepth 1 -delete; fi
done
if [[ -d "$root/usr/share/locale" ]]; then
    find "$root/usr/share/locale" -mindepth 1 ! -type d ! -name locale.alias -delete
    find "$root/usr/share/locale" -mindepth 1 -type d -empty -delete
fi
# Leftovers of the base OS image's own package installs.
rm -f "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
rm -rf "$root"/var/log/apt/* "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log
