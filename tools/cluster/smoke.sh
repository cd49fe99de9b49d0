#!/usr/bin/env bash
# Smoke test of the local cluster: in a namespace enforcing Pod Security "restricted", a pod from the local Debian
# base image runs as a non-root user with fsGroup, writes to a PVC of the default StorageClass (a `local` PV of
# local-path-provisioner; the kubelet gives its root the fsGroup) and completes; then the namespace is deleted and
# the volume must be reclaimed (directory and PV gone). Network policies and the router: smoke-net.sh.
# Usage: bash tools/cluster/smoke.sh   (after up.sh; GITSPACE_SMOKE_KEEP=1 keeps the namespace)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
K8S_BIN=${K8S_BIN:-$(k8s_bin_dir)} || gs_die "no Kubernetes binaries"
NS=gitspace-smoke
WANT_DNS=0
EGRESS_PROBE=${GITSPACE_SMOKE_EGRESS:-deb.debian.org/80} # host/port a pod should reach (masquerade, FORWARD)
pid_of coredns >/dev/null && WANT_DNS=1
k() { kubectl_admin -n "$NS" "$@"; }

if kubectl_admin get namespace "$NS" >/dev/null 2>&1; then
  kubectl_admin delete namespace "$NS" --wait=true --timeout=120s >/dev/null
fi
t0=$(_now)
kubectl_admin apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
YAML
wait_for "service account $NS/default" 60 k get serviceaccount default
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: home
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: smoke
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    fsGroup: 1000
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: smoke
    image: $BASE_IMAGE
    command:
    - sh
    - -c
    - |
      set -e
      id
      echo "written by \$(id -u) at \$(date -u +%FT%TZ)" > /data/hello
      cat /data/hello
      stat -c 'volume root: mode %a owner %u:%g' /data
      ls -ln /data
      timeout 10 bash -c 'exec 3<>/dev/tcp/$KUBERNETES_SERVICE_IP/443' && echo "service $KUBERNETES_SERVICE_IP:443 reachable"
      if [ "$WANT_DNS" = 1 ]; then getent hosts kubernetes.default.svc.cluster.local; fi
      if timeout 10 bash -c 'exec 3<>/dev/tcp/$EGRESS_PROBE' 2>/dev/null; then echo "egress to $EGRESS_PROBE ok"; else echo "egress to $EGRESS_PROBE failed"; fi
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
    volumeMounts:
    - name: home
      mountPath: /data
  volumes:
  - name: home
    persistentVolumeClaim:
      claimName: home
YAML
if ! kubectl_admin -n "$NS" wait --for=jsonpath='{.status.phase}'=Succeeded pod/smoke --timeout=300s >/dev/null; then
  k describe pod smoke >&2 || true
  k describe pvc home >&2 || true
  k logs smoke >&2 || true
  gs_die "smoke pod did not succeed"
fi
took=$(_secs "$t0" "$(_now)")
out=$(k logs smoke)
gs_log "smoke pod output:"
while IFS= read -r line; do printf '    %s\n' "$line" >&2; done <<<"$out"
pv=$(k get pvc home -o jsonpath='{.spec.volumeName}')
dir=$(kubectl_admin get pv "$pv" -o jsonpath='{.spec.local.path}')
[[ -n $dir ]] || gs_die "PV $pv is not a local volume: $(kubectl_admin get pv "$pv" -o jsonpath='{.spec}')"
gs_log "PVC home bound to $pv (local volume $dir: $(stat -c 'mode %a owner %u:%g' "$dir"), file: $(stat -c '%U:%G %a' "$dir/hello" 2>/dev/null || echo -))"
grep -q '^uid=1000 gid=1000 groups=1000' <<<"$out" || gs_die "unexpected id in the smoke pod"
# fsGroup applied by the kubelet (local volumes only): group 1000, setgid, group-writable, nothing for others
grep -q '^volume root: mode 2775 owner 0:1000$' <<<"$out" || gs_die "fsGroup not applied to the volume root"
grep -q "reachable" <<<"$out" || gs_die "the kubernetes service was not reachable from the pod"
if [[ $WANT_DNS == 1 ]]; then
  grep -q "kubernetes.default.svc.cluster.local" <<<"$out" || gs_die "cluster DNS did not answer in the pod"
fi
grep -q "egress to .* ok" <<<"$out" || gs_log "WARNING: pods cannot reach $EGRESS_PROBE (no network outside, or FORWARD/masquerade)"
gs_log "smoke pod: created, ran and completed in ${took}s"
if [[ ${GITSPACE_SMOKE_KEEP:-0} == 1 ]]; then
  gs_log "keeping namespace $NS"
  exit 0
fi
kubectl_admin delete namespace "$NS" --wait=true --timeout=120s >/dev/null
wait_for "PV $pv deleted by the provisioner" 60 bash -c "! '$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_ADMIN' get pv '$pv'"
[[ ! -e $dir ]] || gs_die "volume directory $dir still exists after the claim was deleted"
gs_log "namespace deleted: PV $pv and $dir reclaimed"
