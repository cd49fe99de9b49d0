#!/usr/bin/env bash
# The main job on the local default: `pulumi up` of the dev stack (local file backend). Uses what you have and brings
# up what is missing, deciding each by a real call, never by an exit code of a lookup:
#   - Pulumi: `pulumi version` answers AND the providers this program needs are installed at the SDK's versions
#     (no plugin can be downloaded here); else the toolchain is built or reused (tools/toolchain.sh, cached).
#   - Kubernetes: the current context's API server answers /readyz; else (or GITSPACE_LOCAL_CLUSTER=1) the local
#     one-node cluster and its registry on 127.0.0.1:5000 are started (tools/cluster/up.sh).
#   - BuildKit: the selected buildx builder answers `inspect --bootstrap` with status "running" (a Docker CLI with no
#     daemon leaves the `default` builder in an error state); else BuildKit is started (tools/buildkit-up.sh).
# Where you have your own cluster, registry and CLI, those are used (set your registry in Pulumi.dev.yaml).
# Extra arguments go to `pulumi up`. Env: GITSPACE_STACK (default dev), GITSPACE_LOCAL_CLUSTER, GITSPACE_TOOLS_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=SCRIPTDIR/../scripts/common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common/lib.sh"
part() { local name=$1 t=$SECONDS; shift; gs_log "$name ..."; "$@"; gs_log "$name done in $((SECONDS - t)) s"; }
start=$SECONDS
local_cluster=0
stack="${GITSPACE_STACK:-dev}"
tools_env="${GITSPACE_TOOLS_DIR:-$HOME/.cache/gitspace-tools}/env.sh"

[[ -d node_modules/@pulumi/pulumi ]] || part "npm ci" npm ci --no-audit --no-fund
export PULUMI_SKIP_UPDATE_CHECK=true

