#!/usr/bin/env bash
# Prepare OpenSSH's sshd to run as the developer (non-root) on $GITSPACE_IDE_PORT: copy the host key(s) and
# authorized_keys of the mounted Secret into a private runtime dir (0700, files 0600; not in HOME), write a hardened
# key-only sshd_config there and validate it with `sshd -t`. Prints the config path on stdout.
# Host keys come from the Secret (generated once by Pulumi), so the fingerprint is stable across restarts; without a
# mounted host key one is generated into the runtime dir (with a warning: clients will see a new key per pod).
# Environment:
#   GITSPACE_SSH_DIR (/etc/gitspace/ssh): authorized_keys, ssh_host_*_key (+ .pub)
#   GITSPACE_SSH_RUNTIME_DIR (/tmp/gitspace-sshd-<uid>), GITSPACE_IDE_PORT (8088), GITSPACE_SSH_LISTEN (0.0.0.0)
#   GITSPACE_USER (the current user's name), GITSPACE_SSHD (/usr/sbin/sshd), GITSPACE_SSH_KEYGEN (ssh-keygen)
#   GITSPACE_SSH_SETENV: names of variables passed into SSH sessions with sshd's SetEnv (default below); sessions
#   do not inherit the container environment otherwise (PATH, JAVA_HOME, ...). Never put a secret there.
#   GITSPACE_SESSION_ENV_NAMES: more names for SetEnv, those of the repos' containerEnv/remoteEnv (run-ssh-server.sh).
#   Only values of the characters A-Z a-z 0-9 _ . / : , @ + = - are passed; others are reported and left out.
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

uid="$EUID"
ssh_dir="${GITSPACE_SSH_DIR:-/etc/gitspace/ssh}"
rt="${GITSPACE_SSH_RUNTIME_DIR:-/tmp/gitspace-sshd-$uid}"
port="${GITSPACE_IDE_PORT:-8088}"
listen="${GITSPACE_SSH_LISTEN:-0.0.0.0}"
user="${GITSPACE_USER:-$(id -un)}"
sshd="${GITSPACE_SSHD:-/usr/sbin/sshd}"
keygen="${GITSPACE_SSH_KEYGEN:-ssh-keygen}"
setenv_names="${GITSPACE_SSH_SETENV:-PATH JAVA_HOME LANG LC_ALL GITSPACE_USER GITSPACE_IDE GITSPACE_GIT_CREDENTIALS_DIR} ${GITSPACE_SESSION_ENV_NAMES:-}"

