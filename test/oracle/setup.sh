#!/usr/bin/env bash
# Creates the test-only oracle venv (.cache/oracle-venv) with mistral-common and Pillow from PyPI,
# and extracts the Tekken tokenizer file mistral-common ships (Apache-2.0) to .cache/tekken/.
# Idempotent: a venv whose requirements stamp matches is reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.cache/oracle-venv"
req="$root/test/oracle/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
mkdir -p "$root/.cache/tekken"
"$venv/bin/python" - "$root/.cache/tekken/tekken.json" <<'PY'
import pathlib, shutil, sys
import mistral_common
src = pathlib.Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"
dst = pathlib.Path(sys.argv[1])
if not dst.exists() or dst.stat().st_size != src.stat().st_size:
    shutil.copyfile(src, dst)
print(f"oracle ready: {dst}")
PY
