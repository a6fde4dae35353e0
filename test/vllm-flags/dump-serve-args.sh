#!/usr/bin/env bash
# Writes test/vllm-flags/vllm-<version>-serve.json, the option table of `vllm serve` taken from
# vLLM's own argument parser, for the vLLM version the chart pins. Installs that vLLM from PyPI into
# a venv (about 10 GB, CPU-only is enough) so it is run by hand when the pin moves, not in CI;
# the unit test operator/src/catalog/vllm-flags.test.ts checks the operator's arguments against
# the committed table. Also asks vLLM itself whether the operator's arguments for each node type
# parse and validate (pass them as JSON lists, without 'serve', after the version).
#   test/vllm-flags/dump-serve-args.sh [version] ['["--model","/weights",...]' ...]
set -euo pipefail
cd "$(dirname "$0")"
VERSION=${1:-0.33.0}
shift || true
VENV=${VLLM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pixtral-operator/vllm-$VERSION-venv}
say() { printf '[vllm-flags %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
if [[ ! -x "$VENV/bin/vllm" ]]; then
  say "installing vllm==$VERSION into $VENV (about 10 GB; several minutes)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "vllm==$VERSION"
fi
# The PyPI wheel is built for CUDA; on a machine without a GPU vLLM cannot infer a device and its
# config defaults refuse to build. The CPU platform builds the same parser (options are not
# per-platform; only some defaults are).
export VLLM_TARGET_DEVICE=cpu
say "dumping the options of vllm serve"
"$VENV/bin/python" dump-serve-args.py >"vllm-$VERSION-serve.json.partial"
mv "vllm-$VERSION-serve.json.partial" "vllm-$VERSION-serve.json"
say "wrote test/vllm-flags/vllm-$VERSION-serve.json"
for args in "$@"; do
  say "checking $args"
  "$VENV/bin/python" dump-serve-args.py --check "$args"
done
