#!/usr/bin/env bash
# Builds the Kubernetes test binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from the Go module proxy into a per-user cache,
# once per version set, and prints the folder on the last line of stdout.
#   ensure-k8s-bins.sh        the control plane's binaries
#   ensure-k8s-bins.sh node   the real node's: kubelet, kube-proxy (same pinned Kubernetes and
#                             wrapper module, so a warm Go build cache makes them quick), CoreDNS
#                             and the pause binary (Kubernetes' own build/pause/linux/pause.c from
#                             the module source, compiled with gcc -static)
#   ensure-k8s-bins.sh ingress   Traefik v3, the real node's ingress controller (test/realnode
#                             runs it as a host process). Pinned to 3.6.x, not 3.7.x: the module
#                             proxy of the CI machines answers 403 for some of 3.7's dependency
#                             versions (github.com/containous/go-http-auth,
#                             github.com/nrdcg/oci-go-sdk/common/v1065 and six DNS-provider SDK
#                             versions); 3.6.12's all resolve. Cold: ~10 min on 2 cores
# Progress goes to stderr. Safe to run concurrently: the build happens in a temp folder
# and is published with an atomic rename, guarded by a lock.
set -euo pipefail
WHAT="${1:-control-plane}"
case "$WHAT" in control-plane | node | ingress) ;; *) echo "unknown target '$WHAT' (control-plane, node, ingress)" >&2; exit 2 ;; esac

K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-0.8.0}"
HELM_VERSION="${HELM_VERSION:-4.3.1}"
COREDNS_VERSION="${COREDNS_VERSION:-1.15.0}"
TRAEFIK_VERSION="${TRAEFIK_VERSION:-3.6.12}"
CACHE_ROOT="${PIXTRAL_TEST_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pixtral-operator/k8s-bins}"
if [[ "$WHAT" == node ]]; then
  OUT="$CACHE_ROOT/node-k8s-$K8S_VERSION-coredns-$COREDNS_VERSION"
elif [[ "$WHAT" == ingress ]]; then
  OUT="$CACHE_ROOT/traefik-$TRAEFIK_VERSION"
else
  OUT="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
fi

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

# A wrapper module requiring k8s.io/kubernetes, in the current folder, with the given commands
# as tool imports. The same go.mod for both targets, so their builds share the Go build cache.
k8s_wrapper_module() {
  local KMOD
  KMOD="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jget GoMod)"
  go mod init local.test/k8s-bins >/dev/null 2>&1
  go mod edit -go=1.26.0
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
  # folders a consumer cannot see; pin each to its published tag instead.
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$KMOD"); do
    go mod edit -replace="$m=$m@v$STAGING_VER"
  done
  go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for cmd in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
    printf ')\n'
  } > tools.go
  say "resolving Kubernetes modules"
  go mod tidy >&2
}

# Builds k8s.io/kubernetes/cmd/<name> for each name into $TMP_OUT, versioned like a release.
k8s_build() {
  local LD="-s -w" p cmd pkgs=()
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD="$LD -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for cmd in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
  go build -trimpath -tags=selinux,notest -ldflags="$LD" -o "$TMP_OUT/" "${pkgs[@]}" >&2
}

