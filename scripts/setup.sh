#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for this project. Idempotent; prints what it does.
#   scripts/setup.sh        npm dependencies (Node 24 arrives as the npm package `node`) and the
#                           model's tokenizer file, what `npm start` needs
#   scripts/setup.sh test   also what the test suite needs: Debian packages, the Kubernetes test
#                           binaries (built from the Go module proxy into a per-user cache) and the
#                           Python oracle for token counts
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Every build cache of the project (oracle venv, test images, base image tarball) lives under
# .cache/, which points at a per-user folder outside the clone so fresh clones on this machine
# (CI's among them) reuse it.
CACHE_HOME="${PIXTRAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pixtral-operator/project}"
if [[ ! -e .cache ]]; then mkdir -p "$CACHE_HOME" && ln -s "$CACHE_HOME" .cache; fi

say "installing npm dependencies (npm ci; brings Node 24 as node_modules/.bin/node)"
npm ci --no-audit --no-fund --loglevel=error

# The model's tokenizer file (Tekken, Apache-2.0), which mistral-common's wheel ships: the sidecar
# that `npm start` runs locally counts tokens with it, as a serving pod does with the weights' copy.
tekken=.cache/tekken/tekken.json
if [[ ! -s "$tekken" ]]; then
  version="$(sed -n 's/^mistral-common[^=]*==\([0-9.]*\).*/\1/p' test/oracle/requirements.txt)"
  say "fetching the model's tokenizer file from the mistral-common $version wheel (PyPI) into $tekken"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    say "installing Debian's python3-pip (pip downloads the wheel)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  wheels="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$wheels" "mistral-common==$version"
  mkdir -p "$(dirname "$tekken")"
  python3 - "$wheels" "$tekken.tmp" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(f"{sys.argv[1]}/mistral_common-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("mistral_common/data/tekken_240911.json"))
PY
  mv "$tekken.tmp" "$tekken"
  rm -rf "$wheels"
fi
[[ "${1:-}" == test ]] || exit 0

# A cold run needs about 15 GB (Go's module and build caches for the Kubernetes binaries and
# Traefik, the images, a real node's containerd store); a full disk fails tests far from the cause
# (a weights download refused, pods stuck Pending), so say it first.
free_gb=$(df --output=avail -BG . | tail -1 | tr -dc 0-9)
say "free disk: ${free_gb} GB"
if ((free_gb < 15)); then
  say "warning: under 15 GB free; the suite may fail for want of disk (docker system df shows what images hold)"
fi

# prometheus (with promtool) tests the alert rules and the dashboard's queries; lua5.1 runs the
# Argo CD health check (Argo CD's Lua is 5.1). containerd, runc, the CNI plugins, iptables and
# conntrack: the real node of test/realnode (gcc and libc6-dev compile its pause binary).
APT_PACKAGES=(nginx-light wrk openssl curl python3-venv procps prometheus lua5.1 containerd runc containernetworking-plugins iptables conntrack gcc libc6-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx serves the benchmarks and prometheus the tests, each started by the test that needs it:
# never leave the distribution's services running.
for service in nginx prometheus; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
  if [[ -x /etc/init.d/$service ]] && command -v invoke-rc.d >/dev/null 2>&1; then
    invoke-rc.d "$service" stop >/dev/null 2>&1 || true
  fi
done

say "making sure the Kubernetes test binaries are built (cold: ~8 min on 2 cores; warm: instant)"
bash test/bin/ensure-k8s-bins.sh >/dev/null
say "making sure the real node's binaries are built (kubelet, kube-proxy, CoreDNS, pause; warm Go cache: ~1 min)"
bash test/bin/ensure-k8s-bins.sh node >/dev/null
say "making sure Traefik, the real node's ingress controller, is built (cold: ~10 min on 2 cores; warm: instant)"
bash test/bin/ensure-k8s-bins.sh ingress >/dev/null

say "setting up the token-count oracle (mistral-common from PyPI in .cache/oracle-venv)"
bash test/oracle/setup.sh
# Named after the generator's digest, as test/sidecar-limits/oracle.ts expects.
corpus=".cache/oracle/corpus-$(sha256sum test/oracle/generate.py | cut -c1-12).json"
if [[ ! -s "$corpus" ]]; then
  say "generating the oracle corpus $corpus (one to two minutes)"
  .cache/oracle-venv/bin/python test/oracle/generate.py "$corpus"
fi
for hook in scripts/build-images.sh; do
  if [[ -x "$hook" ]]; then say "running $hook"; "$hook"; fi
done
say "ready"
