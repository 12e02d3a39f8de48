#!/usr/bin/env bash
# The whole test suite, from a fresh machine with the Rust toolchain:
#   1. installs what the tests need (PostgreSQL, Chromium + chromedriver, IPAex fonts, poppler),
#   2. checks formatting and lints,
#   3. runs unit tests and the integration suite on SQLite (with the browser tests),
#   4. starts a throwaway PostgreSQL cluster on 127.0.0.1 and runs the integration suite on it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
[[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ]] || missing+=(fonts-ipaexfont)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
# Backups: restored by hand with Debian's age, zstd and tar in the tests (issue 11).
command -v age >/dev/null || missing+=(age)
command -v zstd >/dev/null || missing+=(zstd)
# Mail tests: the test certificates of the SMTP server are made with the openssl CLI.
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Prometheus project's own text parser checks /metrics (tests/api/observe.rs).
python3 -c "import prometheus_client" 2>/dev/null || python3 -m pip install -q prometheus-client
export RAINBOWNET_REQUIRE_PROMETHEUS_PARSER=1
# A local S3-compatible server (moto) for the backups' second target, on loopback only.
command -v moto_server >/dev/null || python3 -m pip install -q 'moto[server]'
export RAINBOWNET_REQUIRE_BACKUP_TOOLS=1 RAINBOWNET_REQUIRE_S3=1
# A real SMTP server on loopback (aiosmtpd, tests/support/smtp_sink.py) for the mail outbox;
# the openssl CLI makes its test certificates.
python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd
export RAINBOWNET_REQUIRE_SMTP=1

log "import rules: no circle between files, the core imports only the core"
python3 scripts/file_imports.py src

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

log "tests on SQLite (unit, integration, browser)"
RAINBOWNET_REQUIRE_BROWSER=1 cargo test --quiet

log "tests on PostgreSQL"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDIR=$(mktemp -d /tmp/rainbownet-pg.XXXXXX)
PGPORT=${RAINBOWNET_TEST_PGPORT:-25432}
while (echo >"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null; do PGPORT=$((PGPORT + 1)); done
run_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[[ $(id -u) -eq 0 ]] && chown postgres "$PGDIR"
stop_pg() { run_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap stop_pg EXIT
run_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -l "$PGDIR/server.log" \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off -c max_connections=300" start >/dev/null
TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres" RAINBOWNET_REQUIRE_BROWSER=1 \
  cargo test --quiet --test api

log "all tests passed on SQLite and PostgreSQL"
