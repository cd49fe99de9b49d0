#!/usr/bin/env bash
# The main job on the local default: `pulumi up` of the dev stack (local file backend). Brings up what is missing:
# the toolchain (no `pulumi` on PATH), the local cluster + registry (no reachable kube context, or
# GITSPACE_LOCAL_CLUSTER=1) and a BuildKit builder (no buildx builder answering). Where you have your own cluster,
# registry and CLI, those are used (set your registry in Pulumi.dev.yaml). Extra arguments go to `pulumi up`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[gitspace] %s\n' "$*" >&2; }
part() { local name=$1 t=$SECONDS; shift; log "$name ..."; "$@"; log "$name done in $((SECONDS - t)) s"; }
start=$SECONDS
stack="${GITSPACE_STACK:-dev}"

[[ -d node_modules/@pulumi/pulumi ]] || part "npm ci" npm ci --no-audit --no-fund

if ! command -v pulumi >/dev/null; then
  part "toolchain (Pulumi CLI, providers, BuildKit, Kubernetes; cached)" bash tools/toolchain.sh
  # shellcheck source=/dev/null
  source "${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/env.sh"
fi
export PULUMI_SKIP_UPDATE_CHECK=true

if [[ "${GITSPACE_LOCAL_CLUSTER:-0}" != 1 ]] && command -v kubectl >/dev/null && kubectl get --raw /readyz >/dev/null 2>&1; then
  log "using your cluster: $(kubectl config current-context 2>/dev/null || echo "\$KUBECONFIG")"
else
  if ! command -v kube-apiserver >/dev/null; then
    part "toolchain (Kubernetes)" bash tools/toolchain.sh kubernetes
    # shellcheck source=/dev/null
    source "${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/env.sh"
  fi
  part "local cluster, registry 127.0.0.1:5000" bash tools/cluster/up.sh
  export KUBECONFIG="${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}/kubeconfig"
fi

if buildx inspect >/dev/null 2>&1 || docker buildx inspect >/dev/null 2>&1; then
  log "using your buildx builder"
else
  part "BuildKit" bash tools/buildkit-up.sh
  buildx use "${GITSPACE_BUILDER:-gitspace}"
fi

# Local file backend in the repository (git-ignored); the passphrase protects stack secrets.
mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
pulumi stack select "$stack" --create --non-interactive >/dev/null
part "pulumi up ($stack)" pulumi up --stack "$stack" --yes --non-interactive "$@"
log "done in $((SECONDS - start)) s; outputs: pulumi stack output gitspaces --show-secrets (PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL)"
