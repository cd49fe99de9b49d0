#!/usr/bin/env bash
# shellcheck disable=SC2016  # the smoke tests pass single-quoted scripts to bash in the containers, on purpose
# Build the gitspace runtime images, FROM a Debian base made locally (no public registry is reachable here), and
# smoke-test each image: with the classic `docker build` and `docker run` (default), or with BuildKit alone
# (GITSPACE_BUILDER=buildkit: buildctl builds and pushes to a registry, the checks run as `RUN --network=none` steps).
#
# Usage: tests/images/build-images.sh [flavor ...]
#   flavors: base vscode-desktop jetbrains cursor vscode (default: all, in that order; base, base-system (the
#   flavors' parent) and devcontainer (the gitspace-devcontainer binary alone, which the flavors copy), the targets
#   system and devcontainer of images/base/Dockerfile, as components/images.ts builds them, are always built first)
#
# Environment (all optional):
#   GITSPACE_BUILDER        docker (default) or buildkit
#   BUILDKIT_HOST           buildkit: the buildkitd address (buildctl's own variable; default: buildctl's default)
#   GITSPACE_REGISTRY_REPO  buildkit: where images are pushed, as <repo>/<flavor>:<tag>, plain HTTP or HTTPS
#                           (required, e.g. 127.0.0.1:5055/gitspace-local; for an HTTPS one set
#                           GITSPACE_REGISTRY_SCHEME=https, read by layers.sh)
#   GITSPACE_COMPRESSION    buildkit: the pushed layers' compression, gzip (default, BuildKit's level) or
#                           <gzip|zstd>:<level>, e.g. zstd:9 (every layer recompressed, OCI media types; zstd layers
#                           need containerd >= 1.5 or Docker >= 23 to pull)
#   GITSPACE_BASE_IMAGE     buildkit: the Debian/Ubuntu image base is built FROM (required, e.g.
#                           127.0.0.1:5055/debian:bookworm; tools/cluster/oci-push.sh makes one from a rootfs)
#   GITSPACE_SUITE          Debian suite of the local base image (default: bookworm)
#   GITSPACE_ARCH           Debian architecture to build for (default: the host's). A foreign one (e.g. arm64 on
#                           amd64) runs under qemu-user-static with binfmt_misc ('F' flag); its images are tagged
#                           <tag>-<arch>. The classic builder labels every committed layer with the host platform
#                           (and then refuses a --platform build), so these images carry arm64 binaries under an
#                           amd64 label: an emulation test of the Dockerfiles, not images to push (BuildKit does that).
#   GITSPACE_MIRROR         Debian mirror (default: the first deb.debian.org-like URI of the host's apt sources)
#   GITSPACE_CACHE_DIR      where the debootstrap rootfs tarball is cached (default: ~/.cache/gitspace)
#   GITSPACE_CONTEXT_DIR    build context: a directory holding images/ and scripts/ (default: this repository)
#   GITSPACE_IMAGE_PREFIX   image names are <prefix>/<flavor>:<tag> (default: gitspace-local)
#   GITSPACE_IMAGE_TAG      (default: dev)
#   GITSPACE_EXTRA_CA_DIR   *.crt files trusted by the local base image, e.g. an egress proxy's CA
#                           (default: /usr/local/share/ca-certificates; the Dockerfiles themselves add no CA)
#   VSCODE_EXTENSIONS       passed to the vscode flavor as the VSCODE_EXTENSIONS build arg (default: empty)
#   GITSPACE_BUILD_ARGS     more build args for every flavor, "NAME=VALUE NAME=VALUE" (e.g. JAVA_PACKAGE=...)
#   GITSPACE_JAVA_MAJOR     Java major version the jetbrains smoke test expects (default: 17)
#   GITSPACE_NO_CACHE       1: docker build --no-cache
#   GITSPACE_FLAVOR_PARENT  system (default): the flavors are built FROM base's `system` stage (no scripts, tagged
#                           base-system), as components/images.ts does, each flavor bringing its own scripts;
#                           base: FROM the full base (a script change then rebuilds every flavor from scratch)
#   GITSPACE_SKIP_SMOKE     1: build only
#   GITSPACE_PUSH_REPO      docker: after its smoke test, push each image as <repo>:<flavor>-<push tag>, the refs the Pulumi
#                           program uses (components/builders.ts imageTag), e.g. 127.0.0.1:5000/gitspace-runtime
#   GITSPACE_PUSH_TAG       (default: latest)
#
# Idempotent: the rootfs tarball is cached per suite, the imported base image is reused, and docker's layer cache
# makes a second run quick. Prints how long each image took and its size.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common/lib.sh"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"

