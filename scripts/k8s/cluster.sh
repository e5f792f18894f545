#!/usr/bin/env bash
# A single-node Kubernetes on this machine, built from Go modules (docs/contributing.md, "A Kubernetes
# cluster"): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and a kubelet with containerd,
# runc and the CNI bridge plugin, all on loopback, as root. No image comes from outside: the pause image is
# built here, and the pods pull from a registry on this machine.
#
#   cluster.sh build   build the binaries pinned in versions.env into $K8S_HOME/bin/<versions> (Go's build
#                      and module caches are kept between runs: a warm build takes seconds)
#   cluster.sh up      start the cluster ($K8S_REGISTRY, host:port of a plain-http registry on loopback, is
#                      the one the runtime pulls from); prints the KUBECONFIG to use
#   cluster.sh down    stop every process `up` started, by PID, and undo what the kubelet changed
#
# Pods get addresses in 198.18.0.0/24 and services 198.19.0.0/24 (test ranges, never routed off this
# machine); pods have no default route. This machine runs cgroup v1 without CAP_SYS_RESOURCE: the kubelet
# is told failCgroupV1: false and containerd restrict_oom_score_adj = true.
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
K8S_HOME="${K8S_HOME:-${KAF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kedro-af-ci}/k8s}"
BIN="$K8S_HOME/bin/$KUBERNETES_VERSION-$CONTAINERD_VERSION-$ETCD_VERSION"
RUN="$K8S_HOME/run"
export PATH="$PATH:/usr/local/go/bin"

say() { printf 'k8s: %s\n' "$*" >&2; }

build() {
  mkdir -p "$BIN"
  if [[ -x "$BIN/kubelet" && -x "$BIN/containerd" && -x "$BIN/etcd" && -x "$BIN/pause" ]]; then
    say "binaries in $BIN"; return
  fi
  command -v go >/dev/null || { say "go is missing (the polyglot machine has it in /usr/local/go)"; exit 1; }
  local start=$SECONDS
  export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
  local version="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  version+=" -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$here/modules/kubernetes" && go build -trimpath -ldflags "-s -w $version" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet)
  (cd "$here/modules/containerd" && go build -trimpath \
    -tags "no_btrfs no_devmapper no_zfs osusergo netgo static_build" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" -o "$BIN/" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr)
  (cd "$here/modules/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  gcc -static -Os -o "$BIN/pause" "$here/pause.c"
  say "built in $((SECONDS - start)) s into $BIN"
}

packages() {
  local missing=()
  for tool in runc openssl kubectl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  if ((${#missing[@]})); then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

start() {  # name, command...: in the background, its PID in $RUN/<name>.pid, its output in $RUN/logs
  local name=$1; shift
  nohup "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_for() {  # what, seconds, command...
  local what=$1 limit=$2; shift 2
  for _ in $(seq 1 "$((limit * 4))"); do "$@" >/dev/null 2>&1 && return; sleep 0.25; done
  say "$what did not come up within $limit s (logs: $RUN/logs)"; exit 1
}

up() {
  packages
  build
  down quiet
  mkdir -p "$RUN/logs" "$RUN/pki" "$RUN/cni/net.d" "$RUN/certs.d" "$RUN/pv"
  bash "$here/pki.sh" "$RUN"
  python3 "$here/oci_image.py" "$RUN/pause.tar" kedro-af-ci.local/pause:1 "$BIN/pause" >/dev/null
  write_configs
  sysctl -n vm.overcommit_memory kernel.panic kernel.panic_on_oops >"$RUN/sysctl.before"
  [[ -e /var/lib/kubelet ]] || touch "$RUN/made-var-lib-kubelet"  # the kubelet writes its device plugins there
  start etcd "$BIN/etcd" --name kaf --data-dir "$RUN/etcd" --listen-client-urls http://127.0.0.1:23791 \
    --advertise-client-urls http://127.0.0.1:23791 --listen-peer-urls http://127.0.0.1:23801 \
    --initial-advertise-peer-urls http://127.0.0.1:23801 --initial-cluster kaf=http://127.0.0.1:23801 \
    --listen-metrics-urls http://127.0.0.1:23811
  wait_for etcd 30 curl -sf http://127.0.0.1:23791/health
  start containerd env PATH="$BIN:$PATH" "$BIN/containerd" --config "$RUN/containerd.toml"
  wait_for containerd 20 test -S "$RUN/containerd/containerd.sock"
  "$BIN/ctr" -a "$RUN/containerd/containerd.sock" -n k8s.io images import "$RUN/pause.tar" >/dev/null
  control_plane
  start kubelet "$BIN/kubelet" --config="$RUN/kubelet.yaml" --kubeconfig="$RUN/kubelet.kubeconfig" \
    --hostname-override=localhost --root-dir="$RUN/kubelet" --cert-dir="$RUN/kubelet/pki" --v=1
  export KUBECONFIG="$RUN/admin.kubeconfig"
  wait_for "the node" 120 sh -c "kubectl get node localhost 2>/dev/null | grep -q ' Ready'"
  wait_for "the default service account" 60 kubectl -n default get serviceaccount default
  say "up: export KUBECONFIG=$RUN/admin.kubeconfig"
  echo "$RUN/admin.kubeconfig"
}

control_plane() {
  local pki="$RUN/pki"
  start kube-apiserver "$BIN/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port=6443 --endpoint-reconciler-type=none --etcd-servers=http://127.0.0.1:23791 \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" --kubelet-certificate-authority="$pki/ca.crt" \
    --kubelet-preferred-address-types=Hostname --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" --service-account-issuer=https://kubernetes.default.svc \
    --service-cluster-ip-range=198.19.0.0/24 --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction,PodSecurity --allow-privileged=true --profiling=false --v=1
  wait_for kube-apiserver 90 curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    https://127.0.0.1:6443/readyz
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$RUN/controller-manager.kubeconfig" --bind-address=127.0.0.1 --secure-port=10257 \
    --leader-elect=false --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --use-service-account-credentials=true --controllers='*' --service-cluster-ip-range=198.19.0.0/24 \
    --allocate-node-cidrs=false --profiling=false --v=1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$RUN/scheduler.kubeconfig" \
    --authentication-kubeconfig="$RUN/scheduler.kubeconfig" --authorization-kubeconfig="$RUN/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --profiling=false --v=1
}

write_configs() {
  cat >"$RUN/containerd.toml" <<EOF
version = 3
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
disabled_plugins = ['io.containerd.nri.v1.nri']
[grpc]
  address = "$RUN/containerd/containerd.sock"
[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = '127.0.0.1'
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = 'kedro-af-ci.local/pause:1'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '$RUN/certs.d'
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '$(command -v runc)'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '$RUN/cni/net.d'
[plugins.'io.containerd.internal.v1.opt']
  path = '$RUN/containerd/opt'
EOF
  if [[ -n "${K8S_REGISTRY:-}" ]]; then  # the loopback registry the pods pull from, over plain http
    mkdir -p "$RUN/certs.d/$K8S_REGISTRY"
    printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
      "$K8S_REGISTRY" "$K8S_REGISTRY" >"$RUN/certs.d/$K8S_REGISTRY/hosts.toml"
  fi
  cat >"$RUN/cni/net.d/10-kaf.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "kaf", "plugins": [{"type": "bridge", "bridge": "kafbr0", "isGateway": false,
 "isDefaultGateway": false, "ipMasq": false, "hairpinMode": false,
 "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.18.0.0/24", "gateway": "198.18.0.1"}]],
          "routes": [{"dst": "198.18.0.0/24"}], "dataDir": "$RUN/cni/ipam"}}]}
EOF
  echo "nameserver 127.0.0.1" >"$RUN/resolv.conf"
  cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $RUN/pki/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $RUN/pki/kubelet-serving.crt
tlsPrivateKeyFile: $RUN/pki/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$RUN/containerd/containerd.sock
resolvConf: $RUN/resolv.conf
podLogsDir: $RUN/pod-logs
serializeImagePulls: true
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 30
EOF
}

