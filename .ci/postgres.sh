#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL 15 server for the store tests, and install
# promtool for the OpenMetrics check. Debian bookworm, run as root.
#
#   eval "$(.ci/postgres.sh)"     # exports DRILL_TEST_PG_URL
#   .ci/postgres.sh stop          # stops the server and removes its data directory
#
# Only the export line goes to stdout; everything else goes to stderr. Idempotent: a
# second run finds the server answering on 127.0.0.1:$PGPORT and just prints the line.
set -euo pipefail

PGPORT="${DRILL_PG_PORT:-55432}"
PGBIN="/usr/lib/postgresql/15/bin"
PGROOT="${DRILL_PG_DIR:-${TMPDIR:-/tmp}/drill-ci-postgres}"
PGDATA="$PGROOT/data"
DBNAME="drill_test"
URL="postgresql+psycopg://postgres@127.0.0.1:${PGPORT}/${DBNAME}"

log() { printf '%s\n' "postgres.sh: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install_missing() {
  local wanted=()
  [ -x "$PGBIN/initdb" ] || wanted+=(postgresql-15 postgresql-client-15)
  command -v promtool >/dev/null 2>&1 || wanted+=(prometheus)
  [ "${#wanted[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing ${wanted[*]} and not root: install them or run as root"
    exit 1
  fi
  log "installing ${wanted[*]}"
  # Keep apt's maintainer scripts from starting services (the packaged postgresql
  # cluster on 5432, the prometheus daemon): we only want the binaries.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${wanted[@]}"; } >&2 || {
    [ "$own_policy" -eq 1 ] && rm -f "$policy"
    exit 1
  }
  [ "$own_policy" -eq 1 ] && rm -f "$policy"
  return 0
}

ready() {
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" >/dev/null 2>&1
}

start_server() {
  if ready; then
    log "reusing the server on 127.0.0.1:$PGPORT"
    return 0
  fi
  mkdir -p "$PGROOT"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initdb in $PGDATA"
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$PGROOT"
    as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >&2
    cat >>"$PGDATA/postgresql.conf" <<EOF
# drill CI: local only, fast, disposable
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGROOT'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  log "starting PostgreSQL on 127.0.0.1:$PGPORT"
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGROOT/server.log" -w -t 60 start >&2 || {
    log "pg_ctl start failed; server log follows"
    tail -n 40 "$PGROOT/server.log" >&2 || true
    exit 1
  }
}

create_database() {
  local psql=("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != "1" ]; then
    log "creating database $DBNAME"
    "${psql[@]}" -c "CREATE DATABASE $DBNAME" >&2
  fi
}

stop_server() {
  if [ -s "$PGDATA/PG_VERSION" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >&2 || true
  fi
  rm -rf "$PGROOT"
  log "stopped and removed $PGROOT"
}

case "${1:-start}" in
  start)
    install_missing
    start_server
    create_database
    printf 'export DRILL_TEST_PG_URL=%q\n' "$URL"
    ;;
  stop)
    stop_server
    ;;
  *)
    log "usage: $0 [start|stop]"
    exit 2
    ;;
esac