suite="${GITSPACE_SUITE:-bookworm}"
host_arch="$(dpkg --print-architecture)"
arch="${GITSPACE_ARCH:-$host_arch}"
cache_dir="${GITSPACE_CACHE_DIR:-$HOME/.cache/gitspace}"
context_dir="${GITSPACE_CONTEXT_DIR:-$repo_root}"
prefix="${GITSPACE_IMAGE_PREFIX:-gitspace-local}"
tag="${GITSPACE_IMAGE_TAG:-dev}"
base_suffix=""
if [[ "$arch" != "$host_arch" ]]; then
    tag="$tag-$arch"
    base_suffix="-$arch"
fi
extra_ca_dir="${GITSPACE_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
local_base="$prefix/debian:$suite$base_suffix"
builder="${GITSPACE_BUILDER:-docker}"
if [[ "$builder" == buildkit ]]; then
    local_base="${GITSPACE_BASE_IMAGE:-}"
fi
all_flavors=(base vscode-desktop jetbrains cursor vscode)

default_mirror() {
    local uri
    uri="$(grep -hoE '(URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -oE 'https?://[^[:space:]]+' | head -n 1 || true)"
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}
mirror="${GITSPACE_MIRROR:-$(default_mirror)}"

need() { command -v "$1" >/dev/null 2>&1 || gs_die "$1 is required (${2:-apt-get install $1})"; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# The debootstrap rootfs, cached as a tarball keyed by suite (and architecture).
rootfs_tarball() {
    local tarball tmp
    tarball="$cache_dir/debian-$suite-$arch-minbase.tar"
    if [[ -s "$tarball" ]]; then
        gs_log "rootfs: cached $tarball"
        printf '%s\n' "$tarball"
        return
    fi
    need debootstrap
    mkdir -p "$cache_dir"
    tmp="$(mktemp -d "$cache_dir/rootfs.XXXXXX")"
    gs_log "rootfs: debootstrap --variant=minbase --arch=$arch $suite from $mirror"
    if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
        tail -n 30 "$tmp/debootstrap.log" >&2
        rm -rf "$tmp"
        gs_die "debootstrap failed"
    fi
    # Leave no apt lists or caches in the image.
    rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin "$tmp/rootfs/var/cache/apt/archives/"*.deb
    tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
    mv "$tmp/rootfs.tar" "$tarball"
    rm -rf "$tmp"
    gs_log "rootfs: cached $tarball ($(du -h "$tarball" | cut -f1))"
    printf '%s\n' "$tarball"
}

# $local_base: the rootfs imported, plus the CA certificates this machine's egress needs (the runtime Dockerfiles
# install ca-certificates, whose update-ca-certificates picks up /usr/local/share/ca-certificates).
ensure_local_base() {
    local raw="$prefix/debian:$suite$base_suffix-rootfs" tarball ctx
    if ! image_exists "$raw"; then
        tarball="$(rootfs_tarball)"
        gs_log "base image: docker import $tarball as $raw"
        docker import --change 'CMD ["/bin/bash"]' "$tarball" "$raw" >/dev/null
    fi
    ctx="$(mktemp -d)"
    mkdir -p "$ctx/ca"
    if [[ -d "$extra_ca_dir" ]]; then
        find "$extra_ca_dir" -maxdepth 1 -type f -name '*.crt' -exec cp {} "$ctx/ca/" \;
    fi
    printf 'FROM %s\nCOPY ca/ /usr/local/share/ca-certificates/\n' "$raw" >"$ctx/Dockerfile"
    gs_log "base image: $local_base (extra CAs: $(find "$ctx/ca" -type f | wc -l))"
    DOCKER_BUILDKIT=0 docker build -q -t "$local_base" "$ctx" >"$ctx.log" 2>&1 || { cat "$ctx.log" >&2; gs_die "local base build failed"; }
    rm -f "$ctx.log"
    rm -rf "$ctx"
}

# image_ref NAME: the ref of a built image (docker: a local tag; buildkit: in GITSPACE_REGISTRY_REPO).
image_ref() {
    if [[ "$builder" == buildkit ]]; then
        printf '%s/%s:%s\n' "$GITSPACE_REGISTRY_REPO" "$1" "$tag"
    else
        printf '%s/%s:%s\n' "$prefix" "$1" "$tag"
    fi
}

# build NAME FROM-REF: build image NAME, a flavor or one of the targets of images/base/Dockerfile base-system
# (`system`) and devcontainer (`devcontainer`), with the repository as the context. The flavors but base get
# devcontainer's ref as DEVCONTAINER_IMAGE (build it first).
build() {
    local name="$1" from="$2" flavor="$1" target="" image start elapsed size
    case "$name" in
        base-system) flavor=base target=system ;;
        devcontainer) flavor=base target=devcontainer ;;
    esac
    image="$(image_ref "$name")"
    if [[ "$builder" == buildkit ]]; then
        bk_build "$flavor" "$from" "$target" "$name" "$image"
        return
    fi
    # BUILDPLATFORM: BuildKit sets it (base's devcontainer-build stage cross-compiles Go on it); the classic builder
    # needs it given. The images' own label is the host's (see GITSPACE_ARCH), and the Go build then asks dpkg for
    # the arch.
    local -a args=(build -t "$image" -f "$context_dir/images/$flavor/Dockerfile" --build-arg "BASE_IMAGE=$from"
        --build-arg "BUILDPLATFORM=linux/$host_arch")
    [[ -n "$target" ]] && args+=(--target "$target")
    [[ "$flavor" == base ]] || args+=(--build-arg "DEVCONTAINER_IMAGE=$(image_ref devcontainer)")
    local extra
    for extra in ${GITSPACE_BUILD_ARGS:-}; do args+=(--build-arg "$extra"); done
    # (vscode's build stage runs on BUILDPLATFORM too; the build is then native.)
    [[ "$flavor" == vscode ]] && args+=(--build-arg "VSCODE_EXTENSIONS=${VSCODE_EXTENSIONS:-}")
    [[ "${GITSPACE_NO_CACHE:-0}" == 1 ]] && args+=(--no-cache)
    gs_log "build $image FROM $from"
    start=$SECONDS
    DOCKER_BUILDKIT=0 docker "${args[@]}" "$context_dir" >"$log_dir/$name.log" 2>&1 \
        || { tail -n 40 "$log_dir/$name.log" >&2; gs_die "build of $name failed (log: $log_dir/$name.log)"; }
    elapsed=$((SECONDS - start))
    size="$(docker image inspect -f '{{.Size}}' "$image")"
    gs_log "built $image in ${elapsed}s, size $((size / 1000000)) MB"
    summary+=("$(printf '%-16s %6ss %8s MB' "$name" "$elapsed" "$((size / 1000000))")")
}

