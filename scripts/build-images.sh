#!/usr/bin/env bash
# Builds the project's container images without any container registry:
#   1. starts dockerd if no daemon answers (this machine has no init system);
#   2. builds pixtral-base:bookworm from a debootstrap'ed Debian rootfs (Debian's package mirror
#      is the only network source), cached as a tarball under .cache/images/ so a rerun is fast;
#   3. builds the runtime image (sidecar + weights provisioner) and the operator image, each tagged
#      twice: a short local name (pixtral-runtime:dev, pixtral-operator:dev) and the name the chart
#      and the operator configuration default to (ghcr.io/pixtral-operator/{runtime,operator}:<version>),
#      so an install on a cluster whose nodes share this Docker finds them without any registry.
#
#   scripts/build-images.sh             all three (base only when missing)
#   scripts/build-images.sh base        only the base image
#   scripts/build-images.sh runtime     base if missing, then the runtime image
#   scripts/build-images.sh operator    base if missing, then the operator image
#   scripts/build-images.sh vllm        base if missing, then the vLLM stand-in (test/upstream-stub),
#                                       pixtral-vllm-standin:<tag>, for tests on a real node
#   scripts/build-images.sh pause       the pod sandbox image of the tests' real node: Kubernetes'
#                                       own pause.c, compiled static by test/bin/ensure-k8s-bins.sh
#                                       node (no base image, nothing pulled)
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), IMAGE_TAG (default dev),
# DOCKERD_LOG (default .cache/docker/dockerd.log), REBUILD_BASE=1 to redo the rootfs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

WHAT=${1:-all}
case "$WHAT" in all | base | runtime | operator | vllm | pause) ;; *) die "unknown target '$WHAT' (all, base, runtime, operator, vllm, pause)" ;; esac
BASE_IMAGE=pixtral-base:bookworm
TAG=${IMAGE_TAG:-dev}
VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
[[ -n "$VERSION" ]] || die "cannot read the version from package.json"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=$ROOT/.cache/images
mkdir -p "$CACHE" "$ROOT/.cache/docker"
# Test files build images in parallel: one build at a time (the base image and dockerd are shared).
exec 9>"$CACHE/.lock"
if ! flock -w 1200 9; then
  die "another image build has held $CACHE/.lock for 20 min; find it with: fuser -v $CACHE/.lock"
fi
DOCKERD_LOG=${DOCKERD_LOG:-$ROOT/.cache/docker/dockerd.log}
# The docker CLI may be newer than the distribution's daemon and lack the buildx plugin; the
# classic builder needs neither and supports everything our Dockerfiles use.
export DOCKER_BUILDKIT=0

