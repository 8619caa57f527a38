#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 from Debian's `postgresql` package,
# for machines without Docker. Installs the package when it is missing (as root).
#
#   deploy/postgres/postgres.sh start    init (once) and start; prints the DATABASE_URL
#   deploy/postgres/postgres.sh stop
#   deploy/postgres/postgres.sh url      print the DATABASE_URL
#
# Environment: PG_PORT (5433), PG_DATA_DIR (/tmp/dankjewel-pg-$PG_PORT).
set -euo pipefail

port="${PG_PORT:-5433}"
data="${PG_DATA_DIR:-/tmp/dankjewel-pg-$port}"
db=dankjewel
user=dankjewel
password=dankjewel

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  [ -n "$(bindir)" ] && [ -x "$(bindir)/initdb" ] && return
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: PostgreSQL is not installed; run: sudo apt-get install -y postgresql" >&2; exit 1
  fi
  echo "postgres.sh: installing Debian's postgresql package" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# PostgreSQL refuses to run as root: run its tools as the `postgres` user then.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

url() { echo "postgresql+asyncpg://$user:$password@127.0.0.1:$port/$db"; }

start() {
  install
  local bin; bin="$(bindir)"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    local pwfile; pwfile="$(mktemp)"; echo "$password" > "$pwfile"; chmod 644 "$pwfile"
    as_owner "$bin/initdb" -D "$data" -U "$user" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 >/dev/null
    rm -f "$pwfile"
  fi
  if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
      -o "-h 127.0.0.1 -p $port -k /tmp -c fsync=off -c synchronous_commit=off -c max_connections=200" >/dev/null
  fi
  PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U "$user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
    PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE $db" >/dev/null
  echo "postgres.sh: PostgreSQL answers on 127.0.0.1:$port (data in $data)" >&2
  url
}

stop() {
  local bin; bin="$(bindir)"
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  as_owner "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