# push FLAVOR: with GITSPACE_PUSH_REPO, tag and push the image under the Pulumi program's ref.
push() {
    [[ -n "${GITSPACE_PUSH_REPO:-}" && "$builder" == docker ]] || return 0
    local ref="$GITSPACE_PUSH_REPO:$1-${GITSPACE_PUSH_TAG:-latest}"
    docker tag "$prefix/$1:$tag" "$ref"
    docker push "$ref" >"$log_dir/$1.push.log" 2>&1 || { tail -n 20 "$log_dir/$1.push.log" >&2; gs_die "push of $ref failed"; }
    gs_log "pushed $ref"
}

# compression_opts: the image exporter's options for GITSPACE_COMPRESSION (nothing for the default).
compression_opts() {
    local c="${GITSPACE_COMPRESSION:-gzip}"
    case "$c" in
        gzip) ;;
        gzip:[0-9] | zstd:[0-9] | zstd:1[0-9] | zstd:2[0-2])
            printf ',compression=%s,compression-level=%s,force-compression=true,oci-mediatypes=true' "${c%%:*}" "${c#*:}" ;;
        *) gs_die "GITSPACE_COMPRESSION must be gzip, gzip:<0-9> or zstd:<0-22>, not '$c'" ;;
    esac
}

# bk_build FLAVOR FROM TARGET NAME IMAGE: buildctl build, pushed to IMAGE; prints the compressed (push) size.
bk_build() {
    local flavor="$1" from="$2" target="$3" name="$4" image="$5" start elapsed size extra
    local -a args=(build --frontend dockerfile.v0 --local "context=$context_dir"
        --local "dockerfile=$context_dir/images/$flavor" --opt "build-arg:BASE_IMAGE=$from" --opt "platform=linux/$arch"
        --output "type=image,name=$image,push=true,registry.insecure=true$(compression_opts)" --progress plain)
    [[ -n "$target" ]] && args+=(--opt "target=$target")
    [[ "$flavor" == base ]] || args+=(--opt "build-arg:DEVCONTAINER_IMAGE=$(image_ref devcontainer)")
    for extra in ${GITSPACE_BUILD_ARGS:-}; do args+=(--opt "build-arg:$extra"); done
    [[ "$flavor" == vscode ]] && args+=(--opt "build-arg:VSCODE_EXTENSIONS=${VSCODE_EXTENSIONS:-}")
    [[ "${GITSPACE_NO_CACHE:-0}" == 1 ]] && args+=(--no-cache)
    gs_log "build $image FROM $from (buildkit)"
    start=$SECONDS
    buildctl "${args[@]}" >"$log_dir/$name.log" 2>&1 \
        || { tail -n 40 "$log_dir/$name.log" >&2; gs_die "build of $name failed (log: $log_dir/$name.log)"; }
    elapsed=$((SECONDS - start))
    size="$(GITSPACE_LAYER_DIRS=0 "$script_dir/layers.sh" "$image" "linux/$arch" | awk '$1 == "sum" { print $2 }')"
    gs_log "built $image in ${elapsed}s, push size $size MB"
    summary+=("$(printf '%-16s %6ss %8s MB pushed' "$name" "$elapsed" "$size")")
}

