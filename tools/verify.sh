#!/usr/bin/env bash
# Offline smoke test of the toolchain built by tools/toolchain.sh, in a temporary project with a local file
# backend and the repo's node_modules:
#   1. pulumi version, login file://, stack init;
#   2. pulumi up of a RandomPassword (CLI + our language host + random provider), a second up (no changes);
#   3. pulumi preview of a kubernetes Namespace with no cluster (the kubernetes provider loads and answers);
#   4. if root: a private buildkitd (runc) + a buildx `remote` builder, and pulumi up of a docker-build Image
#      (FROM scratch + a RUN of a static busybox when /bin/busybox exists) exported to a local directory;
#   5. pulumi destroy; everything it started is stopped and its temp dir removed.
# Usage: bash tools/verify.sh
# shellcheck disable=SC2317  # cleanup runs from the EXIT trap
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TOOLS_DIR=${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}
GS_LOG_TAG=verify
# shellcheck source=SCRIPTDIR/../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common/lib.sh"

[[ -f "$TOOLS_DIR/env.sh" ]] || { gs_log "run tools/toolchain.sh first"; exit 1; }
# shellcheck disable=SC1091
source "$TOOLS_DIR/env.sh"
[[ -d "$REPO/node_modules/@pulumi/pulumi" ]] || { gs_log "run npm ci first"; exit 1; }

WORK=$(mktemp -d /tmp/gitspace-verify.XXXXXX)
BUILDKITD_PID=
cleanup() {
  if [[ -n $BUILDKITD_PID ]]; then
    kill "$BUILDKITD_PID" 2>/dev/null || true
    wait "$BUILDKITD_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cd "$WORK"
ln -s "$REPO/node_modules" node_modules
cp "$REPO/tsconfig.json" . 2>/dev/null || echo '{"compilerOptions":{"strict":true,"module":"commonjs","target":"es2020"}}' >tsconfig.json
printf 'name: verify\nruntime: nodejs\n' >Pulumi.yaml
printf '{"name":"verify","main":"index.ts"}\n' >package.json
mkdir -p state ctx
echo hello >ctx/hello.txt
export PULUMI_CONFIG_PASSPHRASE="" KUBECONFIG="$WORK/no-kubeconfig" DOCKER_CONFIG="$WORK/docker"

with_image=false
if [[ $(id -u) -eq 0 ]] && command -v buildkitd >/dev/null && command -v buildx >/dev/null && command -v runc >/dev/null; then
  with_image=true
  { echo 'FROM scratch'; echo 'COPY hello.txt /hello.txt'; } >ctx/Dockerfile
  if [[ -x /bin/busybox ]] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
    cp /bin/busybox ctx/busybox
    { echo 'COPY busybox /bin/busybox'; echo 'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox id -u > /ran.txt"]'; } >>ctx/Dockerfile
  fi
  buildkitd --addr "unix://$WORK/buildkitd.sock" --root "$WORK/buildkit" --oci-worker=true \
    --containerd-worker=false >"$WORK/buildkitd.log" 2>&1 &
  BUILDKITD_PID=$!
  for _ in $(seq 1 30); do buildctl --addr "unix://$WORK/buildkitd.sock" debug workers >/dev/null 2>&1 && break; sleep 1; done
  buildx create --name gitspace-verify --driver remote "unix://$WORK/buildkitd.sock" >/dev/null
fi

cat >index.ts <<'EOF'
import * as random from "@pulumi/random";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
const pw = new random.RandomPassword("pw", { length: 20, special: false });
export const passwordLength = pw.result.apply(r => r.length);
if (pulumi.runtime.isDryRun() && process.env.VERIFY_K8S === "1") {
    new k8s.core.v1.Namespace("ns", { metadata: { name: "gitspace-verify" } });
}
EOF
if $with_image; then
  cat >>index.ts <<EOF
import * as dockerBuild from "@pulumi/docker-build";
new dockerBuild.Image("img", {
    context: { location: "./ctx" }, push: false, builder: { name: "gitspace-verify" },
    exports: [{ local: { dest: "$WORK/out" } }], platforms: ["linux/amd64"],
});
EOF
fi

passed=0 failed=0
ok() { gs_log "ok: $*"; passed=$((passed + 1)); }
fail() { gs_log "FAIL: $*"; failed=$((failed + 1)); }

gs_log "$(pulumi version) ($(command -v pulumi))"
pulumi login "file://$WORK/state" >/dev/null
pulumi stack init verify >/dev/null
gs_log "pulumi up: RandomPassword$($with_image && echo ' + docker-build Image')"
pulumi up --yes --skip-preview >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
len=$(pulumi stack output passwordLength --show-secrets)
if [[ $len == 20 ]]; then ok "random password of length $len, stored as a secret"; else fail "password length $len"; fi
if $with_image; then
  if [[ -f "$WORK/out/hello.txt" ]] && { [[ ! -f ctx/busybox ]] || [[ $(cat "$WORK/out/ran.txt") == 0 ]]; }; then
    ok "docker-build Image built (COPY$([[ -f ctx/busybox ]] && echo ' + RUN under runc')) by buildkitd $(buildkitd --version | awk '{print $3}') through a buildx remote builder"
  else
    fail "docker-build Image not exported"
  fi
fi
pulumi up --yes >"$WORK/up2.log" 2>&1
if grep -qE '[0-9]+ unchanged' "$WORK/up2.log" && ! grep -qE '^ *[+~-]+ +[0-9]+ (to )?(create|update|delete|replace)' "$WORK/up2.log"; then
  ok "second up changes nothing"
else
  fail "second up changed something"; cat "$WORK/up2.log" >&2
fi
if VERIFY_K8S=1 pulumi preview >"$WORK/preview.log" 2>&1 && grep -q 'kubernetes:core/v1:Namespace' "$WORK/preview.log"; then
  ok "kubernetes provider previews a Namespace (no cluster)"
else
  fail "kubernetes preview"; cat "$WORK/preview.log" >&2
fi
if pulumi destroy --yes >"$WORK/destroy.log" 2>&1; then ok "destroy"; else fail "destroy"; cat "$WORK/destroy.log" >&2; fi
pulumi plugin ls >&2
echo "verify: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
