#!/usr/bin/env bash
# Builds the Kubernetes test binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from the Go module proxy into a per-user cache,
# once per version set, and prints the folder on the last line of stdout.
# Progress goes to stderr. Safe to run concurrently: the build happens in a temp folder
# and is published with an atomic rename, guarded by a lock.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-0.8.0}"
HELM_VERSION="${HELM_VERSION:-4.3.1}"
CACHE_ROOT="${PIXTRAL_TEST_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pixtral-operator/k8s-bins}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"

say() { printf '[k8s-bins %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -f "$OUT/.complete" ]]; then echo "$OUT"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  say "Go is not installed: install Go >= 1.26 (Debian: the golang package is too old; use the go.dev tarball or your distribution's golang-1.26) or set KUBEBUILDER_ASSETS to a folder with the binaries"
  exit 3
fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
say "waiting for the build lock $CACHE_ROOT/.lock"
flock 9
if [[ -f "$OUT/.complete" ]]; then echo "$OUT"; exit 0; fi

TMP_OUT="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK" "$TMP_OUT"' EXIT
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
STAGING_VER="0.${K8S_VERSION#1.}"
MINOR="$(cut -d. -f2 <<<"$K8S_VERSION")"
START=$SECONDS

say "building Kubernetes v$K8S_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) into $OUT; a cold build takes about 8 min on 2 cores (measured)"
(
  cd "$WORK"
  KMOD="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jget GoMod)"
  mkdir k8s && cd k8s
  go mod init local.test/k8s-bins >/dev/null 2>&1
  go mod edit -go=1.26.0
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
  # folders a consumer cannot see; pin each to its published tag instead.
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$KMOD"); do
    go mod edit -replace="$m=$m@v$STAGING_VER"
  done
  go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  say "resolving Kubernetes modules"
  go mod tidy >&2
  LD="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD="$LD -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  say "compiling Kubernetes binaries"
  go build -trimpath -tags=selinux,notest -ldflags="$LD" -o "$TMP_OUT/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl >&2
)
say "Kubernetes done after $((SECONDS-START))s; building etcd v$ETCD_VERSION"
(
  mkdir "$WORK/etcd" && cd "$WORK/etcd"
  go mod init local.test/etcd-bins >/dev/null 2>&1
  go mod edit -go=1.26.0
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go mod tidy >&2
  go build -trimpath -ldflags="-s -w" -o "$TMP_OUT/etcd" go.etcd.io/etcd/server/v3 >&2
)
say "etcd done after $((SECONDS-START))s; building kwok v$KWOK_VERSION"
(
  cd "$WORK"
  GOFLAGS= GOBIN="$TMP_OUT" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" >&2
  KWOK_DIR="$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | jget Dir)"
  mkdir -p "$TMP_OUT/kwok-stages"
  for f in kustomize/stage/node/fast/node-initialize.yaml \
           kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           kustomize/stage/pod/fast/pod-ready.yaml \
           kustomize/stage/pod/fast/pod-complete.yaml \
           kustomize/stage/pod/fast/pod-delete.yaml; do
    cp "$KWOK_DIR/$f" "$TMP_OUT/kwok-stages/"
  done
)
say "kwok done after $((SECONDS-START))s; building helm v$HELM_VERSION"
(
  cd "$WORK"
  GOFLAGS= GOBIN="$TMP_OUT" go install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" >&2
)
say "checking versions"
"$TMP_OUT/kube-apiserver" --version | grep -q "v$K8S_VERSION"
"$TMP_OUT/kubectl" version --client | grep -q "v$K8S_VERSION"
"$TMP_OUT/etcd" --version | grep -q "$ETCD_VERSION"
"$TMP_OUT/kwok" --version >/dev/null
"$TMP_OUT/helm" version >/dev/null
echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION built_in=$((SECONDS-START))s" > "$TMP_OUT/.complete"
rm -rf "$OUT"; mv "$TMP_OUT" "$OUT"
trap 'rm -rf "$WORK"' EXIT
say "all binaries ready in $OUT after $((SECONDS-START))s"
echo "$OUT"