run() {
    if [[ "$builder" == buildkit ]]; then bk_run "$@"; else docker run --rm --network none "$@"; fi
}

# run_online_as_root IMAGE COMMAND...: COMMAND as root with the network (a team's `FROM <flavor>` + `apt-get install`).
run_online_as_root() {
    if [[ "$builder" == buildkit ]]; then bk_run --online -u root "$@"; else docker run --rm -u root "$@"; fi
}

# bk_run [--online] [-u USER] [-e NAME=VALUE]... [-w DIR] [-v HOSTDIR:DIR:ro]... IMAGE COMMAND...: `docker run --rm
# --network none` done by BuildKit: a throw-away build FROM IMAGE whose one step runs COMMAND (as the image's user or
# USER, no network but loopback unless --online, never cached); prints the command's output, fails when it fails.
bk_run() {
    local workdir="" user="" network=" --network=none" image dir e m n=0 out rc=0 sep=""
    local -a env=() mounts=() args=()
    while [[ "$1" == -* ]]; do
        case "$1" in
            -e) env+=("$2"); shift 2 ;;
            -w) workdir="$2"; shift 2 ;;
            -v) mounts+=("$2"); shift 2 ;;
            -u) user="$2"; shift 2 ;;
            --online) network=""; shift ;;
            *) gs_die "bk_run: unsupported option $1" ;;
        esac
    done
    image="$1"; shift
    dir="$(mktemp -d "$log_dir/run.XXXXXX")"
    args=(build --frontend dockerfile.v0 --local "context=$dir" --local "dockerfile=$dir" --no-cache --progress plain)
    {
        printf 'FROM %s\n' "$image"
        [[ -z "$user" ]] || printf 'USER %s\n' "$user"
        for e in "${env[@]}"; do printf 'ENV %s=%s\n' "${e%%=*}" "$(jq -cn --arg v "${e#*=}" '$v')"; done
        [[ -z "$workdir" ]] || printf 'WORKDIR %s\n' "$workdir"
        printf 'RUN%s' "$network"
        for m in "${mounts[@]}"; do
            n=$((n + 1))
            args+=(--local "mount$n=${m%%:*}" --opt "context:mount$n=local:mount$n")
            m="${m#*:}"
            printf ' --mount=type=bind,from=mount%s,target=%s' "$n" "${m%%:*}"
        done
        # jq would read "-c" among --args as its own option: one argument at a time.
        printf ' ['
        for e in "$@"; do printf '%s%s' "$sep" "$(jq -cn --arg v "$e" '$v')"; sep=","; done
        printf ']\n'
    } >"$dir/Dockerfile"
    # A loaded buildkitd sometimes drops the client session ("context deadline exceeded") before the step starts: that
    # is no result of the command, so the throw-away build is tried again (twice at most).
    local try
    for try in 1 2 3; do
        rc=0
        out="$(buildctl "${args[@]}" 2>&1)" || rc=$?
        if ((rc == 0)) || [[ "$out" != *"error: context deadline exceeded"* ]]; then break; fi
        gs_log "  buildctl: context deadline exceeded (try $try), again"
    done
    # The step's own output: the lines "#<step> <seconds> <text>".
    sed -nE 's/^#[0-9]+ [0-9]+\.[0-9]+ //p' <<<"$out"
    ((rc == 0)) || { grep -E '^(ERROR|error):' <<<"$out" | head -n 3 >&2 || true; }
    return "$rc"
}

