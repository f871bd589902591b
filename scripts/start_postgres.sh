#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for calnas's storage tests, on 127.0.0.1 at a free port.
#
#   eval "$(scripts/start_postgres.sh)"     # exports CALNAS_TEST_POSTGRES_URL and CALNAS_TEST_POSTGRES_DIR
#   scripts/start_postgres.sh stop "$CALNAS_TEST_POSTGRES_DIR"
#
# The cluster lives in a new temp folder (initdb, trust auth on loopback only). PostgreSQL refuses
# to run as root, so as root the server runs as the 'postgres' user when it exists, else 'nobody'.
# Needs Debian's postgresql package (apt-get update && apt-get install -y postgresql) or initdb and
# pg_ctl on PATH. Prints only the export lines on stdout; exits non-zero with a reason otherwise.
set -euo pipefail

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

BIN=$(find_bin) || { echo "start_postgres: no initdb found (apt-get install -y postgresql)" >&2; exit 3; }

as_user() {  # run a command as the server's user
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u "$PGUSER_OS" -- "$@"; else su -s /bin/sh "$PGUSER_OS" -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then PGUSER_OS=postgres; else PGUSER_OS=nobody; fi
else
  PGUSER_OS=$(id -un)
fi

if [ "${1:-}" = stop ]; then
  DIR=${2:?usage: start_postgres.sh stop DIR}
  as_user "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
  rm -rf "$DIR"
  exit 0
fi

DIR=$(mktemp -d /tmp/calnas-pg.XXXXXX)
chmod 755 "$DIR"
[ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

as_user "$BIN/initdb" -D "$DIR/data" -A trust -U calnas --no-sync >"$DIR/initdb.log" 2>&1 \
  || { echo "start_postgres: initdb failed, see $DIR/initdb.log" >&2; tail -5 "$DIR/initdb.log" >&2; exit 4; }
as_user "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=100" start >&2 \
  || { echo "start_postgres: server did not start, see $DIR/server.log" >&2; tail -5 "$DIR/server.log" >&2; exit 5; }

echo "export CALNAS_TEST_POSTGRES_URL=postgresql+psycopg2://calnas@127.0.0.1:$PORT/postgres"
echo "export CALNAS_TEST_POSTGRES_DIR=$DIR"
