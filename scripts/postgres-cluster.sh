#!/usr/bin/env bash
# A private PostgreSQL cluster in a folder of its own, for the tests and for trying the
# distributed mode on one machine. Debian's `postgresql` package provides the binaries; nothing
# of the system's own cluster (if any) is touched.
#
#   scripts/postgres-cluster.sh start DIR [--durable]   initdb (once) + start; prints the URL
#   scripts/postgres-cluster.sh stop DIR                 fast shutdown (the folder is kept)
#   scripts/postgres-cluster.sh url DIR                  print the URL of a started cluster
#
# The server listens on 127.0.0.1 on a free port and on a unix socket inside DIR, with password
# (SCRAM) authentication for the role `andromede`, whose random password is in DIR/password
# (mode 0600). It owns a database `andromede`. The URL printed is
#   postgresql+asyncpg://andromede:PASSWORD@127.0.0.1:PORT/andromede
# and is also written to DIR/url (mode 0600).
#
# Without --durable the cluster runs with fsync=off, synchronous_commit=off and
# full_page_writes=off: a test database that a power cut may corrupt, in exchange for commits
# that cost no disk flush. Use --durable to measure what production commits cost.
#
# initdb and postgres refuse to run as root: run as root, the script runs them as the `postgres`
# system user (Debian's package creates it) and hands DIR to that user, so DIR must sit where
# that user can reach it (e.g. under /tmp, not under a 0700 home folder).
# PG_BINDIR overrides where the binaries are (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [--durable] | stop DIR | url DIR" >&2
  exit 2
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
durable=0
[ "${3:-}" = "--durable" ] && durable=1

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres-cluster: PostgreSQL binaries not found (apt-get install postgresql, or set PG_BINDIR)" >&2
  exit 3
fi

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
  fi
  chmod 0700 "$dir"
  local data="$dir/data"
  if [ ! -f "$data/PG_VERSION" ]; then
    # The password file is read by initdb and then removed; the password itself is kept in
    # DIR/password for the URL.
    umask 077
    od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$dir/password"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/password"
    as_server_user "$bindir/initdb" --pgdata="$data" --username=andromede \
      --pwfile="$dir/password" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
      --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    mkdir -p "$dir/socket"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/socket"
    local sync=on
    [ "$durable" -eq 1 ] || sync=off
    cat >>"$data/postgresql.conf" <<EOF

# -- postgres-cluster.sh ------------------------------------------------------------------
listen_addresses = '127.0.0.1'
port = $(free_port)
unix_socket_directories = '$dir/socket'
max_connections = 300
fsync = $sync
synchronous_commit = $sync
full_page_writes = $sync
log_min_messages = warning
log_min_error_statement = panic
EOF
  fi
  local port
  port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$data/postgresql.conf" | tail -n 1)
  if ! as_server_user "$bindir/pg_ctl" --pgdata="$data" status >/dev/null 2>&1; then
    as_server_user "$bindir/pg_ctl" --pgdata="$data" --log="$dir/postgres.log" --wait \
      --timeout=60 start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
  fi
  local password
  password=$(cat "$dir/password")
  if ! PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U andromede -d postgres -tAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'andromede'" | grep -q 1; then
    PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U andromede -d postgres -q \
      -c "CREATE DATABASE andromede"
  fi
  local url="postgresql+asyncpg://andromede:$password@127.0.0.1:$port/andromede"
  (umask 077 && echo "$url" >"$dir/url")
  echo "$url"
}

stop() {
  local data="$dir/data"
  if [ -f "$data/postmaster.pid" ]; then
    as_server_user "$bindir/pg_ctl" --pgdata="$data" --mode=fast --wait stop >/dev/null
  fi
}

case "$action" in
  start) start ;;
  stop) stop ;;
  url) cat "$dir/url" ;;
  *) usage ;;
esac