check() {
    local what="$1"; shift
    if "$@"; then gs_log "  ok: $what"; else gs_die "smoke test failed: $what"; fi
}

expect_output() {
    local want="$1" got; shift
    got="$("$@" 2>&1)" || { gs_log "  command failed: $*: $got"; return 1; }
    [[ "$got" == *"$want"* ]] || { gs_log "  expected '$want' in: $got"; return 1; }
}

scripts_ok() {
    local image="$1"; shift
    # Every directory exists, is root-owned and not writable by the user; every script is executable.
    run "$image" bash -euo pipefail -c '
        for d in "$@"; do
            dir=/usr/local/gitspace/scripts/$d
            [[ -d $dir ]] || { echo "missing $dir"; exit 1; }
            [[ $(stat -c %u "$dir") == 0 ]] || { echo "$dir not root-owned"; exit 1; }
            ! test -w "$dir" || { echo "$dir writable by $(id -un)"; exit 1; }
            while IFS= read -r -d "" f; do
                [[ $(stat -c %u "$f") == 0 ]] || { echo "$f not root-owned"; exit 1; }
                ! test -w "$f" || { echo "$f writable by $(id -un)"; exit 1; }
                if [[ $(head -c2 "$f") == "#!" || $f == *.sh ]] && [[ ! -x $f ]]; then echo "$f not executable"; exit 1; fi
            done < <(find "$dir" -type f -print0)
        done' _ "$@"
}

sshd_ok() {
    # No host key may ship in the image; sshd accepts a generated config with a key made at test time.
    run "$1" bash -euo pipefail -c '
        if compgen -G "/etc/ssh/ssh_host_*" >/dev/null; then echo "image ships host keys:"; ls /etc/ssh; exit 1; fi
        d=$(mktemp -d)
        ssh-keygen -q -t ed25519 -N "" -f "$d/host_key"
        /usr/sbin/sshd -t -f /dev/null -o "HostKey=$d/host_key" -o Port=8088 -o "PidFile=$d/sshd.pid" \
            -o UsePAM=no -o "AuthorizedKeysFile=$d/authorized_keys" -o PasswordAuthentication=no'
}

# git without the full Perl (images/lib/install-git.sh): only perl-base, dpkg and apt consistent (checked as the user,
# without apt's lock), and git's everyday commands work offline, `add -p` included.
git_ok() {
    run "$1" bash -euo pipefail -c '
        if dpkg-query -W -f="\${Status}" perl 2>/dev/null | grep -q " installed$"; then echo "perl is installed"; exit 1; fi
        [[ $(dpkg-query -W -f="\${Version}" git) == *~gitspace1 ]] || { echo "not the repacked git"; exit 1; }
        [[ -z "$(dpkg --audit)" ]] || { dpkg --audit; exit 1; }
        apt-get -o Debug::NoLocking=true check >/dev/null
        cd "$(mktemp -d)"
        git init -q -b main r && cd r
        git config user.email dev@example.com && git config user.name dev
        printf "a\n" >f && printf "a\n" >g && git add f g && git commit -qm one
        git switch -qc topic && printf "b\n" >>f && git commit -qam two && git switch -q main && git merge -q topic
        printf "c\n" >>g && printf "y\n" | git add -p >/dev/null && [[ $(git diff --cached --numstat) == "1	0	g" ]]
        git commit -qm three && git clone -q "file://$PWD" ../c && [[ $(git -C ../c rev-list --count HEAD) == 3 ]]
        [[ $(git -C ../c log --format=%s | tr "\n" " ") == "three two one " ]] && git stash list >/dev/null
        git rebase -q --onto HEAD~2 HEAD~1 && [[ $(git log --format=%s | tr "\n" " ") == "three one " ]]'
}

# A team extends the image (FROM it, apt-get install, with the network): a Perl package brings the real perl and
# keeps the repacked git; git-email (which relies on git's perl dependency) replaces git with the distribution's, perl
# and liberror-perl included, and `git send-email` runs.
extend_with_perl_ok() {
    run_online_as_root "$1" bash -euo pipefail -c '
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends libjson-perl >/dev/null
        [[ $(dpkg-query -W -f="\${Version}" git) == *~gitspace1 ]]
        [[ $(perl -MJSON -e "print encode_json([1])") == "[1]" ]]
        apt-get install -y -qq --no-install-recommends git-email >/dev/null
        [[ $(dpkg-query -W -f="\${Version}" git) != *~gitspace1 ]]
        [[ $(dpkg-query -W -f="\${Status}\n" perl liberror-perl git-email | sort -u) == "install ok installed" ]]
        git send-email --dump-aliases >/dev/null
        [[ -z "$(dpkg --audit)" ]] && apt-get check >/dev/null'
}

