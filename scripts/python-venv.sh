#!/usr/bin/env bash
# Creates target/python-venv (under $CARGO_TARGET_DIR when set) with the official
# Standard Webhooks package, pinned, for the tests that check our signatures against it.
# Idempotent: a venv that already has the pinned version is left as it is.
# Prints the venv's python on stdout.
set -euo pipefail

STANDARDWEBHOOKS_VERSION="1.1.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/python-venv"
python="$venv/bin/python"
stamp="$venv/.standardwebhooks-$STANDARDWEBHOOKS_VERSION"

if [[ ! -f "$stamp" ]]; then
    mkdir -p "$target"
    # Another test may be creating it at the same time: one at a time.
    exec 9>"$target/python-venv.lock"
    flock 9
    if [[ ! -f "$stamp" ]]; then
        rm -rf "$venv"
        python3 -m venv "$venv" >&2
        "$python" -m pip install --quiet --disable-pip-version-check \
            "standardwebhooks==$STANDARDWEBHOOKS_VERSION" >&2
        touch "$stamp"
    fi
fi
echo "$python"
