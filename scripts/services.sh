#!/usr/bin/env bash
# Throwaway test services for MlModel.Dsl: PostgreSQL and Ceph's RADOS Gateway (S3).
#
#   scripts/services.sh start    install what is missing (also tmux and protoc, which tests drive),
#                                start both, write <dir>/services.env
#   scripts/services.sh stop     stop every daemon started here and remove <dir>
#   scripts/services.sh status   print what is running (exit 0 all up, 3 nothing, 1 partly)
#   scripts/services.sh s3-stop  stop only radosgw      (what MLMODEL_TEST_S3_STOP runs)
#   scripts/services.sh s3-start start radosgw again on its port and wait for it
#                                (what MLMODEL_TEST_S3_START runs)
#
# All state lives in ${MLMODEL_SERVICES_DIR:-<repo>/.tmp/services}. Sockets and the PostgreSQL
# cluster go to <dir>/aux, or to a short folder under /tmp (recorded in <dir>/aux.path) when
# <dir> is too long for a unix socket path or the postgres user cannot reach it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
DIR=$(realpath -m "${MLMODEL_SERVICES_DIR:-$REPO/.tmp/services}")
ENV_FILE="$DIR/services.env"
CONF="$DIR/ceph/ceph.conf"
RGW_NAME=client.rgw.mlmodel
MEMSTORE_BYTES=${MLMODEL_S3_MEMSTORE_BYTES:-4294967296}   # RAM cap for stored objects: 4 GiB

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- helpers

# A port nobody listens on (10000-31999: below the kernel's ephemeral range).
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((10000 + RANDOM % 22000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    die "no free port found"
}

http_ok() {   # $1 port: an HTTP answer of any status
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
        head -c 9 <&3' _ "$1" 2>/dev/null | grep -q '^HTTP/1'
}

# A live process (a zombie waiting to be reaped by init counts as gone).
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

pid_of() {    # $1 pid file -> pid if that process is alive
    local pid
    [ -s "$1" ] || return 1
    pid=$(head -n1 "$1" | tr -dc 0-9)
    alive "$pid" && echo "$pid"
}

# Stop a pid: signal $3 (TERM), wait up to $2 twentieths of a second, then KILL and wait.
stop_pid() {
    local pid=$1 n=${2:-100} sig=${3:-TERM} i
    alive "$pid" || return 0
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < n; i++)); do alive "$pid" || return 0; sleep 0.05; done
    kill -s KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do alive "$pid" || return 0; sleep 0.05; done
    log "warning: pid $pid survived SIGKILL"
}

as_postgres() {   # from / so that the postgres user never trips over an unreadable cwd
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

state_get() { sed -n "s/^$1=//p" "$DIR/state" 2>/dev/null | head -n1; }

aux_dir() {
    if [ -s "$DIR/aux.path" ]; then cat "$DIR/aux.path"; else echo "$DIR/aux"; fi
}

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
    echo "$d"
}

# ---------------------------------------------------------------- install