# Ubuntu 24.04 ships user and group `ubuntu` with 1000:1000 (seed bug 5). No Ubuntu image is reachable here, so an
# "Ubuntu-like" image adds that user to the local Debian base, and images/lib/create-user.sh must replace it, twice
# (idempotent).
ubuntu_user_ok() {
    run -v "$context_dir/images/lib:/gitspace-lib:ro" "$local_base" bash -euo pipefail -c '
        groupadd --gid 1000 ubuntu && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash ubuntu
        /gitspace-lib/create-user.sh vscode 1000 1000
        /gitspace-lib/create-user.sh vscode 1000 1000
        ! getent passwd ubuntu && ! getent group ubuntu && [[ ! -e /home/ubuntu ]]
        [[ "$(id vscode)" == "uid=1000(vscode) gid=1000(vscode) groups=1000(vscode)" ]]
        [[ "$(stat -c %u:%g /home/vscode)" == 1000:1000 ]]' >/dev/null
}

# The IDE command of an SSH flavor (the scripts' run-*.sh) starts sshd as the user with keys made at test time in a
# Secret-like dir, and a key login over loopback runs `id` (the container has no network: nothing is downloaded).
ssh_login_ok() {
    local image="$1" command="$2"
    run -e GITSPACE_SSH_DIR=/tmp/secret -e GITSPACE_IDE_PORT=8088 "$image" bash -euo pipefail -c '
        command="$1"
        [[ -x $command ]] || { echo "no $command (scripts not there yet): skipped"; exit 0; }
        mkdir -m 700 /tmp/secret /tmp/client
        ssh-keygen -q -t ed25519 -N "" -f /tmp/secret/ssh_host_ed25519_key
        ssh-keygen -q -t ed25519 -N "" -f /tmp/client/id
        cp /tmp/client/id.pub /tmp/secret/authorized_keys
        "$command" >/tmp/ide.log 2>&1 &
        for _ in $(seq 60); do
            out="$(ssh -p 8088 -i /tmp/client/id -o BatchMode=yes -o UserKnownHostsFile=/dev/null \
                -o StrictHostKeyChecking=no -o LogLevel=ERROR vscode@127.0.0.1 id 2>/dev/null)" && break
            sleep 1
        done
        [[ ${out:-} == "uid=1000(vscode) gid=1000(vscode)"* ]] || { cat /tmp/ide.log; exit 1; }' _ "$command"
}

# The IDE command of vs_code_web with password auth (password file as the Secret mounts it): /healthz answers, the
# IDE itself redirects to the login page, and the password logs in.
web_login_ok() {
    run -e GITSPACE_IDE_SECRET_DIR=/tmp/ide "$1" bash -euo pipefail -c '
        command=/usr/local/gitspace/scripts/vscode/run-vscode-web.sh
        [[ -x $command ]] || { echo "no $command (scripts not there yet): skipped"; exit 0; }
        mkdir -m 700 /tmp/ide && printf "s3cret-%s" "$RANDOM" >/tmp/ide/password
        "$command" >/tmp/ide.log 2>&1 &
        for _ in $(seq 180); do curl -fs -o /dev/null http://127.0.0.1:8089/healthz && break; sleep 1; done
        code="$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:8089/)"
        [[ $code == 302 ]] || { echo "GET / without login: $code"; cat /tmp/ide.log; exit 1; }
        code="$(curl -s -o /dev/null -w "%{http_code}" --data-urlencode "password@/tmp/ide/password" \
            http://127.0.0.1:8089/login)"
        [[ $code == 302 ]] || { echo "login: $code"; cat /tmp/ide.log; exit 1; }
        code="$(curl -s -o /dev/null -w "%{http_code}" --data-urlencode "password=wrong" http://127.0.0.1:8089/login)"
        [[ $code == 200 ]] || { echo "login with a wrong password: $code"; exit 1; }'
}

