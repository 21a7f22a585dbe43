#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tokentrail's tests (tests/remote).
#
#   eval "$(bash scripts/ci_postgres.sh start)"   # install if needed, start, export TOKENTRAIL_TEST_PG_URL
#   bash scripts/ci_postgres.sh stop               # stop it and remove its data directory
#   bash scripts/ci_postgres.sh install            # only make sure initdb/pg_ctl are installed
#
# Debian's packages are installed with apt-get only when initdb/pg_ctl cannot be found.
# The cluster lives in a temporary directory owned by the `postgres` user (initdb refuses
# to run as root), listens on 127.0.0.1 only, on a free port, with trust authentication
# (a test server: nothing else can reach it). Progress goes to stderr; stdout carries only
# the `export` lines, so `eval` picks them up. State: $TOKENTRAIL_PG_STATE (default
# /tmp/tokentrail-ci-postgres), which `stop` reads.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTION=${1:-start}
STATE=${TOKENTRAIL_PG_STATE:-${TMPDIR:-/tmp}/tokentrail-ci-postgres}
DB=${TOKENTRAIL_PG_DB:-tokentrail_test}

log() { echo "ci_postgres: $*" >&2; }

find_bin() {
    # Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin, off PATH.
    local name=$1 p
    if p=$(command -v "$name" 2>/dev/null); then echo "$p"; return 0; fi
    p=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$p" ] && [ -x "$p" ]; then echo "$p"; return 0; fi
    return 1
}

install() {
    if find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null; then
        log "PostgreSQL binaries found ($(dirname "$(find_bin initdb)"))"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        log "initdb/pg_ctl not found and not root: install Debian's postgresql package first"
        exit 1
    fi
    log "installing Debian's postgresql packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # Only the binaries: the package's own cluster is not started (policy-rc.d says no).
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends postgresql >&2
    rm -f /usr/sbin/policy-rc.d
    find_bin initdb >/dev/null || { log "postgresql installed but initdb not found"; exit 1; }
}

as_owner() {
    # Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

start() {
    install
    local initdb pg_ctl dir port user
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    if [ -f "$STATE/env" ] && as_owner "$pg_ctl" -D "$(cat "$STATE/datadir")" status >/dev/null 2>&1; then
        log "already running"
        cat "$STATE/env"
        return 0
    fi
    mkdir -p "$STATE"
    dir=$(mktemp -d /tmp/tokentrail-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" --shell /bin/sh postgres
        chown postgres: "$dir"
        user=postgres
    else
        user=$(id -un)
    fi
    chmod 700 "$dir"
    as_owner "$initdb" -D "$dir/data" -U "$user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >"$STATE/initdb.log" 2>&1 \
        || as_owner "$initdb" -D "$dir/data" -U "$user" --auth=trust --encoding=UTF8 --no-locale -N >"$STATE/initdb.log" 2>&1 \
        || { log "initdb failed:"; cat "$STATE/initdb.log" >&2; exit 1; }
    port=$(free_port)
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c max_connections=100" \
        start >&2 || { log "server did not start:"; cat "$dir/server.log" >&2 || true; exit 1; }
    as_owner "$(find_bin createdb)" -h 127.0.0.1 -p "$port" -U "$user" "$DB"
    echo "$dir/data" > "$STATE/datadir"
    {
        echo "export TOKENTRAIL_TEST_PG_URL=postgresql://$user@127.0.0.1:$port/$DB"
        echo "export TOKENTRAIL_TEST_PG_DATA=$dir/data"
    } > "$STATE/env"
    log "PostgreSQL $("$pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port, database $DB"
    cat "$STATE/env"
}

stop() {
    [ -f "$STATE/datadir" ] || { log "nothing to stop"; return 0; }
    local data pg_ctl
    data=$(cat "$STATE/datadir")
    pg_ctl=$(find_bin pg_ctl)
    as_owner "$pg_ctl" -D "$data" -m fast -w stop >&2 || true
    rm -rf "$(dirname "$data")" "$STATE"
    log "stopped"
}

case "$ACTION" in
    start) start ;;
    stop) stop ;;
    install) install ;;
    *) echo "usage: $0 [start|stop|install]" >&2; exit 2 ;;
esac
