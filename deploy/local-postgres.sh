#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for development and tests.
#
#   deploy/local-postgres.sh start [DIR]   start (or reuse) a cluster; prints DATABASE_URL=...
#   deploy/local-postgres.sh stop  [DIR]   stop it and delete its data
#   deploy/local-postgres.sh url   [DIR]   print the DATABASE_URL of a running cluster
#   deploy/local-postgres.sh crash [DIR]   stop it at once, as a crash would (data kept; for tests)
#   deploy/local-postgres.sh resume [DIR]  start a crashed or stopped cluster again on its port
#
# DIR defaults to /tmp/tthc-pg-$UID. The postgres user cannot enter a root-owned
# checkout, so data and logs live under /tmp; the port is a free loopback port.
#
# Optional: TTHC_PG_SYNCHRONOUS_COMMIT=on makes a commit survive a crash of the server
# (the default, off, is fast but loses the last commits of a `crash`; fsync stays off: the
# operating system does not crash in these tests).
# Optional: TTHC_PG_SSL_DIR=DIR (with server.crt and server.key in it, e.g. from
# scripts/tls-test-certs) turns TLS on (ssl=on) in a new cluster; the URL printed
# still says sslmode=disable, choose another sslmode to use TLS.
set -euo pipefail

cmd=${1:-start}
dir=${2:-${TTHC_PG_DIR:-/tmp/tthc-pg-$(id -u)}}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)

die() { echo "local-postgres: $*" >&2; exit 1; }
[ -n "$pgbin" ] || die "PostgreSQL server binaries not found; install them with: apt-get install -y postgresql"

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres?sslmode=disable"; }

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

launch() {
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=${TTHC_PG_SYNCHRONOUS_COMMIT:-off} -c full_page_writes=off" \
    start >/dev/null || { cat "$dir/server.log" >&2; die "pg_ctl start failed"; }
  for _ in $(seq 1 50); do
    "$pgbin/pg_isready" -h 127.0.0.1 -p "$1" -U postgres >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$pgbin/pg_isready" -h 127.0.0.1 -p "$1" -U postgres >/dev/null || die "server did not become ready (log: $dir/server.log)"
}

case "$cmd" in
  start)
    if [ -f "$dir/port" ] && as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      echo "DATABASE_URL=$(url)"; exit 0
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    if [ -n "${TTHC_PG_SSL_DIR:-}" ]; then
      for f in server.crt server.key; do
        [ -r "$TTHC_PG_SSL_DIR/$f" ] || die "TTHC_PG_SSL_DIR has no readable $f"
        install -m 600 "$TTHC_PG_SSL_DIR/$f" "$dir/data/$f"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/data/$f"
      done
      printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >> "$dir/data/postgresql.conf"
    fi
    port=$(free_port)
    echo "$port" > "$dir/port"
    launch "$port"
    echo "DATABASE_URL=$(url)"
    ;;
  crash)
    [ -d "$dir/data" ] || die "no cluster in $dir"
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  resume)
    [ -f "$dir/port" ] || die "no cluster in $dir (start one with: $0 start)"
    launch "$(cat "$dir/port")"
    echo "DATABASE_URL=$(url)"
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  url)
    [ -f "$dir/port" ] || die "no cluster in $dir (start one with: $0 start)"
    url
    ;;
  *) die "usage: $0 start|stop|url|crash|resume [DIR]" ;;
esac