smoke() {
    local flavor="$1" image scripts=/usr/local/gitspace/scripts
    image="$(image_ref "$1")"
    gs_log "smoke $image"
    # The checks below prove "nothing downloaded at start" only if they really run without a network.
    check "no network but loopback" run "$image" bash -c 'ifs="$(ls /sys/class/net)"; [[ $ifs == lo ]] || { echo "interfaces: $ifs"; exit 1; }'
    check "id is vscode 1000:1000" expect_output "uid=1000(vscode) gid=1000(vscode)" run "$image" id
    check "workdir is /home/vscode" expect_output "/home/vscode" run "$image" pwd
    check "/workspaces is an empty directory, not a link" \
        run "$image" bash -c '[[ -d /workspaces && ! -L /workspaces && -z "$(ls -A /workspaces)" ]]'
    check "git, curl, wget, jq, ssh, tini present" \
        run "$image" bash -c '{ git --version && curl --version && wget --version && jq --version && ssh -V && tini --version; } \
            >/dev/null 2>&1'
    check "gitspace-devcontainer reads JSONC (BOM, comments, trailing commas), static, as the user" \
        expect_output '"spec":"dev"' run "$image" bash -euo pipefail -c '
            d="$(mktemp -d)" && mkdir "$d/.devcontainer"
            printf "\xef\xbb\xbf{ // c\n \"remoteUser\": \"dev\", /* x */ }\n" >"$d/.devcontainer/devcontainer.json"
            bin=/usr/local/gitspace/bin/gitspace-devcontainer
            [[ "$(stat -c %U:%a "$bin")" == root:755 ]] || { stat "$bin"; exit 1; }
            ! grep -q "/ld-linux" "$bin" || { echo "$bin is dynamically linked"; exit 1; }
            "$bin" user --repo "$d"'
    check "no Node but vscode's own (no Debian nodejs, no libnode)" run "$image" bash -euo pipefail -c '
        [[ ! -e /usr/bin/node && ! -e /usr/bin/nodejs && ! -e /usr/local/gitspace/lib/node_modules ]]
        ! compgen -G "/usr/lib/*/libnode.so*" >/dev/null
        ! command -v node >/dev/null || [[ "$(readlink -f "$(command -v node)")" == /usr/local/gitspace/node/bin/node ]]'
    check "no documentation, manuals or translations (copyright files stay)" run "$image" bash -euo pipefail -c '
        [[ -z "$(find /usr/share/man /usr/share/info -type f 2>/dev/null | head -n 1)" ]]
        [[ -z "$(find /usr/share/doc -type f ! -name copyright | head -n 1)" ]]
        [[ -z "$(find /usr/share/locale -type f -name "*.mo" | head -n 1)" ]]
        [[ -f /usr/share/doc/git/copyright ]]'
    check "git without the full Perl: perl-base only, dpkg consistent, git works (add -p too)" git_ok "$image"
    check "git credential helper registered system-wide" \
        expect_output "/usr/local/gitspace/scripts/common/" run "$image" git config --system --get-all credential.helper
    case "$flavor" in
        base)
            check "scripts" scripts_ok "$image" common vscode cursor jetbrains
            check "FROM base + apt-get install: a Perl package gets the real perl, git-email Debian's git" \
                extend_with_perl_ok "$image"
            check "create-user.sh replaces Ubuntu's uid 1000 user, idempotently" ubuntu_user_ok ;;
        vscode)
            check "scripts" scripts_ok "$image" common vscode
            check "code-server --version" expect_output "4." run "$image" code-server --version
            check "one Node (24) on PATH, no npm or compiler in the image" run "$image" bash -euo pipefail -c '
                [[ $(node --version) == v24.* ]] && ! command -v npm && ! command -v gcc && ! command -v cc && [[ ! -e /usr/bin/node ]]'
            check "ripgrep (search) of this platform runs" expect_output "ripgrep" run "$image" bash -euo pipefail -c '
                p=linux-$(node -p process.arch)
                /usr/local/gitspace/code-server/lib/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep-universal/bin/$p/rg --version' 
            check "code-server's native modules load, a pty spawns" expect_output "pty-ok" \
                run -w /usr/local/gitspace/code-server/lib/node_modules/code-server/lib/vscode "$image" \
                /usr/local/gitspace/node/bin/node -e '
                    const load = (m) => require(require.resolve(m, { paths: [process.cwd()] }));
                    for (const m of ["@vscode/spdlog", "@vscode/sqlite3", "kerberos", "@parcel/watcher"]) load(m);
                    const p = load("node-pty").spawn("/bin/echo", ["pty-ok"], {});
                    p.onData((d) => process.stdout.write(d));'
            check "code-server serves /healthz" run "$image" bash -euo pipefail -c '
                code-server --auth none --bind-addr 127.0.0.1:8089 --disable-telemetry >/tmp/cs.log 2>&1 &
                for _ in $(seq 180); do
                    if curl -fs -o /dev/null http://127.0.0.1:8089/healthz; then exit 0; fi
                    sleep 1
                done
                cat /tmp/cs.log; exit 1'
            check "run-vscode-web.sh: password login required, then accepted" web_login_ok "$image" ;;
        vscode-desktop)
            check "scripts" scripts_ok "$image" common
            check "sshd -t" sshd_ok "$image"
            check "SSH key login through run-ssh-server.sh" ssh_login_ok "$image" "$scripts/common/run-ssh-server.sh" ;;
        cursor)
            check "scripts" scripts_ok "$image" common cursor
            check "sshd -t" sshd_ok "$image"
            check "SSH key login through run-cursor.sh" ssh_login_ok "$image" "$scripts/cursor/run-cursor.sh" ;;
        jetbrains)
            check "scripts" scripts_ok "$image" common jetbrains
            check "sshd -t" sshd_ok "$image"
            check "SSH key login through run-jetbrains.sh" ssh_login_ok "$image" "$scripts/jetbrains/run-jetbrains.sh"
            check "java -version is ${GITSPACE_JAVA_MAJOR:-17}" \
                expect_output "version \"${GITSPACE_JAVA_MAJOR:-17}" run "$image" java -version
            check "JAVA_HOME is a JDK/JRE" run "$image" bash -c '"$JAVA_HOME/bin/java" -version 2>/dev/null'
            check "fontconfig sees a font" expect_output "DejaVu" run "$image" fc-list ;;
        *) gs_die "unknown flavor $flavor" ;;
    esac
}