# pulumi_ready: the CLI runs and has every provider the program's SDKs need, at their versions.
pulumi_ready() {
  local plugins
  pulumi version >/dev/null 2>&1 || return 1
  plugins=$(pulumi plugin ls --json 2>/dev/null) || return 1
  # shellcheck disable=SC2016  # JavaScript template literals, not shell expansions
  PLUGINS="$plugins" node -e '
    const have = JSON.parse(process.env.PLUGINS || "[]").map((p) => `${p.name}@${p.version}`);
    const missing = ["kubernetes", "docker-build", "random"].map((n) =>
      `${n}@${require(`@pulumi/${n}/package.json`).version}`).filter((w) => !have.includes(w));
    if (missing.length) { console.error(`[gitspace] pulumi: missing providers ${missing.join(", ")}`); process.exit(1); }'
}
# cluster_ready: the current kube context's API server answers.
cluster_ready() { command -v kubectl >/dev/null && kubectl get --raw /readyz >/dev/null 2>&1; }
# buildx_cmd: the standalone buildx, else the Docker CLI plugin (an array in BUILDX).
buildx_cmd() {
  if command -v buildx >/dev/null; then BUILDX=(buildx); elif docker buildx version >/dev/null 2>&1; then BUILDX=(docker buildx); else BUILDX=(); fi
}
# builder_ready: the selected builder answers and is running; `inspect` alone exits 0 on a builder in error.
builder_ready() {
  local out
  buildx_cmd
  [[ ${#BUILDX[@]} -gt 0 ]] || return 1
  out=$(timeout 120 "${BUILDX[@]}" inspect --bootstrap 2>&1) || { gs_log "buildx builder not usable: $(tail -1 <<<"$out")"; return 1; }
  grep -qE '^Status:[[:space:]]+running' <<<"$out" || { gs_log "buildx builder not running: $(grep -E '^(Name|Status|Error)' <<<"$out" | tr '\n' ' ')"; return 1; }
}

if pulumi_ready; then
  gs_log "using your Pulumi CLI: $(command -v pulumi) $(pulumi version)"
else
  # shellcheck source=/dev/null
  part "toolchain (Pulumi CLI, providers, BuildKit, Kubernetes; cached)" bash tools/toolchain.sh && source "$tools_env"
  pulumi_ready || gs_die "the toolchain's Pulumi CLI does not have the providers it should (see tools/README.md)"
fi

if [[ "${GITSPACE_LOCAL_CLUSTER:-0}" != 1 ]] && cluster_ready; then
  gs_log "using your cluster: $(kubectl config current-context 2>/dev/null || echo "\$KUBECONFIG")"
else
  if ! command -v kube-apiserver >/dev/null; then
    # shellcheck source=/dev/null
    part "toolchain (Kubernetes)" bash tools/toolchain.sh kubernetes && source "$tools_env"
  fi
  part "local cluster, registry 127.0.0.1:5000" bash tools/cluster/up.sh
  export KUBECONFIG="${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}/kubeconfig"
  local_cluster=1
  cluster_ready || gs_die "the local cluster does not answer (logs: ${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}/logs)"
fi

if builder_ready; then
  gs_log "using your buildx builder: $("${BUILDX[@]}" inspect 2>/dev/null | sed -n 's/^Name:[[:space:]]*//p' | head -1)"
else
  if ! command -v buildkitd >/dev/null || ! command -v buildx >/dev/null; then
    # shellcheck source=/dev/null
    part "toolchain (BuildKit)" bash tools/toolchain.sh buildkit && source "$tools_env"
  fi
  part "BuildKit" bash tools/buildkit-up.sh
  buildx use "${GITSPACE_BUILDER:-gitspace}"
  builder_ready || gs_die "the BuildKit builder does not answer (log: ${GITSPACE_BUILDKIT_DIR:-/var/lib/gitspace-buildkit}/buildkitd.log)"
fi

# Local file backend in the repository (git-ignored); the passphrase protects stack secrets.
mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
pulumi stack select "$stack" --create --non-interactive >/dev/null
part "pulumi up ($stack)" pulumi up --stack "$stack" --yes --non-interactive "$@"

# How to reach each gitspace from this machine (URLs and SSH commands; passwords stay in the stack's secrets).
print_access() {
  local ca="${GITSPACE_CLUSTER_DIR:-/var/lib/gitspace-cluster}/pki/local-ca.crt"
  # shellcheck disable=SC2016  # JavaScript template literals, not shell expansions
  pulumi stack output gitspaces --stack "$stack" --show-secrets --json | CA="$ca" LOCAL="$local_cluster" node -e '
    const gs = JSON.parse(require("fs").readFileSync(0, "utf8") || "{}");
    // On the local cluster the router listens on 127.0.0.1:443 with a certificate of the local CA.
    const local = process.env.LOCAL === "1";
    const ca = local && require("fs").existsSync(process.env.CA) ? process.env.CA : undefined;
    const line = (s) => console.error(`[gitspace]   ${s}`);
    for (const [dev, g] of Object.entries(gs)) {
      console.error(`[gitspace] ${dev} (${g.ide}):`);
      for (const url of [g.url, ...Object.values(g.appUrls ?? {})].filter(Boolean)) {
        const host = new URL(url).host;
        line(local ? `${url}   curl${ca ? ` --cacert ${ca}` : ""} --resolve ${host}:443:127.0.0.1 ${url}/` : url);
      }
      if (g.ssh) line(`${g.ssh}`);
      if (g.password !== undefined) line(`password: pulumi stack output gitspaces --show-secrets (gitspaces.${dev}.password)`);
    }
    if (ca) console.error(`[gitspace] the router'"'"'s certificate is signed by the local CA ${ca} (trusted system-wide here; import it in a browser, or curl --cacert). *.localtest.me resolves to 127.0.0.1, else add a hosts entry.`);'
}
print_access || gs_log "could not read the stack outputs: pulumi stack output gitspaces"
gs_log "done in $((SECONDS - start)) s; outputs: pulumi stack output gitspaces --show-secrets (PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL)"
