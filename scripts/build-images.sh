#!/usr/bin/env bash
# Builds the project's container images without any container registry:
#   1. starts dockerd if no daemon answers (this machine has no init system);
#   2. builds pixtral-base:bookworm from a debootstrap'ed Debian rootfs (Debian's package mirror
#      is the only network source), cached as a tarball under .cache/images/ so a rerun is fast;
#   3. builds pixtral-runtime:dev (sidecar + weights provisioner) and pixtral-operator:dev.
#
#   scripts/build-images.sh             all three (base only when missing)
#   scripts/build-images.sh base        only the base image
#   scripts/build-images.sh runtime     base if missing, then the runtime image
#   scripts/build-images.sh operator    base if missing, then the operator image
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), IMAGE_TAG (default dev),
# DOCKERD_LOG (default .cache/docker/dockerd.log), REBUILD_BASE=1 to redo the rootfs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

WHAT=${1:-all}
case "$WHAT" in all | base | runtime | operator) ;; *) die "unknown target '$WHAT' (all, base, runtime, operator)" ;; esac
BASE_IMAGE=pixtral-base:bookworm
TAG=${IMAGE_TAG:-dev}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=$ROOT/.cache/images
mkdir -p "$CACHE" "$ROOT/.cache/docker"
DOCKERD_LOG=${DOCKERD_LOG:-$ROOT/.cache/docker/dockerd.log}
# The docker CLI may be newer than the distribution's daemon and lack the buildx plugin; the
# classic builder needs neither and supports everything our Dockerfiles use.
export DOCKER_BUILDKIT=0

command -v docker >/dev/null || die "docker is not installed (apt-get install -y docker.io)"

ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return; fi
  command -v dockerd >/dev/null || die "no Docker daemon answers and dockerd is not installed (apt-get install -y docker.io)"
  say "starting dockerd in the background (log: $DOCKERD_LOG)"
  # setsid: the daemon must outlive this script and not get the terminal's signals.
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then say "dockerd is up"; return; fi
    sleep 1
  done
  tail -20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s (see $DOCKERD_LOG)"
}

# The smallest Debian that runs Node 24: minbase already brings libc6, libstdc++6 and libgcc-s1,
# the only libraries the official Node binary links. ca-certificates lets TLS tools agree with Node
# on the trust store (NODE_USE_SYSTEM_CA). Docs, man pages, locales and apt lists are removed.
build_base() {
  local tarball=$CACHE/bookworm-rootfs.tar
  if [[ -n "${REBUILD_BASE:-}" ]]; then rm -f "$tarball"; fi
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install -y debootstrap)"
    local rootfs
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    say "debootstrap bookworm (minbase) from $MIRROR into $rootfs (cold: a few minutes)"
    local started=$SECONDS
    if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$MIRROR" \
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
    --message "debootstrap bookworm minbase" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

ensure_base() {
  if [[ "$WHAT" == base || -n "${REBUILD_BASE:-}" ]] || ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    build_base
  else
    say "$BASE_IMAGE present"
  fi
}

build() {
  local name=$1 dockerfile=$2 started=$SECONDS
  [[ -x node_modules/node/bin/node ]] || die "node_modules/node/bin/node is missing: run scripts/setup.sh first"
  say "docker build $name from $dockerfile"
  docker build --quiet --network host -f "$dockerfile" -t "$name" . >/dev/null
  say "built $name: $(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1 / 1e6}'), $((SECONDS - started)) s"
}

ensure_dockerd
ensure_base
case "$WHAT" in
  all)
    build "pixtral-runtime:$TAG" runtime-image/Dockerfile
    build "pixtral-operator:$TAG" operator/Dockerfile
    ;;
  runtime) build "pixtral-runtime:$TAG" runtime-image/Dockerfile ;;
  operator) build "pixtral-operator:$TAG" operator/Dockerfile ;;
  base) ;;
esac
say "done"