main() {
    if [[ "$builder" == buildkit ]]; then
        need buildctl "source ~/.cache/gitspace-tools/env.sh (npm run tools)"
        need jq
        [[ -n "${GITSPACE_REGISTRY_REPO:-}" ]] || gs_die "GITSPACE_BUILDER=buildkit needs GITSPACE_REGISTRY_REPO"
        [[ -n "$local_base" ]] || gs_die "GITSPACE_BUILDER=buildkit needs GITSPACE_BASE_IMAGE"
        [[ "$arch" == "$host_arch" ]] || gs_die "GITSPACE_BUILDER=buildkit builds for the host's architecture only"
    else
        need docker "apt-get install docker.io, then start dockerd"
        docker info >/dev/null 2>&1 || gs_die "dockerd is not running (start it: dockerd >/tmp/dockerd.log 2>&1 &)"
    fi
    local -a flavors=("$@")
    ((${#flavors[@]})) || flavors=("${all_flavors[@]}")
    local f
    for f in "${flavors[@]}"; do
        [[ " ${all_flavors[*]} " == *" $f "* ]] || gs_die "unknown flavor '$f' (known: ${all_flavors[*]})"
        [[ -f "$context_dir/images/$f/Dockerfile" ]] || gs_die "missing $context_dir/images/$f/Dockerfile"
    done
    if [[ "$arch" != "$host_arch" ]]; then
        local qemu
        case "$arch" in arm64) qemu=aarch64 ;; *) qemu="$arch" ;; esac
        grep -qs '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu" \
            || gs_die "building $arch on $host_arch needs qemu-user-static registered with the F flag (qemu-$qemu)"
        gs_log "building for $arch under qemu-$qemu"
    fi
    log_dir="$(mktemp -d /tmp/gitspace-build.XXXXXX)"
    summary=()
    local total_start=$SECONDS
    [[ "$builder" == buildkit ]] || ensure_local_base
    build base "$local_base"
    build base-system "$local_base"
    build devcontainer "$local_base"
    local parent
    case "${GITSPACE_FLAVOR_PARENT:-system}" in
        system) parent="$(image_ref base-system)" ;;
        base) parent="$(image_ref base)" ;;
        *) gs_die "GITSPACE_FLAVOR_PARENT must be system or base" ;;
    esac
    [[ "${GITSPACE_SKIP_SMOKE:-0}" == 1 ]] || smoke base
    push base
    for f in "${flavors[@]}"; do
        [[ "$f" == base ]] && continue
        build "$f" "$parent"
        [[ "${GITSPACE_SKIP_SMOKE:-0}" == 1 ]] || smoke "$f"
        push "$f"
    done
    gs_log "done in $((SECONDS - total_start))s (build logs: $log_dir)"
    printf '%s\n' "${summary[@]}" >&2
}

main "$@"
