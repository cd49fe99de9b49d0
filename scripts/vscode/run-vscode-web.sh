#!/usr/bin/env bash
# IDE container command of `vs_code_web`: exec code-server on $GITSPACE_IDE_BIND:$GITSPACE_IDE_PORT (0.0.0.0:8089),
# opening HOME.
# Authentication: GITSPACE_IDE_AUTH=password (default) reads the password from $GITSPACE_IDE_SECRET_DIR/password and
# hands it to code-server in a config file in a private runtime dir (0700 dir, 0600 file; not in HOME, never in an
# argument or an environment variable); refuses to start without it. GITSPACE_IDE_AUTH=none (an authenticating proxy
# is in front) starts with --auth none.
# User data and extensions live in HOME (they persist with the volume). Extensions baked into the image live outside
# HOME ($GITSPACE_VSCODE_EXTENSIONS_DIR, installed by install-extensions.sh) and are copied into the user's extensions
# dir when missing there, once per extension (a user who uninstalls one does not get it back).
# Environment: GITSPACE_IDE_PORT (8089), GITSPACE_IDE_BIND (0.0.0.0), GITSPACE_IDE_AUTH (password),
#   GITSPACE_IDE_SECRET_DIR (/etc/gitspace/ide), GITSPACE_CODE_SERVER (code-server),
#   GITSPACE_VSCODE_RUNTIME_DIR (/tmp/gitspace-code-server-<uid>),
#   GITSPACE_VSCODE_EXTENSIONS_DIR (/usr/local/gitspace/vscode/extensions), GITSPACE_STATE_DIR ($HOME/.gitspace)
# Before code-server starts: session-env.sh (containerEnv/remoteEnv of the repos) and, in the background,
# run-lifecycle.sh (dotfiles, devcontainer.json lifecycle commands).
set -euo pipefail
# shellcheck source=../common/lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/../common/lib.sh" ;; *) . ../common/lib.sh ;; esac

declare here
gs_script_dir here
home="${HOME:?HOME is not set}"
port="${GITSPACE_IDE_PORT:-8089}"
bind="${GITSPACE_IDE_BIND:-0.0.0.0}"
auth="${GITSPACE_IDE_AUTH:-password}"
secret_dir="${GITSPACE_IDE_SECRET_DIR:-/etc/gitspace/ide}"
code_server="${GITSPACE_CODE_SERVER:-code-server}"
rt="${GITSPACE_VSCODE_RUNTIME_DIR:-/tmp/gitspace-code-server-$EUID}"
baked="${GITSPACE_VSCODE_EXTENSIONS_DIR:-/usr/local/gitspace/vscode/extensions}"
declare state
gs_state_dir state
data_dir="$home/.local/share/code-server"
ext_dir="$data_dir/extensions"

if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    gs_die "GITSPACE_IDE_PORT must be a TCP port (got '$port')"
fi
command -v "$code_server" >/dev/null || gs_die "code-server not found ('$code_server')"
[[ -d "$home" && -w "$home" ]] || gs_die "HOME $home is not a writable directory"

umask 077
gs_ensure_private_dir "$rt" || gs_die "code-server: cannot use the runtime dir $rt"
config="$rt/config.yaml"
case "$auth" in
    password)
        [[ -r "$secret_dir/password" ]] || gs_die "code-server: GITSPACE_IDE_AUTH=password but $secret_dir/password is missing or unreadable; refusing to start without authentication"
        # JSON strings are valid YAML double-quoted scalars: any character of the password survives.
        password_yaml="$(jq -Rs 'sub("[\r\n]+$"; "")' <"$secret_dir/password")"
        [[ "$password_yaml" != '""' ]] || gs_die "code-server: $secret_dir/password is empty; refusing to start without authentication"
        printf 'bind-addr: %s:%s\nauth: password\npassword: %s\ncert: false\n' "$bind" "$port" "$password_yaml" | gs_write_if_changed "$config" 0600
        unset password_yaml
        ;;
    none)
        gs_warn "code-server: --auth none (GITSPACE_IDE_AUTH=none): an authenticating proxy must be in front"
        printf 'bind-addr: %s:%s\nauth: none\ncert: false\n' "$bind" "$port" | gs_write_if_changed "$config" 0600
        ;;
    *) gs_die "GITSPACE_IDE_AUTH must be 'password' or 'none' (got '$auth')" ;;
esac

[[ -d "$ext_dir" ]] || mkdir -p -- "$ext_dir"
gs_ensure_private_dir "$state" || gs_die "cannot use $state"
seeded="$state/vscode-baked-extensions"
[[ -e "$seeded" ]] || : >>"$seeded"
# The ids already made available (one per line), read once.
declare -A done_ids=()
lines=()
mapfile -t lines <"$seeded" || true
for line in "${lines[@]}"; do done_ids[x$line]=1; done
if [[ -d "$baked" ]]; then
    shopt -s nullglob dotglob
    for ext in "$baked"/*; do
        [[ -d "$ext" && ! -L "$ext" ]] || continue
        dir="${ext##*/}"
        [[ "$dir" =~ ^([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)-[0-9][^/]*$ ]] || continue
        id="${BASH_REMATCH[1],,}"
        [[ -z "${done_ids[x$id]:-}" ]] || continue
        if compgen -G "$ext_dir/${BASH_REMATCH[1]}-[0-9]*" >/dev/null || compgen -G "$ext_dir/$id-[0-9]*" >/dev/null; then
            printf '%s\n' "$id" >>"$seeded"
            done_ids[x$id]=1
            continue
        fi
        cp -a -- "$ext" "$ext_dir/.$dir.tmp" && mv -T -- "$ext_dir/.$dir.tmp" "$ext_dir/$dir"
        if [[ -f "$ext_dir/extensions.json" && -f "$baked/extensions.json" ]]; then
            # code-server keeps a manifest once it exists: add the baked entry, relocated into the user's dir.
            jq --arg rel "$dir" --arg path "$ext_dir/$dir" --slurpfile baked "$baked/extensions.json" '
                . + [($baked[0][] | select(.relativeLocation == $rel)
                     | .location = {"$mid": 1, "path": $path, "scheme": "file"})]' "$ext_dir/extensions.json" \
                | gs_write_if_changed "$ext_dir/extensions.json" 0644
        fi
        printf '%s\n' "$id" >>"$seeded"
        done_ids[x$id]=1
        gs_log "code-server: baked extension $id made available in $ext_dir"
    done
    shopt -u nullglob dotglob
fi

# The repositories' containerEnv/remoteEnv (checked by session-env.sh), into code-server's environment: its terminals
# inherit it. Then the developer's own setup (dotfiles, devcontainer.json lifecycle commands) in the background, as
# this user: it never delays the IDE, and its failures are only reported.
while IFS= read -r -d '' kv; do export "${kv?}"; done < <("$here/../common/session-env.sh" || true)
# The subshell exits at once: the runner is reparented to tini (PID 1), which reaps it (code-server would not).
("$here/../common/run-lifecycle.sh" </dev/null >/dev/null &)

# Nothing secret may reach code-server through its environment either.
unset PASSWORD HASHED_PASSWORD
cd "$home"
gs_log "code-server: starting on $bind:$port (auth $auth), user data in $data_dir"
exec "$code_server" \
    --config "$config" \
    --user-data-dir "$data_dir" \
    --extensions-dir "$ext_dir" \
    --disable-telemetry \
    --disable-update-check \
    --disable-workspace-trust \
    "$home"
