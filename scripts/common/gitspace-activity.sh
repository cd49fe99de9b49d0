#!/usr/bin/env bash
# Report the gitspace's IDE activity for the portal's idle reaper (portal/idle/), which runs this in the IDE container
# through the Kubernetes exec API. Prints one JSON line on stdout:
#   {"now":<epoch s>,"lastActivity":<epoch s>|null,"sessions":<n>}
# now: this container's clock (the reaper measures the heartbeat's age on the same clock, so clock skew between the
#   node and the portal does not count).
# lastActivity: the mtime of code-server's heartbeat file, which code-server touches at most once a minute while a
#   browser is connected (its /healthz, the probes' path, does not count); null when there is none (an SSH IDE, or
#   code-server never saw a client).
# sessions: established TCP connections whose local port is the IDE port: SSH sessions to sshd (SSH IDEs), browser
#   connections to code-server (the web IDE). Listening sockets and connections being closed do not count.
# Reads only; changes nothing. Exit 1 (and nothing on stdout) when the socket tables cannot be read.
# Environment: GITSPACE_IDE_PORT (set by the program in the container), HOME,
#   GITSPACE_HEARTBEAT_FILE ($HOME/.local/share/code-server/heartbeat), GITSPACE_PROC_NET_DIR (/proc/net)
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

port="${GITSPACE_IDE_PORT:?GITSPACE_IDE_PORT is not set}"
heartbeat="${GITSPACE_HEARTBEAT_FILE:-${HOME:?HOME is not set}/.local/share/code-server/heartbeat}"
net="${GITSPACE_PROC_NET_DIR:-/proc/net}"

now="$(date +%s)"
last=null
# A regular file only (not a symlink to something else's timestamp).
if [[ -f "$heartbeat" && ! -L "$heartbeat" ]]; then
    last="$(stat -c %Y -- "$heartbeat")"
fi

tables=()
for t in tcp tcp6; do
    [[ -r "$net/$t" ]] && tables+=("$net/$t")
done
((${#tables[@]} > 0)) || gs_die "activity: cannot read $net/tcp or $net/tcp6"

# Columns: sl local_address rem_address st …; addresses are HEXIP:HEXPORT, state 01 is ESTABLISHED. Only the
# server's end has the IDE port as its local port (a loopback client's end has it as the remote one).
sessions="$(awk -v port="$(printf '%04X' "$port")" '
    FNR > 1 && $4 == "01" { n = split($2, a, ":"); if (toupper(a[n]) == port) c++ }
    END { print c + 0 }' "${tables[@]}")"

printf '{"now":%s,"lastActivity":%s,"sessions":%s}\n' "$now" "$last" "$sessions"