apt_install_all() {   # $1 need postgres (0/1), $2 need ceph (0/1), then tool packages
    local apt=(apt-get -q -y --no-install-recommends -o DPkg::Lock::Timeout=600
        -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    local need_pg=$1 need_ceph=$2
    shift 2
    apt-get -q -o DPkg::Lock::Timeout=600 update || return 1
    if [ "$#" -gt 0 ]; then
        "${apt[@]}" install "$@" || return 1
    fi
    set -- "$need_pg" "$need_ceph"
    if [ "$1" = 1 ]; then
        # No "main" cluster: this script runs its own, and nothing should listen on 5432.
        "${apt[@]}" install postgresql-common || return 1
        sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
            /etc/postgresql-common/createcluster.conf || return 1
        "${apt[@]}" install postgresql || return 1
    fi
    if [ "$2" = 1 ]; then
        # ceph's recommends must be left out (they pull a lot).
        "${apt[@]}" install radosgw ceph-mon ceph-osd ceph-common || return 1
    fi
}

install_missing() {
    local need_pg=0 need_ceph=0 names=() tools=()
    pg_bin >/dev/null || { need_pg=1; names+=(postgresql); }
    command -v radosgw >/dev/null || { need_ceph=1; names+=(radosgw ceph-mon ceph-osd ceph-common); }
    # Tools the tests drive: tmux runs the CLI's prompt in a real terminal (CLI prompt tests),
    # protoc reads the serving config back with protobuf's own text parser (config round trip).
    command -v tmux >/dev/null || tools+=(tmux)
    command -v protoc >/dev/null || tools+=(protobuf-compiler)
    names+=("${tools[@]}")
    [ "${#names[@]}" -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing ${names[*]} and not root, cannot install"
    local t0 out="$DIR/install.log" policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
    t0=$(now_ms)
    log "installing ${names[*]} (apt-get; log in $out)"
    mkdir -p "$DIR"
    export DEBIAN_FRONTEND=noninteractive
    # No package may start a service during the install: without an init system nothing
    # would stop it again. policy-rc.d says so to invoke-rc.d (a Debian convention).
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, from MlModel.Dsl scripts/services.sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    apt_install_all "$need_pg" "$need_ceph" "${tools[@]}" </dev/null >"$out" 2>&1 || rc=$?
    [ "$own_policy" = 1 ] && rm -f "$policy"
    if [ "$rc" != 0 ]; then
        tail -n 30 "$out" >&2
        die "apt-get failed (full output: $out)"
    fi
    pg_bin >/dev/null || die "postgresql installed but no initdb found"
    command -v radosgw >/dev/null || die "radosgw installed but not on PATH"
    command -v tmux >/dev/null || die "tmux installed but not on PATH"
    command -v protoc >/dev/null || die "protobuf-compiler installed but protoc is not on PATH"
    log "installed in $(( ($(now_ms) - t0) / 1000 )) s"
}

# ---------------------------------------------------------------- postgres

pg_start() {   # runs in the background during start; writes $DIR/pg.port
    local aux=$1 bin port tries
    bin=$(pg_bin)
    mkdir -p "$aux/pg"
    [ "$(id -u)" = 0 ] && chown postgres: "$aux/pg"
    as_postgres "$bin/initdb" -D "$aux/pg/data" -U postgres --auth=trust --no-sync \
        -E UTF8 --locale=C.UTF-8 >"$aux/pg/initdb.log" 2>&1 \
        || { cat "$aux/pg/initdb.log" >&2; return 1; }
    for tries in 1 2 3 4 5; do
        port=$(free_port)
        if as_postgres "$bin/pg_ctl" -D "$aux/pg/data" -l "$aux/pg/log" -w -t 60 -o \
            "-p $port -c listen_addresses=127.0.0.1 -k $aux/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null 2>&1 9>&-; then
            echo "$port" >"$DIR/pg.port"
            as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtqc 'select 1' \
                | grep -qx 1 || { log "postgres answers but select 1 failed"; return 1; }
            return 0
        fi
        log "postgres did not start on port $port (try $tries)"
        tail -n 5 "$aux/pg/log" >&2 || true
    done
    return 1
}

pg_stop() {
    local aux bin pid
    aux=$(aux_dir)
    [ -f "$aux/pg/data/postmaster.pid" ] || return 0
    pid=$(head -n1 "$aux/pg/data/postmaster.pid" | tr -dc 0-9)
    alive "$pid" || return 0
    if bin=$(pg_bin); then
        as_postgres "$bin/pg_ctl" -D "$aux/pg/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    fi
    stop_pid "$pid" 100
}

# ---------------------------------------------------------------- ceph / radosgw

write_ceph_conf() {   # $1 aux, $2 fsid, $3 mon v2 port, $4 mon v1 port, $5 rgw port
    local aux=$1 run="$1/ceph"
    cat >"$CONF" <<EOF
[global]
fsid = $2
mon host = [v2:127.0.0.1:$3,v1:127.0.0.1:$4]
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $run
keyring = $DIR/ceph/keyring
log to stderr = false
err to stderr = true
log file =
mon cluster log file = $DIR/ceph/log/cluster.log
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client]
# No admin sockets for the command-line tools (their socket names are long).
admin socket =

[mon]
mon data = $DIR/ceph/mon/\$cluster-\$id
log file = $DIR/ceph/log/\$name.log
pid file = $run/\$name.pid
admin socket = $run/\$name.asok

[osd]
osd data = $DIR/ceph/osd/\$cluster-\$id
log file = $DIR/ceph/log/\$name.log
pid file = $run/\$name.pid
admin socket = $run/\$name.asok
osd op num shards = 2
osd op num threads per shard = 2

[$RGW_NAME]
rgw frontends = beast endpoint=127.0.0.1:$5 tcp_nodelay=1
rgw data = $DIR/ceph/rgw
log file = $DIR/ceph/log/\$name.log
pid file = $run/\$name.pid
admin socket = $run/\$name.asok
rgw enable usage log = false
EOF
}

rgw_pidfile() { echo "$(aux_dir)/ceph/$RGW_NAME.pid"; }

rgw_start() {   # start radosgw on the port in ceph.conf and wait for HTTP ($1: seconds)
    local port pidfile pid="" deadline
    port=$(state_get rgw_port)
    [ -n "$port" ] || die "no radosgw port recorded in $DIR/state (services not started?)"
    pidfile=$(rgw_pidfile)
    if pid=$(pid_of "$pidfile"); then
        http_ok "$port" && return 0
        stop_pid "$pid" 0 KILL
    fi
    rm -f "$pidfile"
    deadline=$(( $(date +%s) + ${1:-60} ))
    pid=""
    while :; do
        if ! alive "$pid"; then
            # Foreground (-f) in its own session, so that $! is its pid; if it died (the
            # port may linger a moment after a kill, and beast then fails to bind), retry.
            [ -n "$pid" ] && sleep 0.5
            setsid radosgw -f -c "$CONF" -n "$RGW_NAME" </dev/null \
                >>"$DIR/ceph/log/radosgw.out" 2>&1 9>&- &
            pid=$!
            disown "$pid" 2>/dev/null || true
            echo "$pid" >"$pidfile"
        fi
        http_ok "$port" && return 0
        if (( $(date +%s) >= deadline )); then
            tail -n 20 "$DIR/ceph/log/$RGW_NAME.log" >&2 2>/dev/null || true
            stop_pid "$pid" 0 KILL
            die "radosgw did not answer on 127.0.0.1:$port within ${1:-60} s"
        fi
        sleep 0.1
    done
}

# SIGKILL: immediate and deterministic, like a crash (a graceful stop takes about 2 s and
# may wait for requests in flight, which is not what a fault test wants).
rgw_stop() {
    local pid port i
    if pid=$(pid_of "$(rgw_pidfile)"); then stop_pid "$pid" 0 KILL; fi
    rm -f "$(rgw_pidfile)"
    port=$(state_get rgw_port)
    [ -n "$port" ] || return 0
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 0
        sleep 0.05
    done
}

ceph_start() {   # $1 aux
    local aux=$1 fsid monv2 monv1 rgwport uuid id
    fsid=$(cat /proc/sys/kernel/random/uuid)
    monv2=$(free_port) && monv1=$(free_port) && rgwport=$(free_port) || return 1
    while [ "$monv1" = "$monv2" ]; do monv1=$(free_port) || return 1; done
    while [ "$rgwport" = "$monv1" ] || [ "$rgwport" = "$monv2" ]; do
        rgwport=$(free_port) || return 1
    done
    mkdir -p "$DIR/ceph/log" "$DIR/ceph/mon" "$DIR/ceph/osd" "$DIR/ceph/rgw" "$aux/ceph" || return 1
    printf 'rgw_port=%s\nmon_ports=%s,%s\nfsid=%s\n' "$rgwport" "$monv2" "$monv1" "$fsid" >>"$DIR/state"
    write_ceph_conf "$aux" "$fsid" "$monv2" "$monv1" "$rgwport" || return 1

    ceph-authtool --create-keyring "$DIR/ceph/keyring" --gen-key -n mon. --cap mon 'allow *' \
        >/dev/null || return 1
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monv2,v1:127.0.0.1:$monv1]" \
        "$DIR/ceph/monmap" >/dev/null || return 1
    # The initial OSD map already holds osd.0, which saves a `ceph osd new` (the Python CLI
    # costs 0.5 s or more); the monitor gives the map its fsid, the OSD its uuid on boot.
    osdmaptool -c "$CONF" --createsimple 1 --clobber "$DIR/ceph/osdmap" >/dev/null 2>&1 || return 1
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/ceph/monmap" --osdmap "$DIR/ceph/osdmap" \
        --keyring "$DIR/ceph/keyring" \
        >"$DIR/ceph/log/mkfs.out" 2>&1 || { cat "$DIR/ceph/log/mkfs.out" >&2; return 1; }
    ceph-mon -c "$CONF" -i a </dev/null >>"$DIR/ceph/log/daemons.out" 2>&1 9>&- \
        || { tail -n 20 "$DIR/ceph/log/mon.a.log" >&2; return 1; }

    uuid=$(cat /proc/sys/kernel/random/uuid)
    id=0
    mkdir -p "$DIR/ceph/osd/ceph-$id" || return 1
    ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >"$DIR/ceph/log/osd-mkfs.out" 2>&1 \
        || { cat "$DIR/ceph/log/osd-mkfs.out" >&2; return 1; }
    ceph-osd -c "$CONF" -i "$id" </dev/null >>"$DIR/ceph/log/daemons.out" 2>&1 9>&- \
        || { tail -n 20 "$DIR/ceph/log/osd.$id.log" >&2; return 1; }
    echo "osd_id=$id" >>"$DIR/state"
    # No wait for the OSD: radosgw blocks until the cluster can serve it.
    rgw_start 180 || return 1
}

