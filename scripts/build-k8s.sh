#!/usr/bin/env bash
# Builds, once, the Kubernetes binaries the cluster tests and benchmarks run:
# etcd, kube-apiserver, kube-controller-manager, kubelet and kubectl, all from the
# k8s.io/kubernetes version pinned in scripts/k8s-build/go.mod.
#
# They land in ${ANTREA_MIGRATE_CACHE:-/var/cache/antrea-migrate}/k8s-<version>/,
# outside the repository (70-120 MB each: never commit them). A binary that is
# already there is not rebuilt, so running this again is cheap.
#
# Usage: scripts/build-k8s.sh            # build what is missing
#        scripts/build-k8s.sh --print-dir # print the binary dir and exit
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module_dir="$here/k8s-build"
version="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$module_dir/go.mod")"
if [[ -z "$version" ]]; then
    echo "build-k8s: no k8s.io/kubernetes version in $module_dir/go.mod" >&2
    exit 1
fi
out_dir="${ANTREA_MIGRATE_CACHE:-/var/cache/antrea-migrate}/k8s-${version}"

if [[ "${1:-}" == "--print-dir" ]]; then
    echo "$out_dir"
    exit 0
fi

go_bin="${GO:-/usr/local/go/bin/go}"
if ! command -v "$go_bin" >/dev/null 2>&1; then
    go_bin="$(command -v go || true)"
fi
if [[ -z "$go_bin" ]]; then
    echo "build-k8s: no Go toolchain (need Go 1.26.x at /usr/local/go/bin/go)" >&2
    exit 1
fi

# Kubernetes 1.36 names Go 1.26; a newer Go turns on encoding/json v2 by default and
# the apiserver then serves malformed OpenAPI (see shared/notes/control-plane.md).
go_minor="$("$go_bin" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
experiment=""
if [[ "$go_minor" -ge 27 ]]; then
    experiment="nojsonv2"
fi

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${version}"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
ldflags+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

mkdir -p "$out_dir"

build() {
    local name="$1" pkg="$2" cgo="$3"
    if [[ -x "$out_dir/$name" ]]; then
        echo "build-k8s: $name ${version} present"
        return
    fi
    echo "build-k8s: building $name ${version} (first time takes minutes)"
    (
        cd "$module_dir"
        CGO_ENABLED="$cgo" GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOEXPERIMENT="$experiment" \
            "$go_bin" build -trimpath -ldflags "$ldflags" -o "$out_dir/$name.tmp" "$pkg"
    )
    # Rename last so an interrupted build never leaves a binary that looks complete.
    mv "$out_dir/$name.tmp" "$out_dir/$name"
}

build etcd ./cmd/etcd 0
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver 0
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager 0
build kubectl k8s.io/kubernetes/cmd/kubectl 0
# Upstream links the kubelet dynamically (cgo) when a C compiler is there; it also
# builds without one.
kubelet_cgo=0
if command -v gcc >/dev/null 2>&1; then
    kubelet_cgo=1
fi
build kubelet k8s.io/kubernetes/cmd/kubelet "$kubelet_cgo"

echo "build-k8s: binaries in $out_dir"
