#!/usr/bin/env bash
# The Python packages some tests check the hub against, as their authors publish them:
# the official Standard Webhooks library (signatures both ways) and the Prometheus
# client's text-format parser (/metrics). Installs them, pinned, into
# ${CARGO_TARGET_DIR:-target}/python-venv on first use and prints the venv's python.
# Safe to run from several tests at once (a lock), quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/python-venv"
requirements="standardwebhooks==1.1.0 prometheus_client==0.26.0"

exec 9>"$venv.lock"
flock 9
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
  echo "$requirements" > "$venv/.requirements"
fi
echo "$venv/bin/python"