ceph_stop() {
    local aux pidfile pid
    aux=$(aux_dir)
    # SIGKILL throughout: the cluster is thrown away, a clean shutdown takes about 2 s per
    # daemon, and memstore would write every object to disk on a clean OSD shutdown.
    local pids=()
    for pidfile in "$aux/ceph/$RGW_NAME.pid" "$aux"/ceph/osd.*.pid "$aux/ceph/mon.a.pid"; do
        [ -e "$pidfile" ] || continue
        if pid=$(pid_of "$pidfile"); then pids+=("$pid"); kill -s KILL "$pid" 2>/dev/null || true; fi
    done
    for pid in "${pids[@]}"; do stop_pid "$pid" 0 KILL; done
}

s3_user() {
    local ak sk
    ak=$(tr -dc 'A-Z0-9' </dev/urandom | head -c 20 || true)
    sk=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40 || true)
    timeout 60 radosgw-admin -c "$CONF" user create --uid=mlmodel-test --display-name=mlmodel-test \
        --access-key="$ak" --secret-key="$sk" >"$DIR/ceph/log/user-create.out" 2>&1 \
        || { cat "$DIR/ceph/log/user-create.out" >&2; return 1; }
    printf '%s %s\n' "$ak" "$sk"
}

# ---------------------------------------------------------------- status

