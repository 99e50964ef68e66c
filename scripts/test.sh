#!/usr/bin/env bash
# Runs every test of the workspace. The storage and sync tests also run on PostgreSQL:
# they need a server at SUPPLYHUB_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) where they create and drop their own
# databases. A local Debian cluster that is down is started first.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${SUPPLYHUB_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$pg_url"
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
if ! pg_ready; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
  pg_ready || { echo "PostgreSQL is not reachable at $pg_url: start it or set SUPPLYHUB_TEST_POSTGRES_URL" >&2; exit 1; }
fi

# The admin page's browser test drives headless Chromium through chromedriver (Debian's
# chromium and chromium-driver), installed here when missing.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver for the browser test"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver
fi

exec cargo test --workspace --locked "$@"
