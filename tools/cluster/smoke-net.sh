#!/usr/bin/env bash
# Network smoke test of the local cluster: NetworkPolicies are enforced (kube-network-policies) and the router
# (Traefik, Gateway API) answers over TLS with the local CA's wildcard certificate.
#   1. a client pod in another namespace connects to a web pod (no policy yet);
#   2. a policy lets only the router's namespace in: the client is refused, an HTTPRoute through Traefik answers
#      over HTTPS (curl --cacert --resolve) and HTTP, an Ingress of class traefik over HTTPS;
#   3. a second policy also lets the client's namespace in: the client connects again;
#   4. an egress policy lets the client reach only the web pod: the API server (on the node) is refused.
# Usage: bash tools/cluster/smoke-net.sh   (after up.sh; GITSPACE_SMOKE_KEEP=1 keeps the namespaces)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
K8S_BIN=${K8S_BIN:-$(k8s_bin_dir)} || gs_die "no Kubernetes binaries"
NS=gitspace-smoke-net     # the web pod, its Service, policies and HTTPRoute
PEER=gitspace-smoke-peer  # the client pod
HOST=smoke.$CLUSTER_DOMAIN
INGRESS_HOST=smoke-ingress.$CLUSTER_DOMAIN
PORT=8080
restricted_ns() {
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n' "$1"
  printf '    pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/enforce-version: latest\n'
}
# pod NAME: a restricted pod of the Debian base image; its container's command (YAML list items) comes on stdin
pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: $1}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: main
    image: $BASE_IMAGE
    env: [{name: PORT, value: "$PORT"}]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    command:
YAML
  cat
}

for ns in "$NS" "$PEER"; do
  if kubectl_admin get namespace "$ns" >/dev/null 2>&1; then
    kubectl_admin delete namespace "$ns" --wait=true --timeout=120s >/dev/null
  fi
done
t0=$(_now)
{
  restricted_ns "$NS"
  echo ---
  restricted_ns "$PEER"
} | kubectl_admin apply -f - >/dev/null
wait_for "service account $NS/default" 60 kubectl_admin -n "$NS" get serviceaccount default
wait_for "service account $PEER/default" 60 kubectl_admin -n "$PEER" get serviceaccount default
# the web pod: a one-connection-at-a-time HTTP server in perl (perl-base is in the minimal Debian image)
pod web <<'YAML' | kubectl_admin -n "$NS" apply -f - >/dev/null
    - perl
    - -MIO::Socket::INET
    - -e
    - |
      my $s = IO::Socket::INET->new(LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1) or die "listen: $!";
      while (my $c = $s->accept) {
        while (my $l = <$c>) { last if $l =~ /^\r?\n$/ }
        print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from $ENV{HOSTNAME}\n";
        close $c;
      }
YAML
pod client <<'YAML' | kubectl_admin -n "$PEER" apply -f - >/dev/null
    - sleep
    - infinity
YAML
kubectl_admin -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: $PORT, targetPort: $PORT}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs: [{name: $ROUTER_GATEWAY, namespace: $ROUTER_NS}]
  hostnames: ["$HOST"]
  rules: [{backendRefs: [{name: web, port: $PORT}]}]
---
# the same service through Traefik's Ingress provider
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: traefik
  tls: [{hosts: ["$INGRESS_HOST"]}] # no secret: the router's default certificate (the wildcard)
  rules:
  - host: "$INGRESS_HOST"
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: $PORT}}}}]
YAML
for p in "$NS/web" "$PEER/client"; do
  if ! kubectl_admin -n "${p%/*}" wait --for=condition=Ready "pod/${p#*/}" --timeout=180s >/dev/null; then
    kubectl_admin -n "${p%/*}" describe pod "${p#*/}" >&2 || true
    gs_die "pod $p not ready"
  fi
done
WEB_IP=$(kubectl_admin -n "$NS" get pod web -o jsonpath='{.status.podIP}')
gs_log "web pod $NS/web at $WEB_IP:$PORT, client pod $PEER/client, pods ready in $(_secs "$t0" "$(_now)")s"

# client_get: prints what the web pod answers to the client pod (fails when the connection is not made in 3 s)
client_get() {
  kubectl_admin -n "$PEER" exec client -- timeout 3 bash -c \
    "exec 3<>/dev/tcp/$WEB_IP/$PORT && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null
}
# a refused connection is the agent's verdict only while the agent runs (it fails closed: dead, it drops too)
agent_alive() { pid_of kube-network-policies >/dev/null || gs_die "kube-network-policies is not running (log: $LOGS/kube-network-policies.log)"; }
client_refused() { ! client_get >/dev/null && agent_alive; }
# client_connects HOST PORT: the client pod opens a TCP connection (3 s)
client_connects() {
  kubectl_admin -n "$PEER" exec client -- timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
apiserver_refused() { ! client_connects "$KUBERNETES_SERVICE_IP" 443 && agent_alive; }
router_get() { # SCHEME PORT [HOST]: the answer through Traefik, by a route's host name resolved to this machine
  local host=${3:-$HOST}
  curl -fsS --max-time 5 --cacert "$LOCAL_CA" --resolve "$host:$2:127.0.0.1" "$1://$host:$2/"
}

# 1. no policy: the client connects
wait_for "client -> web without a policy" 30 client_get
client_connects "$KUBERNETES_SERVICE_IP" 443 || gs_die "the client cannot reach the API server ($KUBERNETES_SERVICE_IP:443) without a policy"
gs_log "1. no policy: $PEER/client -> $NS/web:$PORT connects, and to the API server $KUBERNETES_SERVICE_IP:443"

# 2. only the router's namespace may connect
kubectl_admin -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-router
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $ROUTER_NS}}}]
    ports: [{protocol: TCP, port: $PORT}]