# Sets RUNNING (names up) and DOWN (names expected but not up).
probe() {
    local aux pid port
    RUNNING=() DOWN=()
    aux=$(aux_dir)
    [ -f "$DIR/state" ] || [ -d "$aux" ] || return 0
    if [ -f "$aux/pg/data/postmaster.pid" ] || [ -s "$DIR/pg.port" ]; then
        pid=$(head -n1 "$aux/pg/data/postmaster.pid" 2>/dev/null | tr -dc 0-9 || true)
        if alive "$pid"; then RUNNING+=("postgres(pid $pid, port $(cat "$DIR/pg.port" 2>/dev/null))")
        else DOWN+=(postgres); fi
    fi
    if pid=$(pid_of "$aux/ceph/mon.a.pid"); then RUNNING+=("ceph-mon(pid $pid)")
    elif [ -d "$DIR/ceph/mon" ]; then DOWN+=(ceph-mon); fi
    local f found=0
    for f in "$aux"/ceph/osd.*.pid; do
        [ -e "$f" ] || continue
        found=1
        if pid=$(pid_of "$f"); then RUNNING+=("ceph-osd(pid $pid)"); else DOWN+=(ceph-osd); fi
    done
    [ "$found" = 0 ] && [ -d "$DIR/ceph/osd" ] && DOWN+=(ceph-osd)
    port=$(state_get rgw_port)
    if pid=$(pid_of "$aux/ceph/$RGW_NAME.pid"); then RUNNING+=("radosgw(pid $pid, port $port)")
    elif [ -n "$port" ]; then DOWN+=(radosgw); fi
}

