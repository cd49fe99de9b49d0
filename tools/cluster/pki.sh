# shellcheck shell=bash
# Certificates and kubeconfigs of the local cluster, made with openssl (sourced by up.sh after lib.sh).
# Kept across down/up; a certificate is re-issued when its subject/SANs change or it expires within a day.

# cert_ok NAME SPEC: the certificate exists, was issued for SPEC and is valid for another day
cert_ok() {
  [[ -f $PKI/$1.crt && -f $PKI/$1.key && -f $PKI/$1.spec && $(<"$PKI/$1.spec") == "$2" ]] &&
    openssl x509 -checkend 86400 -noout -in "$PKI/$1.crt" >/dev/null 2>&1
}

make_ca() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  local spec="CN=gitspace-local-ca"
  cert_ok ca "$spec" && return 0
  gs_log "pki: new cluster CA (every certificate is re-issued)"
  rm -f "$PKI"/*.crt "$PKI"/*.key "$PKI"/*.spec
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=gitspace-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
  echo "$spec" >"$PKI/ca.spec"
}

# The local TLS CA: signs the serving certificates meant for people and tools on this machine (the registry on
# 127.0.0.1:5000, the router's wildcard certificate for *.$CLUSTER_DOMAIN). Apart from the cluster CA (which also
# signs system:masters client certificates), and name-constrained to what it serves, so that trusting it system
# wide (update-ca-certificates) lets it vouch for nothing else.
make_local_ca() {
  local spec="CN=gitspace-local-tls-ca|permitted:$LOCAL_CA_PERMITTED"
  cert_ok local-ca "$spec" && return 0
  gs_log "pki: new local TLS CA (its certificates are re-issued)"
  rm -f "$PKI"/local-ca.* "$PKI"/registry.* "$PKI"/router-wildcard.*
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/local-ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/local-ca.key" -subj "/O=gitspace local cluster/CN=gitspace-local-tls-ca" \
    -days 3650 -sha256 -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "nameConstraints=critical,$LOCAL_CA_PERMITTED" -out "$PKI/local-ca.crt" 2>/dev/null
  echo "$spec" >"$PKI/local-ca.spec"
}

# make_cert NAME SUBJECT USAGE [SANS [CA]]: SUBJECT like /O=system:masters/CN=admin; USAGE serverAuth|clientAuth|both;
# CA: ca (the cluster CA, default) or local-ca
make_cert() {
  local name=$1 subject=$2 usage=$3 sans=${4:-} ca=${5:-ca} eku
  local spec="$subject|$usage|$sans"
  [[ $ca == ca ]] || spec+="|$ca"
  cert_ok "$name" "$spec" && return 0
  case $usage in
    serverAuth) eku=serverAuth ;;
    clientAuth) eku=clientAuth ;;
    both) eku=serverAuth,clientAuth ;;
    *) gs_die "make_cert: bad usage $usage" ;;
  esac
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -z $sans ]] || echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
  echo "$spec" >"$PKI/$name.spec"
  gs_log "pki: issued $name ($subject)"
}

# write_kubeconfig FILE CERT-NAME: a kubeconfig with the CA and the client certificate embedded
write_kubeconfig() {
  local file=$1 name=$2 server=${3:-https://127.0.0.1:$APISERVER_PORT}
  local tmp
  tmp=$(mktemp "$file.XXXX")
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gitspace-local
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$name.crt")
    client-key-data: $(base64 -w0 "$PKI/$name.key")
contexts:
- name: gitspace-local
  context:
    cluster: gitspace-local
    user: $name
current-context: gitspace-local
EOF
  chmod 600 "$tmp"
  if cmp -s "$tmp" "$file"; then rm -f "$tmp"; else mv "$tmp" "$file"; fi
}

make_pki() {
  local node_ip=$1 sans
  make_ca
  sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sans+=",DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$node_ip,IP:$KUBERNETES_SERVICE_IP"
  make_cert apiserver "/CN=kube-apiserver" serverAuth "$sans"
  make_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  make_cert admin "/O=system:masters/CN=gitspace-admin" clientAuth
  make_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  make_cert scheduler "/CN=system:kube-scheduler" clientAuth
  make_cert kube-proxy "/CN=system:kube-proxy" clientAuth
  make_cert kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  make_cert kubelet "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,DNS:localhost,IP:$node_ip,IP:127.0.0.1"
  make_cert local-path-provisioner "/CN=gitspace:local-path-provisioner" clientAuth
  make_cert network-policies "/CN=gitspace:kube-network-policies" clientAuth
  make_cert coredns "/CN=gitspace-coredns" clientAuth
  make_local_ca
  make_cert registry "/CN=localhost" serverAuth "IP:127.0.0.1,DNS:localhost" local-ca
  make_cert router-wildcard "/CN=*.$CLUSTER_DOMAIN" serverAuth "DNS:*.$CLUSTER_DOMAIN,DNS:$CLUSTER_DOMAIN" local-ca
  if [[ ! -f $PKI/sa.key ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    gs_log "pki: new service-account signing key"
  fi
  write_kubeconfig "$KUBECONFIG_ADMIN" admin
  write_kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$STATE/scheduler.kubeconfig" scheduler
  write_kubeconfig "$STATE/kube-proxy.kubeconfig" kube-proxy
  write_kubeconfig "$STATE/kubelet.kubeconfig" kubelet-client
  write_kubeconfig "$STATE/local-path-provisioner.kubeconfig" local-path-provisioner
  write_kubeconfig "$STATE/network-policies.kubeconfig" network-policies
  write_kubeconfig "$STATE/coredns.kubeconfig" coredns
}
