#!/usr/bin/env bash
# Property-based API testing: runs schemathesis (PyPI) with every check (schemathesis.toml)
# against a served hub, using the committed openapi.json as the contract.
#
#   scripts/schemathesis.sh [BINARY] [-- extra `st run` options]
#
# BINARY defaults to target/debug/supplyhub (built by scripts/test.sh). The script starts
# a small sandbox supplier (200 products) and a hub on a fresh SQLite file in a temporary
# directory, syncs the catalog, serves it with an admin token, and runs schemathesis for a
# bounded time (SCHEMATHESIS_MAX_TIME seconds per phase group, default 120). Installs
# schemathesis into target/schemathesis-venv on first use. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/debug/supplyhub}"
shift || true
[ "${1:-}" = "--" ] && shift
bin="$(cd "$(dirname "$bin")" 2>/dev/null && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "no supplyhub binary at $bin: run scripts/test.sh or cargo build first" >&2; exit 1; }

venv="target/schemathesis-venv"
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sandbox_port="$(free_port)"
hub_port="$(free_port)"

"$bin" sandbox --listen "127.0.0.1:$sandbox_port" --products 200 --rate-limit 0 \
  >"$work/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sandbox_port") 2>/dev/null && break; sleep 0.2; done

# The sandbox prints the hub's settings that point at it.
while IFS= read -r line; do export "${line?}"; done < <("$bin" sandbox --listen "127.0.0.1:$sandbox_port" --print-env)
export SUPPLYHUB_DATABASE_URL="sqlite://$work/hub.db"
export SUPPLYHUB_ADMIN_TOKEN="schemathesis-$(date +%s%N)"
export SUPPLYHUB_LOG__LEVEL="warn"

(cd "$work" && "$bin" sync --county 370212 >"$work/sync.log" 2>&1) || {
  echo "the sync before the API run failed:" >&2; cat "$work/sync.log" >&2; exit 1; }
(cd "$work" && exec "$bin" serve --listen "127.0.0.1:$hub_port" >"$work/serve.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$hub_port") 2>/dev/null && break; sleep 0.2; done

status=0
"$venv/bin/st" run openapi.json \
  --url "http://127.0.0.1:$hub_port" \
  -H "Authorization: Bearer $SUPPLYHUB_ADMIN_TOKEN" \
  --max-time "${SCHEMATHESIS_MAX_TIME:-120}" \
  --workers 1 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --report junit --report-dir target/schemathesis-report \
  "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- hub log (last 50 lines) ---" >&2
  tail -n 50 "$work/serve.log" >&2
fi
exit "$status"