YAML
t_policy=$(_now)
wait_for "the policy to refuse the client" 30 client_refused
took=$(_secs "$t_policy" "$(_now)") # including the 3 s a refused attempt takes
# refused for good, not by chance
for _ in 1 2 3; do client_refused || gs_die "the client reached the web pod despite the NetworkPolicy"; done
gs_log "2. policy web-from-router: the client is refused (${took}s after the policy was created, of which 3 s are the attempt's timeout; 3 more attempts refused)"
if ! kubectl_admin -n "$NS" wait --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True \
  httproute/web --timeout=60s >/dev/null; then
  kubectl_admin -n "$NS" get httproute web -o yaml >&2 || true
  gs_die "HTTPRoute web not accepted by the Gateway"
fi
t_route=$(_now)
wait_for "https://$HOST:$ROUTER_HTTPS_PORT through Traefik" 60 router_get https "$ROUTER_HTTPS_PORT"
https_answer=$(router_get https "$ROUTER_HTTPS_PORT")
[[ $https_answer == "hello from web" ]] || gs_die "unexpected answer through the router: $https_answer"
gs_log "   through the router: 'curl --cacert $LOCAL_CA --resolve $HOST:$ROUTER_HTTPS_PORT:127.0.0.1 https://$HOST:$ROUTER_HTTPS_PORT/' -> '$https_answer' ($(_secs "$t_route" "$(_now)")s after the route was accepted)"
http_answer=$(router_get http "$ROUTER_HTTP_PORT") || gs_die "no answer on http://$HOST:$ROUTER_HTTP_PORT/"
[[ $http_answer == "hello from web" ]] || gs_die "unexpected answer through the router (HTTP): $http_answer"
gs_log "   and on http://$HOST:$ROUTER_HTTP_PORT/"
wait_for "https://$INGRESS_HOST:$ROUTER_HTTPS_PORT (Ingress) through Traefik" 30 router_get https "$ROUTER_HTTPS_PORT" "$INGRESS_HOST"
ingress_answer=$(router_get https "$ROUTER_HTTPS_PORT" "$INGRESS_HOST")
[[ $ingress_answer == "hello from web" ]] || gs_die "unexpected answer through the Ingress: $ingress_answer"
gs_log "   and through the Ingress (class traefik, the router's default certificate) on https://$INGRESS_HOST:$ROUTER_HTTPS_PORT/"
subject=$(openssl s_client -connect "127.0.0.1:$ROUTER_HTTPS_PORT" -servername "$HOST" -CAfile "$LOCAL_CA" \
  -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -subject -issuer | paste -sd' ') ||
  gs_die "the router's certificate does not verify against $LOCAL_CA"
gs_log "   router certificate: $subject"

# 3. the client's namespace may connect too
kubectl_admin -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-peer
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $PEER}}}]
    ports: [{protocol: TCP, port: $PORT}]
YAML
wait_for "the second policy to admit the client" 30 client_get
answer=$(client_get) || gs_die "the client was refused after web-from-peer"
[[ $answer == *"hello from web"* ]] || gs_die "unexpected answer to the client: $answer"
gs_log "3. policy web-from-peer: the client connects again"

# 4. egress: the client may only reach the web pod; the API server (on the node itself) is refused
kubectl_admin -n "$PEER" apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: client-egress
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $NS}}, podSelector: {matchLabels: {app: web}}}]
    ports: [{protocol: TCP, port: $PORT}]
YAML
wait_for "the egress policy to refuse the API server" 30 apiserver_refused
for _ in 1 2 3; do apiserver_refused || gs_die "the client reached the API server despite its egress policy"; done
client_get >/dev/null || gs_die "the egress policy also refused the allowed web pod"
gs_log "4. policy client-egress: the client reaches the web pod, the API server $KUBERNETES_SERVICE_IP:443 is refused"

agent_alive
gs_log "network smoke test passed in $(_secs "$t0" "$(_now)")s"
if [[ ${GITSPACE_SMOKE_KEEP:-0} == 1 ]]; then
  gs_log "keeping namespaces $NS and $PEER"
  exit 0
fi
# not waited for (~30 s): the next run waits at its start if they are still terminating
kubectl_admin delete namespace "$NS" "$PEER" --wait=false >/dev/null