if [[ "$WHAT" == ingress ]]; then
  say "building Traefik v$TRAEFIK_VERSION into $OUT"
  (
    # Traefik's go.mod has replace lines (its forks and a folder of its own), which go install
    # refuses: build it through a wrapper module that repeats them.
    TDIR="$(GOFLAGS= go mod download -json "github.com/traefik/traefik/v3@v$TRAEFIK_VERSION" | jget Dir)"
    TMOD="$(GOFLAGS= go mod download -json "github.com/traefik/traefik/v3@v$TRAEFIK_VERSION" | jget GoMod)"
    mkdir "$WORK/traefik" && cd "$WORK/traefik"
    go mod init local.test/traefik-bin >/dev/null 2>&1
    go mod edit -go=1.26.0
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/traefik/traefik/v3/cmd/traefik"\n' > tools.go
    go mod edit -require="github.com/traefik/traefik/v3@v$TRAEFIK_VERSION"
    go mod edit -replace="github.com/traefik/traefik/dynamic/ext=$TDIR/pkg/config/dynamic/ext"
    sed -n 's#^[[:space:]]*\([^ ]*\) => \([^ .][^ ]*\) \(v[^ ]*\)$#\1=\2@\3#p' "$TMOD" | while read -r r; do
      go mod edit -replace="$r"
    done
    sed -n 's#^exclude \([^ ]*\) \(v[^ ]*\)$#\1@\2#p' "$TMOD" | while read -r e; do go mod edit -exclude="$e"; done
    go mod tidy >&2
    go build -trimpath -ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
      -o "$TMP_OUT/traefik" github.com/traefik/traefik/v3/cmd/traefik >&2
  )
  "$TMP_OUT/traefik" version | grep -q "$TRAEFIK_VERSION"
  echo "traefik=$TRAEFIK_VERSION built_in=$((SECONDS-START))s" > "$TMP_OUT/.complete"
  rm -rf "$OUT"; mv "$TMP_OUT" "$OUT"
  trap 'rm -rf "$WORK"' EXIT
  say "Traefik ready in $OUT after $((SECONDS-START))s"
  echo "$OUT"
  exit 0
fi

if [[ "$WHAT" == node ]]; then
  say "building the real node's binaries into $OUT: kubelet and kube-proxy v$K8S_VERSION (about 1 min with the control plane's build cache warm), CoreDNS v$COREDNS_VERSION, pause"
  (
    mkdir "$WORK/k8s" && cd "$WORK/k8s"
    # The control plane's four commands stay in the module so its go.sum and build graph match.
    k8s_wrapper_module kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy
    say "compiling kubelet and kube-proxy"
    k8s_build kubelet kube-proxy
  )
  say "kubelet and kube-proxy done after $((SECONDS-START))s; building CoreDNS v$COREDNS_VERSION"
  (
    cd "$WORK"
    GOFLAGS= GOBIN="$TMP_OUT" go install -trimpath -ldflags="-s -w" "github.com/coredns/coredns@v$COREDNS_VERSION" >&2
  )
  say "CoreDNS done after $((SECONDS-START))s; compiling pause"
  KDIR="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jget Dir)"
  if ! command -v gcc >/dev/null; then say "gcc is missing: install the Debian packages gcc and libc6-dev"; exit 4; fi
  gcc -Os -Wall -Werror -static -DVERSION="v$K8S_VERSION-pixtral" -o "$TMP_OUT/pause" "$KDIR/build/pause/linux/pause.c"
  say "checking versions"
  "$TMP_OUT/kubelet" --version | grep -q "v$K8S_VERSION"
  "$TMP_OUT/kube-proxy" --version | grep -q "v$K8S_VERSION"
  "$TMP_OUT/coredns" -version | grep -q "$COREDNS_VERSION"
  "$TMP_OUT/pause" -v | grep -q "v$K8S_VERSION"
  echo "k8s=$K8S_VERSION coredns=$COREDNS_VERSION built_in=$((SECONDS-START))s" > "$TMP_OUT/.complete"
  rm -rf "$OUT"; mv "$TMP_OUT" "$OUT"
  trap 'rm -rf "$WORK"' EXIT
  say "node binaries ready in $OUT after $((SECONDS-START))s"
  echo "$OUT"
  exit 0
fi

say "building Kubernetes v$K8S_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) into $OUT; a cold build takes about 8 min on 2 cores (measured)"
(
  mkdir "$WORK/k8s" && cd "$WORK/k8s"
  k8s_wrapper_module kube-apiserver kube-controller-manager kube-scheduler kubectl
  say "compiling Kubernetes binaries"
  k8s_build kube-apiserver kube-controller-manager kube-scheduler kubectl
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
