#!/usr/bin/env bash
# Builds KubeAI's manager (the peer of bench/scale.ts, BENCH_PEER=kubeai) from a local copy of its
# public repository into the per-user cache, once per version, and prints the binary's folder
# (manager, plus the Model CRD and the system config the benchmark runs it with) on the last line
# of stdout. Progress goes to stderr.
#
#   scripts/build-kubeai.sh <kubeai git dir or source folder> [tag]     (tag default v0.22.1)
#
# Why from a local copy: the Go module proxy refuses KubeAI's own module path, so neither
# `go install` nor `go mod download` can fetch it; its dependencies do come from the proxy (the
# machine's GOPROXY). A clone of the repository works as the first argument (a git dir or a work
# tree: the tag is exported with git archive; a plain folder is used as it is).
# Never part of setup.sh or npm test: only the scale benchmark's peer needs it.
set -euo pipefail
SRC="${1:?usage: scripts/build-kubeai.sh <kubeai git dir or source folder> [tag]}"
TAG="${2:-v0.22.1}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/pixtral-operator/kubeai"
OUT="$CACHE_ROOT/kubeai-$TAG"
say() { printf '[kubeai %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -f "$OUT/.complete" ]]; then echo "$OUT"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then say "Go is not installed (Go >= 1.26 is needed)"; exit 3; fi
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9
if [[ -f "$OUT/.complete" ]]; then echo "$OUT"; exit 0; fi

WORK="$(mktemp -d)"
TMP_OUT="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
trap 'rm -rf "$WORK" "$TMP_OUT"' EXIT
START=$SECONDS
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  say "exporting $TAG from $SRC"
  git -C "$SRC" archive --format=tar "$TAG" | tar -x -C "$WORK"
else
  say "copying the source folder $SRC (tag argument ignored)"
  cp -a "$SRC/." "$WORK/"
fi
[[ -f "$WORK/go.mod" && -f "$WORK/cmd/main.go" ]] || { say "$SRC holds no KubeAI source (go.mod, cmd/main.go)"; exit 4; }

cd "$WORK"
# KubeAI pins an older toolchain line; build with the installed Go (1.26) and let the module
# graph be updated where the newer Go asks for it, instead of downloading a toolchain.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
say "downloading KubeAI's dependencies from the module proxy (cold: a few minutes)"
go mod download >&2
say "compiling the manager (cold: several minutes on 2 cores)"
go build -trimpath -ldflags="-s -w" -o "$TMP_OUT/manager" ./cmd/main.go >&2
cp manifests/crds/kubeai.org_models.yaml "$TMP_OUT/"
"$TMP_OUT/manager" --help >/dev/null 2>&1 || true
echo "kubeai=$TAG built_in=$((SECONDS-START))s" > "$TMP_OUT/.complete"
rm -rf "$OUT"; mv "$TMP_OUT" "$OUT"
say "KubeAI $TAG manager ready in $OUT after $((SECONDS-START))s"
echo "$OUT"
