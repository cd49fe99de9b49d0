#!/usr/bin/env bash
# The end-to-end suite: builds (or reuses) the toolchain, brings up the local cluster and BuildKit when they are not
# running, then runs tests/e2e/*.e2e.ts with mocha against them. Prints how long each part took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
GS_LOG_TAG=e2e
# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common/lib.sh"
part() { local name=$1 t=$SECONDS; shift; gs_log "$name ..."; "$@"; gs_log "$name done in $((SECONDS - t)) s"; }

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
# The images' offline checks (tests/images/build-images.sh, BuildKit mode): every flavor built and pushed to a
# repository of its own, then each smoke check run as a `RUN --network=none` step FROM the image, as its user: the
# IDEs start, log in and serve with nothing to download. Same BuildKit as the suite: a warm cache makes it ~1 min.
GITSPACE_BUILDER=buildkit BUILDKIT_HOST="unix://${GITSPACE_BUILDKIT_DIR:-/var/lib/gitspace-buildkit}/buildkitd.sock" \
  GITSPACE_REGISTRY_REPO=127.0.0.1:5000/gitspace-offline GITSPACE_REGISTRY_SCHEME=https GITSPACE_IMAGE_TAG=ci \
  GITSPACE_BASE_IMAGE="${GITSPACE_E2E_BASE_IMAGE:-127.0.0.1:5000/debian:bookworm}" \
  part "offline image checks" bash tests/images/build-images.sh
part suite npx mocha --config tests/e2e/mocharc.json "$@"
# The portal against the same engine and cluster (it uses the images the suite above pushed).
# No --exit: a suite that leaves a socket or timer behind hangs here, and that is a bug to fix (live.e2e.ts checks
# that a stopped cluster watch leaves no connection open).
part "portal suite" npx mocha --no-config -r ts-node/register/transpile-only --extension ts --timeout 1800000 \
  tests/portal/engine.e2e.ts tests/portal/cluster.e2e.ts tests/portal/live.e2e.ts tests/portal/multiprocess.e2e.ts \
  tests/portal/owners.e2e.ts tests/portal/adoption.e2e.ts tests/portal/partial.e2e.ts tests/portal/partial-shared.e2e.ts
gs_log "end-to-end suite passed in $((SECONDS - start)) s"
