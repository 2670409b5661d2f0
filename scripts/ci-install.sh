#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (root). Idempotent: safe to rerun.
# Heavy builds are cached outside the repo in ${ANTREA_MIGRATE_CACHE:-/var/cache/antrea-migrate}.
# Each block says which tests need it.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANTREA_MIGRATE_CACHE="${ANTREA_MIGRATE_CACHE:-/var/cache/antrea-migrate}"
mkdir -p "$ANTREA_MIGRATE_CACHE"

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# --- Python package and test tools (all tests) ---
python3 -m pip install -q -e '.[test]'

# --- Node tests: kernel objects and both netfilter backends (tests/node) ---
apt_install iproute2 iptables ipset nftables kmod


# --- Node agent: CRI tests (tests/cri) and regenerating the gRPC stubs (scripts/gen-protos.sh) ---
# A private containerd with runc and the CNI bridge/host-local plugins in /usr/lib/cni; gcc and a
# static libc build the pause image (cached as $ANTREA_MIGRATE_CACHE/pause-*.tar by the tests);
# util-linux gives unshare/nsenter for containerd's private mount and network namespaces.
apt_install containerd runc containernetworking-plugins gcc libc6-dev util-linux
python3 -m pip show grpcio-tools >/dev/null 2>&1 || python3 -m pip install -q 'grpcio-tools>=1.85.1'

# --- Cluster tests, e2e tests and benchmarks (tests/cluster, tests/e2e, benchmarks/check.py) ---
# etcd, kube-apiserver, kube-controller-manager, kubelet and kubectl of the pinned Kubernetes version,
# built from the Go module proxy once into $ANTREA_MIGRATE_CACHE/k8s-<version>/ (skipped when present).
bash scripts/build-k8s.sh