cmd_status() {
    probe
    if [ "${#RUNNING[@]}" -eq 0 ] && [ "${#DOWN[@]}" -eq 0 ]; then
        echo "not running ($DIR)"; return 3
    fi
    local s
    for s in "${RUNNING[@]}"; do echo "running: $s"; done
    for s in "${DOWN[@]}"; do echo "down:    $s"; done
    [ -f "$ENV_FILE" ] && echo "env:     $ENV_FILE"
    if [ "${#DOWN[@]}" -eq 0 ] && [ -f "$ENV_FILE" ]; then return 0; fi
    return 1
}

# ---------------------------------------------------------------- start / stop

cmd_stop() {   # $1 = keep-lock: leave <dir>/.lock (used by start when cleaning stale state)
    local t0 aux
    t0=$(now_ms)
    aux=$(aux_dir)
    ceph_stop
    pg_stop
    # Any daemon still holding a file in the state folder (a stray from a broken start).
    local pid f
    for f in $(grep -lsF -e "$CONF" -e "$aux/pg/data" /proc/[0-9]*/cmdline 2>/dev/null || true); do
        pid=${f#/proc/}; pid=${pid%/cmdline}
        [ "$pid" = $$ ] && continue
        case "$(tr '\0' ' ' 2>/dev/null <"$f" || true)" in
            *services.sh*|*grep*|"") continue ;;
        esac
        alive "$pid" || continue
        log "stopping stray pid $pid: $(tr '\0' ' ' 2>/dev/null <"$f" | cut -c1-100 || true)"
        stop_pid "$pid" 20
    done
    [ "$aux" != "$DIR/aux" ] && rm -rf "$aux"
    if [ "${1:-}" = keep-lock ]; then
        find "$DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
    else
        rm -rf "$DIR"
    fi
    log "stopped in $(( $(now_ms) - t0 )) ms"
}

