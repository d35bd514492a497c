#!/usr/bin/env bash
# The test command. Starts PostgreSQL and the S3 server (scripts/services.sh), runs
# `dotnet test` on the solution with a TRX logger, stops the services again, and prints as
# the last line of output:  N passed, N failed, N skipped
#
# Exit status: non-zero if the build failed, a test failed, or no test ran.
# Extra arguments go to dotnet test, e.g.  scripts/test.sh --filter "FullyQualifiedName~Parser"
#
# Environment:
#   MLMODEL_TEST_TARGET    what dotnet test runs (default MlModel.Dsl.sln)
#   MLMODEL_TEST_RESULTS   TRX folder (default <repo>/.tmp/test-results; emptied first)
#   MLMODEL_SERVICES_DIR   services folder; if services already run there (or, when unset, in
#                          <repo>/.tmp/services, as left by `scripts/services.sh start`) they
#                          are reused and left running. Otherwise this script starts its own in
#                          <repo>/.tmp/services-run.<pid> and always stops them at the end.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
SERVICES="$REPO/scripts/services.sh"

TARGET=${MLMODEL_TEST_TARGET:-MlModel.Dsl.sln}
if [ -z "${MLMODEL_TEST_TARGET:-}" ] && [ ! -e "$TARGET" ] && [ -e MlModel.Dsl.slnx ]; then
    TARGET=MlModel.Dsl.slnx
fi
RESULTS=$(realpath -m "${MLMODEL_TEST_RESULTS:-$REPO/.tmp/test-results}")
export DOTNET_NOLOGO=${DOTNET_NOLOGO:-1}
export DOTNET_CLI_TELEMETRY_OPTOUT=${DOTNET_CLI_TELEMETRY_OPTOUT:-1}

say() { printf '[test] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- services

# Daemons of earlier runs that were killed before they could clean up.
for d in "$REPO"/.tmp/services-run.*; do
    [ -d "$d" ] || continue
    owner=${d##*.}
    if ! kill -0 "$owner" 2>/dev/null; then
        say "stopping services left by run $owner"
        MLMODEL_SERVICES_DIR="$d" bash "$SERVICES" stop || true
    fi
done

OWN_SERVICES=""
if [ -n "${MLMODEL_SERVICES_DIR:-}" ]; then
    SVC_DIR=$(realpath -m "$MLMODEL_SERVICES_DIR")
else
    SVC_DIR="$REPO/.tmp/services"
    if ! MLMODEL_SERVICES_DIR="$SVC_DIR" bash "$SERVICES" status >/dev/null 2>&1; then
        SVC_DIR="$REPO/.tmp/services-run.$$"
    fi
fi
export MLMODEL_SERVICES_DIR="$SVC_DIR"

stop_services() {
    if [ -n "$OWN_SERVICES" ]; then
        OWN_SERVICES=""
        bash "$SERVICES" stop || say "warning: stopping the services failed"
    fi
}
# A process and all its descendants (from /proc; ps may not be installed).
tree() {
    local line pid rest ppid i=0
    local -A kids=()
    local pids=("$1")
    while IFS= read -r line; do
        pid=${line%% *}; rest=${line##*) }; rest=${rest#* }; ppid=${rest%% *}
        kids[$ppid]+=" $pid"
    done < <(cat /proc/[0-9]*/stat 2>/dev/null)
    while [ "$i" -lt "${#pids[@]}" ]; do
        # shellcheck disable=SC2206
        pids+=(${kids[${pids[$i]}]:-})
        i=$((i + 1))
    done
    echo "${pids[@]}"
}
any_alive() {
    local p
    for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
    return 1
}
DOTNET_PID=""
on_exit() {
    if [ -n "$DOTNET_PID" ] && kill -0 "$DOTNET_PID" 2>/dev/null; then
        say "interrupted: stopping dotnet test (pid $DOTNET_PID) and its test hosts"
        local pids
        pids=$(tree "$DOTNET_PID")
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 1 50); do
            # shellcheck disable=SC2086
            any_alive $pids || break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
    stop_services
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if bash "$SERVICES" status >/dev/null 2>&1; then
    say "reusing the services running in $SVC_DIR (left running)"
else
    OWN_SERVICES=1
    if ! bash "$SERVICES" start </dev/null; then
        say "error: the test services did not start"
        stop_services
        echo "0 passed, 0 failed, 0 skipped"
        exit 1
    fi
fi
# shellcheck disable=SC1091
. "$SVC_DIR/services.env"
for v in MLMODEL_TEST_PG MLMODEL_TEST_S3_ENDPOINT MLMODEL_TEST_S3_ACCESS_KEY \
         MLMODEL_TEST_S3_SECRET_KEY MLMODEL_TEST_S3_STOP MLMODEL_TEST_S3_START; do
    [ -n "${!v:-}" ] || { say "error: $v is not set by $SVC_DIR/services.env"; exit 1; }
done

# ---------------------------------------------------------------- tests

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
say "dotnet test $TARGET -c Release $*"
# LogFilePrefix, not LogFileName: with LogFileName every test project of the solution writes
# the same file and the last one overwrites the others. With a prefix each project writes
# results_<tfm>_<timestamp>.trx, and the logger reserves a new name if that one is taken.
# In the background so that a signal to this script is handled at once (bash runs traps only
# after a foreground command ends); on a signal, on_exit ends it and its test hosts.
rc=0
# -m:1 runs the test projects one after another: two of them stop and restart the shared S3
# server in fault tests, which must not happen while another project is using it.
dotnet test "$TARGET" -c Release -m:1 --logger "trx;LogFilePrefix=results" \
    --results-directory "$RESULTS" "$@" </dev/null &
DOTNET_PID=$!
wait "$DOTNET_PID" || rc=$?
DOTNET_PID=""

stop_services

# ---------------------------------------------------------------- counts

total=0 passed=0 failed=0 skipped=0 files=0
attr() {   # $1 attribute, $2 the <Counters .../> element
    local v
    v=$(printf '%s' "$2" | grep -o " $1=\"[0-9]*\"" | head -n1 | tr -dc 0-9 || true)
    echo "${v:-0}"
}
while IFS= read -r -d '' trx; do
    counters=$(tr '\n' ' ' <"$trx" | grep -o '<Counters [^>]*>' | head -n1 || true)
    if [ -z "$counters" ]; then
        say "warning: no <Counters> in $trx"
        continue
    fi
    files=$((files + 1))
    total=$((total + $(attr total "$counters")))
    passed=$((passed + $(attr passed "$counters")))
    # error, timeout and aborted are failures too.
    failed=$((failed + $(attr failed "$counters") + $(attr error "$counters") \
        + $(attr timeout "$counters") + $(attr aborted "$counters")))
    # Skipped (NUnit's Ignore, Explicit) tests count in total but not in executed; the TRX
    # logger leaves notExecuted at 0 for them, so take whichever is larger.
    t=$(attr total "$counters"); e=$(attr executed "$counters"); n=$(attr notExecuted "$counters")
    s=$((t - e)); [ "$s" -lt "$n" ] && s=$n; [ "$s" -lt 0 ] && s=0
    skipped=$((skipped + s))
done < <(find "$RESULTS" -name '*.trx' -type f -print0)

status=0
if [ "$rc" != 0 ]; then
    say "dotnet test exited with $rc (build failure or failing tests)"
    status=1
fi
if [ "$failed" -gt 0 ]; then status=1; fi
if [ "$total" -eq 0 ]; then
    say "no test ran"
    status=1
fi
say "$files TRX file(s) in $RESULTS"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