# Installs a Debian package the first time one of its commands is needed (root with apt only).
need() {
  local command=$1 package=$2
  command -v "$command" >/dev/null && return
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
    die "$command is missing: install the Debian package $package (apt-get install -y $package)"
  fi
  say "installing the Debian package $package (for $command)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}

ensure_dockerd() {
  need docker docker.io
  if docker info >/dev/null 2>&1; then return; fi
  need dockerd docker.io
  say "starting dockerd in the background (log: $DOCKERD_LOG)"
  # setsid: the daemon must outlive this script and not get the terminal's signals. 9>&-: it must
  # not inherit the build lock's descriptor, or the lock stays held for the daemon's whole life
  # and every later build waits forever (what a CI run that started dockerd here once did).
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then say "dockerd is up"; return; fi
    sleep 1
  done
  tail -20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s (see $DOCKERD_LOG)"
}

# The smallest Debian that runs Node 24: minbase already brings libc6, libstdc++6 and libgcc-s1,
# the only libraries the official Node binary links. ca-certificates lets TLS tools agree with Node
# on the trust store (NODE_USE_SYSTEM_CA). binutils strips the node binary's debug sections in the
# images' build stage (their final stage is FROM scratch, so it never ships). Docs, man pages,
# locales and apt lists are removed.
BASE_PACKAGES=ca-certificates,binutils
build_base() {
  local tarball=$CACHE/bookworm-rootfs-${BASE_PACKAGES//,/-}.tar
  if [[ -n "${REBUILD_BASE:-}" ]]; then rm -f "$tarball"; fi
  if [[ ! -s "$tarball" ]]; then
    need debootstrap debootstrap
    local rootfs
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    say "debootstrap bookworm (minbase) from $MIRROR into $rootfs (cold: a few minutes)"
    local started=$SECONDS
    if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$MIRROR" \
      >"$CACHE/debootstrap.log" 2>&1; then
      tail -20 "$CACHE/debootstrap.log" >&2
      rm -rf "$rootfs"
      die "debootstrap failed (full log: $CACHE/debootstrap.log)"
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
      "$rootfs"/usr/share/locale/* "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
    # Write to a temporary name first so an interrupted run never leaves a truncated cache.
    tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
    say "rootfs tarball cached at $tarball ($(du -h "$tarball" | cut -f1), $((SECONDS - started)) s)"
  else
    say "using cached rootfs tarball $tarball"
  fi
  say "docker import -> $BASE_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL pixtral.base.packages=$BASE_PACKAGES" \
    --message "debootstrap bookworm minbase" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

ensure_base() {
  # A base made with another package list (an older checkout's) is made again.
  local packages
  packages=$(docker image inspect -f '{{index .Config.Labels "pixtral.base.packages"}}' "$BASE_IMAGE" 2>/dev/null || true)
  if [[ "$WHAT" == base || -n "${REBUILD_BASE:-}" || "$packages" != "$BASE_PACKAGES" ]]; then
    build_base
  else
    say "$BASE_IMAGE present"
  fi
}

build() {
  local name=$1 published=$2 dockerfile=$3 kind=$4 started=$SECONDS
  [[ -x node_modules/node/bin/node ]] || die "node_modules/node/bin/node is missing: run scripts/setup.sh first"
  say "docker build $name ($published) from $dockerfile"
  local log=$ROOT/.cache/docker/build-${name%%:*}.log
  if ! docker build --network host --label "org.pixtral-operator.image=$kind" -f "$dockerfile" \
    -t "$name" -t "$published" . >"$log" 2>&1; then
    tail -30 "$log" >&2
    die "docker build of $name failed (full log: $log)"
  fi
  say "built $name: $(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1 / 1e6}'), $((SECONDS - started)) s"
  drop_leftovers "$kind"
}

# Every build of a changed tree leaves untagged images behind: the classic builder keeps the deps
# stage (600-700 MB: it holds a copy of node_modules) and the final image the tags moved away
# from. A CI run builds each image several times and a day of runs filled a 50 GB disk, so only
# the newest deps stage is kept (the next build's cache) and superseded final images go at once.
drop_leftovers() {
  local kind=$1 stale
  stale=$(
    docker images --quiet --filter dangling=true --filter "label=org.pixtral-operator.stage=$kind-deps" | tail -n +2
    docker images --quiet --filter dangling=true --filter "label=org.pixtral-operator.image=$kind"
  )
  if [[ -n "$stale" ]]; then
    # shellcheck disable=SC2086 # one id per word
    docker rmi --force $stale >/dev/null 2>&1 || true
  fi
}

# The pause image the real node's containerd names as its sandbox_image (test/harness/real-node.ts).
PAUSE_IMAGE=pixtral-pause:3.10
build_pause() {
  local bins ctx
  bins=$(bash test/bin/ensure-k8s-bins.sh node | tail -1)
  ctx=$(mktemp -d)
  cp "$bins/pause" "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile"
  say "docker build $PAUSE_IMAGE from $bins/pause"
  docker build -q -t "$PAUSE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
}

ensure_dockerd
if [[ "$WHAT" == pause ]]; then build_pause; say "done"; exit 0; fi
ensure_base
RUNTIME=(pixtral-runtime:"$TAG" ghcr.io/pixtral-operator/runtime:"$VERSION" runtime-image/Dockerfile runtime)
OPERATOR=(pixtral-operator:"$TAG" ghcr.io/pixtral-operator/operator:"$VERSION" operator/Dockerfile operator)
VLLM_STANDIN=(pixtral-vllm-standin:"$TAG" pixtral-vllm-standin:latest test/upstream-stub/Dockerfile vllm-standin)
case "$WHAT" in
  all) build "${RUNTIME[@]}" && build "${OPERATOR[@]}" && build "${VLLM_STANDIN[@]}" && build_pause ;;
  vllm) build "${VLLM_STANDIN[@]}" ;;
  runtime) build "${RUNTIME[@]}" ;;
  operator) build "${OPERATOR[@]}" ;;
  base) ;;
esac
say "done"
