#!/usr/bin/env bash
# Whole-process timing of `mlmodel import` and `mlmodel export` with the model store on S3
# (`mlmodel --store <s3 connector>`), against a raw AWSSDK.S3 transfer of the same bytes
# (bench/Transfer/S3Baseline, its own process) in the same run, on the S3 server of
# scripts/services.sh (Ceph's RADOS Gateway with a memstore OSD on 127.0.0.1).
#
#   bench/Transfer/s3.sh [size_mib] [small_files]      (defaults: 1024 MiB, 10000 files)
#
# The same two models as run.sh: one large file (plus saved_model.pb), and many small files.
# Each model's tar goes to a source bucket (connector 'src'); import reads it from there into
# the model store (connector 'store', another bucket), export writes the tar back into the
# store. Baselines: `s3baseline import` (GetObject of the archive, streamed through a tar reader
# into one object per file) and `s3baseline export` (GetObject of each of the model's objects,
# streamed as a tar into one multipart upload); Program.cs says why that is the fair
# equivalent. Wall time and peak RSS come from GNU time, for whole processes on both sides.
# Deleted objects are reclaimed (radosgw-admin gc) between steps, untimed, so that a 1 GiB model
# fits the memstore (4 GiB by default). Prints a Markdown table on stdout, progress on stderr.
# MLMODEL_CLI=path/to/mlmodel.dll times another build instead of building samples/MlModel.Cli.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE_MIB=${1:-1024}
SMALL=${2:-10000}
WORK="$REPO/.tmp/bench-transfer-s3"
# Services of its own by default: test runs stop and restart the shared S3 server (fault tests).
SVC_DIR=$(realpath -m "${MLMODEL_SERVICES_DIR:-$REPO/.tmp/services-bench-s3}")
rm -rf "$WORK"; mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
log() { printf '[s3.sh] %s\n' "$*" >&2; }
# Ceph frees deleted objects' data only when its garbage collector runs (hours later by default).
gc() { radosgw-admin -c "$SVC_DIR/ceph/ceph.conf" gc process --include-all >/dev/null 2>&1 || log "warning: radosgw-admin gc failed"; }

# Services: reuse running ones (and leave them running), or start them and stop them at the end.
# MLMODEL_SERVICES_DIR=.tmp/services reuses those of `scripts/services.sh start`.
STARTED=""
if ! MLMODEL_SERVICES_DIR="$SVC_DIR" bash "$REPO/scripts/services.sh" status >/dev/null 2>&1; then
    STARTED=1
fi
MLMODEL_SERVICES_DIR="$SVC_DIR" bash "$REPO/scripts/services.sh" start </dev/null
BASE="$REPO/bench/Transfer/S3Baseline/bin/Release/net10.0/s3baseline.dll"
RUN=$(date +%s)-$$
SRC_BUCKET="bench-src-$RUN"
STORE_BUCKET="bench-store-$RUN"
. "$REPO/bench/Transfer/memory.sh"
cleanup() {
    if [ -f "$BASE" ]; then
        for b in "$SRC_BUCKET" "$STORE_BUCKET"; do dotnet "$BASE" delete-bucket "$b" >/dev/null 2>&1 || true; done
        gc
    fi
    rm -rf "$WORK"
    if [ -n "$STARTED" ]; then MLMODEL_SERVICES_DIR="$SVC_DIR" bash "$REPO/scripts/services.sh" stop || true; fi
    release_host_memory
}
trap cleanup EXIT
# shellcheck disable=SC1091
. "$SVC_DIR/services.env"

build() { dotnet build "$1" -c Release -v q -nologo >"$WORK/build.txt" 2>&1 || { cat "$WORK/build.txt" >&2; exit 1; }; }
if [[ -n "${MLMODEL_CLI:-}" ]]; then
    CLI=$MLMODEL_CLI
else
    build "$REPO/samples/MlModel.Cli"
    CLI="$REPO/samples/MlModel.Cli/bin/Release/net10.0/mlmodel.dll"
fi
build "$REPO/bench/Transfer/S3Baseline"
. "$REPO/bench/Transfer/models.sh"
HOME_DIR="$WORK/home"

base() { dotnet "$BASE" "$@"; }
mlmodel() { dotnet "$CLI" --home "$HOME_DIR" --no-progress "$@"; }

timed() { # command...: prints "seconds maxrss_kib"; a failing command stops the script
    if ! /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"; then
        log "failed: $*"; cat "$WORK/out.txt" "$WORK/err.txt" >&2; exit 1
    fi
    tail -n 1 "$WORK/time.txt"
}

count() { base count "$@"; } # bucket prefix: prints "objects bytes"

