#!/usr/bin/env bash
# Check that the image is a Debian or Ubuntu derivative (the scripts and images assume apt, glibc, bash).
# Reads os-release without executing it.
# Environment: GITSPACE_OS_RELEASE (default /etc/os-release, then /usr/lib/os-release)
# Exit: 0 supported, 1 unsupported or unreadable.
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

file="${GITSPACE_OS_RELEASE:-}"
if [[ -z "$file" ]]; then
    for candidate in /etc/os-release /usr/lib/os-release; do
        if [[ -r "$candidate" ]]; then
            file="$candidate"
            break
        fi
    done
fi
[[ -n "$file" && -r "$file" ]] || gs_die "cannot read os-release (${file:-/etc/os-release or /usr/lib/os-release}): unknown distribution"

id="" id_like="" pretty=""
while IFS= read -r line || [[ -n "$line" ]]; do
    key="${line%%=*}"
    value="${line#*=}"
    value="${value%\"}"
    value="${value#\"}"
    value="${value%\'}"
    value="${value#\'}"
    case "$key" in
        ID) id="${value,,}" ;;
        ID_LIKE) id_like="${value,,}" ;;
        PRETTY_NAME) pretty="$value" ;;
    esac
done <"$file"

for word in $id $id_like; do
    case "$word" in
        debian | ubuntu)
            gs_log "distribution: ${pretty:-$id} (ID=$id${id_like:+, ID_LIKE=$id_like}) is supported"
            exit 0
            ;;
    esac
done
gs_die "unsupported distribution: ${pretty:-unknown} (ID=${id:-none}, ID_LIKE=${id_like:-none} in $file); gitspace images must be based on Debian or Ubuntu"