stop() {  # name: the process `start` recorded, then its PID file
  local file="$RUN/$1.pid" pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

down() {
  [[ -d "$RUN" ]] || return 0
  local sock="$RUN/containerd/containerd.sock"
  if [[ -f "$RUN/kubelet.pid" ]] && KUBECONFIG="$RUN/admin.kubeconfig" kubectl get --raw=/readyz >/dev/null 2>&1; then
    KUBECONFIG="$RUN/admin.kubeconfig" kubectl delete pods --all -A --grace-period=1 --wait=true --timeout=60s \
      >/dev/null 2>&1 || true  # the kubelet takes its pods down through the runtime (network included)
  fi
  stop kubelet
  if [[ -S "$sock" ]]; then
    for task in $("$BIN/ctr" -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      "$BIN/ctr" -a "$sock" -n k8s.io tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
      "$BIN/ctr" -a "$sock" -n k8s.io tasks rm -f "$task" >/dev/null 2>&1 || true
    done
  fi
  stop containerd
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" || true); do kill -9 "$shim" 2>/dev/null || true; done
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$name"; done
  undo_node_changes
  [[ "${1:-}" == quiet ]] || say "down"
}

undo_node_changes() {
  awk '{print $5}' /proc/self/mountinfo | grep -E "^($RUN|/run/netns/cni-)" | sort -r | while read -r mount; do
    umount -l "$mount" 2>/dev/null || true
  done
  rm -f /run/netns/cni-* 2>/dev/null || true
  for link in $(ip -o link show master kafbr0 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$link" 2>/dev/null || true
  done
  ip link del kafbr0 2>/dev/null || true
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d "${hierarchy}kubepods" ]] && find "${hierarchy}kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || continue
    while "$tool" -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
    while "$tool" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
    "$tool" -F KUBE-FIREWALL 2>/dev/null || true; "$tool" -X KUBE-FIREWALL 2>/dev/null || true
    for table in filter nat mangle; do
      "$tool" -t "$table" -F KUBE-KUBELET-CANARY 2>/dev/null || true
      "$tool" -t "$table" -X KUBE-KUBELET-CANARY 2>/dev/null || true
    done
    "$tool" -t mangle -X KUBE-IPTABLES-HINT 2>/dev/null || true
  done
  if [[ -f "$RUN/sysctl.before" ]]; then  # the kubelet sets these for the whole machine
    mapfile -t before <"$RUN/sysctl.before"
    sysctl -q -w vm.overcommit_memory="${before[0]}" kernel.panic="${before[1]}" kernel.panic_on_oops="${before[2]}"
  fi
  [[ -f "$RUN/made-var-lib-kubelet" ]] && rm -rf /var/lib/kubelet
  rm -rf "$RUN" /run/containerd/runc/k8s.io
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  *) echo "usage: $0 build|up|down" >&2; exit 2 ;;
esac