expect_bytes() { # what, "objects bytes", minimum bytes
    local n b; read -r n b <<<"$2"
    if [ "$b" -lt "$3" ]; then log "error: $1 holds $n objects, $b bytes; expected at least $3 bytes"; exit 1; fi
    log "$1: $n objects, $b bytes"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); model size ${SIZE_MIB} MiB; S3 $MLMODEL_TEST_S3_ENDPOINT" >&2
make_models
hold_host_memory $(( (SIZE_MIB * 4 + 1023) / 1024 + 2 ))
base mkbucket "$SRC_BUCKET"
base mkbucket "$STORE_BUCKET"
for id in src store; do
    bucket=$SRC_BUCKET; [ "$id" = store ] && bucket=$STORE_BUCKET
    mlmodel connector add "id=$id" type=s3 "endpoint=$MLMODEL_TEST_S3_ENDPOINT" "bucket=$bucket" \
        access_key_env=MLMODEL_TEST_S3_ACCESS_KEY secret_key_env=MLMODEL_TEST_S3_SECRET_KEY >/dev/null
done

printf '| model | step | seconds | MiB/s | peak RSS MiB | baseline | baseline s | baseline MiB/s | ratio | baseline peak RSS MiB |\n|---|---|---:|---:|---:|---|---:|---:|---:|---:|\n'
for model in large small; do
    min_bytes=$(( (SIZE_MIB << 20) / SMALL * SMALL ))
    tar -C "$WORK" -cf "$WORK/$model.tar" "$model"
    base put "$SRC_BUCKET" "USERS/root/$model.tar" "$WORK/$model.tar"
    rm -f "$WORK/$model.tar"

    # import: the baseline first, then the CLI; each starts with the store reclaimed.
    log "$model: baseline import"
    r=$(timed dotnet "$BASE" import "$SRC_BUCKET" "USERS/root/$model.tar" "$STORE_BUCKET" "baseline/$model/"); read -r bis birss <<<"$r"
    expect_bytes "baseline import of $model" "$(count "$STORE_BUCKET" "baseline/$model/")" "$min_bytes"
    base delete-prefix "$STORE_BUCKET" baseline/; gc
    log "$model: mlmodel import"
    r=$(timed dotnet "$CLI" --home "$HOME_DIR" --no-progress --store store -c "mlmodel import name=$model analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=src path=USERS/root/$model.tar")
    read -r is irss <<<"$r"
    expect_bytes "mlmodel import of $model" "$(count "$STORE_BUCKET" "models/root/$model/")" "$min_bytes"
    base delete-prefix "$SRC_BUCKET" "USERS/root/$model.tar"; gc

    # export: the CLI first, then the baseline.
    log "$model: mlmodel export"
    r=$(timed dotnet "$CLI" --home "$HOME_DIR" --no-progress --store store --format json -c "mlmodel export name=$model"); read -r es erss <<<"$r"
    grep -q 'X-Amz-Signature' "$WORK/out.txt" || { log "error: export printed no presigned URL"; cat "$WORK/out.txt" >&2; exit 1; }
    expect_bytes "mlmodel export of $model" "$(count "$STORE_BUCKET" "exports/root/$model/")" "$min_bytes"
    base delete-prefix "$STORE_BUCKET" exports/; gc
    log "$model: baseline export"
    r=$(timed dotnet "$BASE" export "$STORE_BUCKET" "models/root/$model/1/" "$STORE_BUCKET" "baseline/$model.tar"); read -r bes berss <<<"$r"
    expect_bytes "baseline export of $model" "$(count "$STORE_BUCKET" "baseline/$model.tar")" "$min_bytes"
    base delete-prefix "$STORE_BUCKET" baseline/

    mlmodel --store store -c "mlmodel delete name=$model version=1" >/dev/null
    left=$(count "$STORE_BUCKET" "")
    [ "${left%% *}" = 0 ] || { log "error: the store still holds $left (objects bytes) after mlmodel delete"; exit 1; }
    gc
    python3 - "$model" "$SIZE_MIB" "$is" "$irss" "$bis" "$birss" "$es" "$erss" "$bes" "$berss" <<'PY'
import sys
m, size, i, irss, bi, birss, e, erss, be, berss = sys.argv[1], float(sys.argv[2]), *map(float, sys.argv[3:])
for step, s, rss, base, bs, brss in (("import", i, irss, "raw SDK import", bi, birss), ("export", e, erss, "raw SDK export", be, berss)):
    print(f"| {m} | {step} | {s:.2f} | {size/s:.0f} | {rss/1024:.0f} | {base} | {bs:.2f} | {size/bs:.0f} | {bs/s:.2f} | {brss/1024:.0f} |")
PY
    rm -rf "${WORK:?}/$model"
done
