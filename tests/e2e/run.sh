#!/usr/bin/env bash
# The end-to-end suite: builds (or reuses) the toolchain, brings up the local cluster and BuildKit when they are not
# running, then runs tests/e2e/*.e2e.ts with mocha against them. Prints how long each part took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
log() { printf '[gitspace] e2e: %s\n' "$*" >&2; }
part() { local name=$1 t=$SECONDS; shift; log "$name ..."; "$@"; log "$name done in $((SECONDS - t)) s"; }

start=$SECONDS
part toolchain bash tools/toolchain.sh
# shellcheck source=/dev/null
source "${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/env.sh"
kubeconfig="${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}/kubeconfig"
# Whoever started the cluster (`npm run up`, an earlier run, or nobody), bring it to what the suite needs: up.sh is
# idempotent (running daemons are left alone) and adds what is missing, here the base OS image for both
# architectures (the suite builds the base flavor for arm64 too).
GITSPACE_BASE_ARCHES="${GITSPACE_BASE_ARCHES:-amd64 arm64}" part cluster bash tools/cluster/up.sh
export KUBECONFIG="$kubeconfig"
part buildkit bash tools/buildkit-up.sh
part suite npx mocha --config tests/e2e/mocharc.json "$@"
# The portal against the same engine and cluster (it uses the images the suite above pushed).
# --exit: the live-status suite's cluster watch (@kubernetes/client-node) keeps a socket open after its last test.
part "portal suite" npx mocha --no-config --exit -r ts-node/register/transpile-only --extension ts --timeout 1800000 \
  tests/portal/engine.e2e.ts tests/portal/cluster.e2e.ts tests/portal/live.e2e.ts tests/portal/multiprocess.e2e.ts \
  tests/portal/owners.e2e.ts tests/portal/adoption.e2e.ts tests/portal/partial.e2e.ts
log "end-to-end suite passed in $((SECONDS - start)) s"
