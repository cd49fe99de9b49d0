#!/usr/bin/env bash
# The README's main command as a newcomer runs it, on this machine: a fresh clone of this checkout's HEAD, no buildx
# builder chosen (an empty BUILDX_CONFIG), no kube context in the environment (KUBECONFIG names a file that does not
# exist) and no toolchain on PATH, and a team of its own (the one edit a newcomer makes, in Pulumi.dev.yaml) so it
# cannot collide with the e2e stacks. Then `npm run up`, a check that every running gitspace of the team is Ready,
# a `pulumi refresh` without warnings, `pulumi destroy`, and removal of the namespaces that destroy keeps (homes are retained by design). Prints how long
# each part took. Cleans up only what it created.
#
# Usage: bash tests/newcomer/run.sh     Env: GITSPACE_NEWCOMER_TEAM (default newcomer), GITSPACE_CLUSTER_DIR
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GS_LOG_TAG=newcomer
# shellcheck source=SCRIPTDIR/../../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common/lib.sh"
timings=()
part() { local name=$1 t=$SECONDS; shift; gs_log "$name ..."; "$@"; timings+=("$name: $((SECONDS - t)) s"); gs_log "$name done in $((SECONDS - t)) s"; }
team=${GITSPACE_NEWCOMER_TEAM:-newcomer}
cluster_kubeconfig="${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}/kubeconfig"
tools_path="${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}"

work=$(mktemp -d /tmp/gitspace-newcomer.XXXXXX)
clone=$work/gitspace
start=$SECONDS

# The newcomer's environment: PATH without the toolchain, no builder, no kube context, no Pulumi login of ours.
newcomer_path=$(tr ':' '\n' <<<"$PATH" | grep -vF "$tools_path" | paste -sd: -)
mkdir -p "$work/buildx"
newcomer() {
  env -u PULUMI_HOME -u PULUMI_BACKEND_URL -u GITSPACE_BUILDER -u KUBECONFIG -u GITSPACE_BUILDX_CLI_PLUGIN \
    PATH="$newcomer_path" BUILDX_CONFIG="$work/buildx" KUBECONFIG="$work/no-kubeconfig" "$@"
}
# After `npm run up`: the environment it printed (toolchain env, the local cluster, the clone's state backend).
as_operator() {
  # shellcheck source=/dev/null
  (source "$tools_path/env.sh" && cd "$clone" && BUILDX_CONFIG="$work/buildx" KUBECONFIG="$cluster_kubeconfig" \
    PULUMI_BACKEND_URL="file://$clone/.pulumi-state" PULUMI_CONFIG_PASSPHRASE="" "$@")
}

newcomer_up() { (cd "$clone" && newcomer npm run up); }
clone_repo() {
  git clone -q "$repo" "$clone"
  sed -i -E "s/^([[:space:]]*gitspace:team:)[[:space:]]*[^#]*/\1 $team  /" "$clone/Pulumi.dev.yaml"
  grep -qE "^[[:space:]]*gitspace:team: $team " "$clone/Pulumi.dev.yaml" || gs_die "could not set the team in Pulumi.dev.yaml"
}

# Every gitspace of the team that should run (replicas 1) has its Deployment available and its pod Ready.
check_ready() {
  local deploys running=0 ns name replicas
  deploys=$(as_operator kubectl get deploy -A -l "gitspace.io/team=$team" \
    -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name} {.spec.replicas}{"\n"}{end}')
  [[ -n $deploys ]] || gs_die "no Deployment of team $team found"
  while read -r ns name replicas; do
    [[ $replicas == 1 ]] || { gs_log "$ns/$name: stopped (replicas $replicas)"; continue; }
    as_operator kubectl -n "$ns" rollout status "deploy/$name" --timeout=300s >/dev/null
    as_operator kubectl -n "$ns" wait --for=condition=Ready pod -l "gitspace.io/team=$team" --timeout=300s >/dev/null
    gs_log "$ns/$name: Ready"
    running=$((running + 1))
  done <<<"$deploys"
  [[ $running -gt 0 ]] || gs_die "no running gitspace in team $team"
  gs_log "$running running gitspaces Ready"
}

# `pulumi refresh` is clean on the local default: docker-build verifies the image digests against the local registry
# over HTTPS (its certificate is from the local CA, which the machine trusts); no warning, no diagnostic.
refresh_clean() {
  local out
  out=$(as_operator pulumi refresh --stack dev --yes --non-interactive --skip-preview 2>&1) || { printf '%s\n' "$out" >&2; gs_die "pulumi refresh failed"; }
  if grep -iE '^\s*(warning|error):|diagnostics:' <<<"$out" >&2; then gs_die "pulumi refresh printed warnings (above)"; fi
  gs_log "refresh: no warnings ($(grep -cE 'refreshing|refreshed' <<<"$out") lines of progress)"
}

remove_kept() {
  as_operator kubectl delete namespace -l "gitspace.io/team=$team" --wait=true --timeout=300s
  local left
  left=$(as_operator kubectl get ns -l "gitspace.io/team=$team" -o name)
  [[ -z $left ]] || gs_die "namespaces left: $left"
}

# Only when a cluster is up already (on a fresh machine `npm run up` starts it).
remove_left_over() {
  if as_operator kubectl get --raw /readyz >/dev/null 2>&1; then remove_kept; else gs_log "no cluster running yet: nothing left over"; fi
}

part "fresh clone (team $team)" clone_repo
# The team is this test's own: homes an earlier run left when it failed before its cleanup (a fresh clone has no
# state for them, so `up` would meet them as foreign) are this test's data, removed first.
part "namespaces an earlier failed run left" remove_left_over
part "npm run up" newcomer_up
part "every running gitspace Ready" check_ready
part "pulumi refresh is clean" refresh_clean
part "pulumi destroy" as_operator pulumi destroy --stack dev --yes --non-interactive --skip-preview
part "remove the kept namespaces" remove_kept
rm -rf "$work"
gs_log "passed in $((SECONDS - start)) s:"
for t in "${timings[@]}"; do gs_log "  $t"; done
