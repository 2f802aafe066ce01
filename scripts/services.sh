#!/usr/bin/env bash
# Start the services the tests talk to (PostgreSQL) and install the browser the victim-side
# hash page is tested in (Chromium), where missing.
# Machines of this project's kind run PostgreSQL already; a bare Debian machine gets it here.
set -euo pipefail

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium || echo "services: Chromium not installed; the hash-page test will skip" >&2
fi

# pdftoppm and pdftotext (poppler-utils): the evidence-report tests render and read the PDF.
if ! command -v pdftoppm >/dev/null 2>&1; then
  apt_install poppler-utils || echo "services: poppler-utils not installed; the evidence PDF render check will skip" >&2
fi

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
  if ! apt_install postgresql; then
    echo "services: PostgreSQL is not installed; PostgreSQL tests will be skipped" >&2
    exit 0
  fi
fi

if ! pg_ready; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$version" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi

if pg_ready; then
  # A database of our own, so tests never touch anyone else's data.
  if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='consentry_test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -qc "create database consentry_test" || true
  fi
  echo "services: PostgreSQL ready on 127.0.0.1:5432 (database consentry_test)"
else
  echo "services: PostgreSQL did not start; PostgreSQL tests will be skipped" >&2
fi