if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    gs_die "GITSPACE_IDE_PORT must be a TCP port (got '$port')"
fi
[[ "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || gs_die "invalid user name '$user'"
((uid != 0)) || gs_warn "sshd: running as root is not intended (the gitspace pod runs as the developer)"
[[ "$sshd" == /* && -x "$sshd" ]] || gs_die "sshd not found at '$sshd' (absolute path required: sshd re-executes itself); is openssh-server installed?"
me="$(id -un 2>/dev/null)" || me=""
if [[ "$me" != "$user" ]]; then
    gs_warn "sshd: uid $uid is '${me:-unknown}' in /etc/passwd, not '$user': logins as $user will fail (is the identity mounted over /etc/passwd?)"
fi

umask 077
gs_ensure_private_dir "$rt" || gs_die "sshd: cannot use the runtime dir $rt"

# copy_private SRC DST: DST gets SRC's content with mode 0600, replaced atomically (not rewritten when it already holds
# that content: a restart of the container in the same pod).
copy_private() {
    local tmp content=""
    if [[ -f "$1" && -r "$1" ]] && ! IFS= read -r -d '' content <"$1"; then
        gs_write_content_if_changed "$2" 0600 "$content"
        return
    fi
    # Not a readable file, or a NUL byte in it: cat copies it as it is, or says why it cannot.
    tmp="$(mktemp "$rt/.copy.XXXXXX")"
    if ! cat -- "$1" >"$tmp"; then
        rm -f -- "$tmp"
        gs_die "sshd: cannot read $1 (the Secret's files must be readable by uid $uid or its fsGroup)"
    fi
    chmod 0600 -- "$tmp"
    mv -f -- "$tmp" "$2"
}

host_keys=()
shopt -s nullglob
for key in "$ssh_dir"/ssh_host_*_key; do
    name="${key##*/}"
    copy_private "$key" "$rt/$name"
    [[ -r "$key.pub" ]] && copy_private "$key.pub" "$rt/$name.pub"
    host_keys+=("$rt/$name")
done
shopt -u nullglob
if ((${#host_keys[@]} == 0)); then
    if [[ ! -s "$rt/ssh_host_ed25519_key" ]]; then
        gs_warn "sshd: no host key mounted in $ssh_dir; generating one in $rt (its fingerprint changes with every new pod)"
        rm -f -- "$rt/ssh_host_ed25519_key" "$rt/ssh_host_ed25519_key.pub"
        "$keygen" -q -t ed25519 -N '' -C "gitspace-$user" -f "$rt/ssh_host_ed25519_key" >/dev/null
    fi
    host_keys=("$rt/ssh_host_ed25519_key")
fi

if [[ -r "$ssh_dir/authorized_keys" ]]; then
    copy_private "$ssh_dir/authorized_keys" "$rt/authorized_keys"
    # The lines that are not blank or a comment.
    key_count=0 key_lines=()
    mapfile -t key_lines <"$rt/authorized_keys" || true
    for line in "${key_lines[@]}"; do [[ "$line" =~ ^[[:space:]]*(#|$) ]] || key_count=$((key_count + 1)); done
    gs_log "sshd: $key_count authorized key(s) from $ssh_dir"
else
    : >"$rt/authorized_keys"
    gs_warn "sshd: no $ssh_dir/authorized_keys; only keys in ~/.ssh/authorized_keys can log in"
fi

setenv_line=""
declare -A setenv_seen=()
for name in $setenv_names; do
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    [[ -z "${setenv_seen[$name]:-}" ]] || continue
    setenv_seen[$name]=1
    value="${!name-}"
    [[ -n "$value" ]] || continue
    if [[ "$value" =~ ^[A-Za-z0-9_./:,@+=-]+$ ]]; then
        setenv_line+=" $name=$value"
    else
        gs_warn "sshd: $name has characters sshd_config cannot carry safely; not passed to SSH sessions"
    fi
done

config="$rt/sshd_config"
printf -v host_key_lines 'HostKey %s\n' "${host_keys[@]}"
host_key_lines="${host_key_lines%$'\n'}"
IFS= read -r -d '' config_text <<CONFIG || true
# Generated by setup-ssh-server.sh: sshd run as $user (uid $uid), key-only.
Port $port
ListenAddress $listen
$host_key_lines
PidFile $rt/sshd.pid
AuthorizedKeysFile $rt/authorized_keys .ssh/authorized_keys
AllowUsers $user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
UsePAM no
PermitUserEnvironment no
# VS Code Remote-SSH, Cursor, Windsurf and JetBrains Gateway tunnel their server's port through the SSH connection.
AllowTcpForwarding yes
AllowAgentForwarding yes
AllowStreamLocalForwarding no
GatewayPorts no
PermitTunnel no
X11Forwarding no
PrintMotd no
# StrictModes would reject every login here: the pod's fsGroup makes HOME group-writable (setgid 2770-style), and the
# runtime copy of authorized_keys sits under world-writable /tmp. StrictModes protects a user from other local users
# who could edit their authorized_keys; in this single-user container no other user exists, and the key file we use is
# a private 0600 copy in a 0700 dir owned by the only user.
StrictModes no
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
ClientAliveInterval 60
LogLevel INFO
CONFIG
[[ -z "$setenv_line" ]] || config_text+="SetEnv$setenv_line"$'\n'
gs_write_content_if_changed "$config" 0600 "$config_text"

if ! err="$("$sshd" -t -f "$config" 2>&1)"; then
    gs_die "sshd: generated config $config is invalid: $err"
fi
gs_log "sshd: config $config valid (port $port, user $user, host key(s): ${host_keys[*]##*/})"
printf '%s\n' "$config"
