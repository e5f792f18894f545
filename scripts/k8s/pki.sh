#!/usr/bin/env bash
# The cluster's own CA, certificates, service-account keys and kubeconfigs (scripts/k8s/cluster.sh), in $1.
set -Eeuo pipefail
run=$1
pki="$run/pki"
mkdir -p "$pki"
cd "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3 -subj "/CN=kedro-af-ci-k8s" 2>/dev/null

certificate() {  # name, common name, organisation, subject alternative names, extended key usage
  local name=$1 cn=$2 org=$3 san=$4 usage=$5 subject="/CN=$2"
  [[ -n "$org" ]] && subject="/O=$org/CN=$cn"
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    if [[ -n "$san" ]]; then echo "subjectAltName=$san"; fi
  } >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" -days 3 \
    -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

certificate apiserver kube-apiserver "" \
  "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:198.19.0.1" serverAuth
certificate apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" clientAuth
certificate admin kubernetes-admin system:masters "" clientAuth
certificate controller-manager system:kube-controller-manager "" "" clientAuth
certificate scheduler system:kube-scheduler "" "" clientAuth
certificate kubelet system:node:localhost system:nodes "" clientAuth
certificate kubelet-serving localhost "" "DNS:localhost,IP:127.0.0.1" serverAuth
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

for user in admin controller-manager scheduler kubelet; do
  config="$run/$user.kubeconfig"
  kubectl --kubeconfig="$config" config set-cluster local --server=https://127.0.0.1:6443 \
    --certificate-authority="$pki/ca.crt" --embed-certs >/dev/null
  kubectl --kubeconfig="$config" config set-credentials "$user" --client-certificate="$pki/$user.crt" \
    --client-key="$pki/$user.key" --embed-certs >/dev/null
  kubectl --kubeconfig="$config" config set-context local --cluster=local --user="$user" >/dev/null
  kubectl --kubeconfig="$config" config use-context local >/dev/null
done