start_failed() {
    local rc=$?
    trap - EXIT
    if [ -n "${PGJOB:-}" ]; then wait "$PGJOB" 2>/dev/null || true; fi
    log "start failed; stopping what was started (logs were in $DIR)"
    for f in "$DIR"/ceph/log/*.log "$(aux_dir)/pg/log"; do
        [ -s "$f" ] && { log "--- tail of $f"; tail -n 8 "$f" | cut -c1-300 >&2; }
    done
    cmd_stop
    exit $(( rc == 0 ? 1 : rc ))
}

cmd_start() {
    local t0 aux pgrc port keys ak sk
    t0=$(now_ms)
    if [ -f "$ENV_FILE" ] && cmd_status >/dev/null 2>&1; then
        port=$(state_get rgw_port)
        if http_ok "$port"; then
            log "already running, reusing $ENV_FILE"
            return 0
        fi
    fi
    if [ -f "$DIR/state" ] || [ -d "$DIR/aux" ] || [ -s "$DIR/aux.path" ]; then
        log "stale or partial state in $DIR, cleaning it"
        cmd_stop keep-lock 2>/dev/null
    fi
    install_missing
    local t1; t1=$(now_ms)

    # Sockets need short paths (unix sockets: 107 bytes) and the postgres user must reach
    # its folder; otherwise use a short folder under /tmp.
    aux="$DIR/aux"
    mkdir -p "$aux"
    if [ "${#aux}" -gt 60 ] || { [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$aux"; }; then
        rmdir "$aux"
        aux=$(mktemp -d /tmp/mlmodel-svc.XXXXXX)
        chmod 755 "$aux"
        echo "$aux" >"$DIR/aux.path"
        log "postgres cannot reach $DIR (or the path is long): sockets and postgres in $aux"
    fi
    : >"$DIR/state"

    # Whatever goes wrong from here on (a failed step, die, a signal), stop what started.
    PGJOB=""
    trap start_failed EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "starting postgres and ceph (mon, memstore osd, radosgw)"
    pg_start "$aux" &
    PGJOB=$!
    ceph_start "$aux" || die "ceph failed to start; logs in $DIR/ceph/log"
    keys=$(s3_user) || die "could not create the S3 user"
    pgrc=0; wait "$PGJOB" || pgrc=$?
    PGJOB=""
    [ "$pgrc" = 0 ] || die "postgres failed to start"
    read -r ak sk <<<"$keys"
    port=$(state_get rgw_port)

    local q_dir q_script
    printf -v q_dir '%q' "$DIR"
    printf -v q_script '%q' "$SCRIPT"
    cat >"$ENV_FILE.tmp" <<EOF
export MLMODEL_TEST_PG='Host=127.0.0.1;Port=$(cat "$DIR/pg.port");Username=postgres;Database=postgres;Pooling=true'
export MLMODEL_TEST_S3_ENDPOINT='http://127.0.0.1:$port'
export MLMODEL_TEST_S3_ACCESS_KEY='$ak'
export MLMODEL_TEST_S3_SECRET_KEY='$sk'
export MLMODEL_TEST_S3_STOP=$(printf '%q' "MLMODEL_SERVICES_DIR=$q_dir bash $q_script s3-stop")
export MLMODEL_TEST_S3_START=$(printf '%q' "MLMODEL_SERVICES_DIR=$q_dir bash $q_script s3-start")
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    trap - EXIT INT TERM
    log "postgres on 127.0.0.1:$(cat "$DIR/pg.port"), S3 on http://127.0.0.1:$port; started in $(( $(now_ms) - t1 )) ms"
    log "env: $ENV_FILE"
}

# ---------------------------------------------------------------- main

# Serialises start/stop on one folder. Daemons are started with fd 9 closed so that they do
# not inherit (and keep) the lock.
lock() {
    mkdir -p "$DIR"
    exec 9>"$DIR/.lock"
    if ! flock -w "${1:-300}" 9; then
        [ "${2:-}" = force ] || die "another services.sh has held $DIR/.lock for ${1:-300} s"
        log "warning: $DIR/.lock is held (by a daemon from an older services.sh?); stopping anyway"
    fi
}

case "${1:-}" in
    start) lock; cmd_start ;;
    stop) lock 30 force; cmd_stop ;;
    status) cmd_status ;;
    s3-stop) rgw_stop ;;
    s3-start) rgw_start ;;
    *) echo "usage: $0 start|stop|status|s3-stop|s3-start" >&2; exit 2 ;;
esac
