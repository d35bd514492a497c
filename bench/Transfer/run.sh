#!/usr/bin/env bash
# Whole-process timing of `mlmodel import` and `mlmodel export` on the embedded default (local
# store), against GNU tar on the same archive and the same disk, in the same run.
#
#   bench/Transfer/run.sh [size_mib] [small_files]      (defaults: 1024 MiB, 10000 files)
#
# Two models of the same total size: one large file (plus saved_model.pb), and many small files.
# Baselines: `tar -xf` of the archive (what import does: unpack into a folder) and `tar -cf` of
# the model folder (what export does), each also followed by `sync`: import and export make
# their files durable (fsync), which plain tar leaves to the kernel's writeback. Wall time and
# peak RSS come from GNU time; the page cache is warm for both sides. Prints a Markdown table.
# MLMODEL_CLI=path/to/mlmodel.dll times another build (e.g. a copy of an older one) instead.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE_MIB=${1:-1024}
SMALL=${2:-10000}
WORK="$REPO/.tmp/bench-transfer"
rm -rf "$WORK"; mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null

if [[ -n "${MLMODEL_CLI:-}" ]]; then
    CLI=$MLMODEL_CLI
else
    dotnet build "$REPO/samples/MlModel.Cli" -c Release -v q -nologo >/dev/null
    CLI="$REPO/samples/MlModel.Cli/bin/Release/net10.0/mlmodel.dll"
fi
PB="$REPO/tests/fixtures/tensorflow-serving-testdata/saved_model_half_plus_two_cpu/00000123/saved_model.pb"

make_models() {
    mkdir -p "$WORK/large/variables" "$WORK/small/variables"
    cp "$PB" "$WORK/large/"; cp "$PB" "$WORK/small/"
    head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/large/variables/variables.data-00000-of-00001"
    local per=$(( (SIZE_MIB << 20) / SMALL )) i
    head -c $((SIZE_MIB << 20)) /dev/urandom | split -a 5 -d -b "$per" - "$WORK/small/variables/shard-"
}

timed() { # label, command...: prints "seconds maxrss_kib"
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >/dev/null
    cat "$WORK/time.txt"
}

# Before each timed step: no dirty pages left, and a moment for the disk to finish the discards
# of what was deleted (this disk is mounted with -o discard), so steps do not pay for each other.
settle() { sync; sleep 1; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); model size ${SIZE_MIB} MiB" >&2
make_models
printf '| model | step | seconds | MiB/s | peak RSS MiB | baseline | baseline s | baseline MiB/s | ratio | baseline + sync s | ratio to + sync |\n|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n'
for model in large small; do
    home="$WORK/home-$model"; mkdir -p "$home/objects/USERS/root"
    tarfile="$home/objects/USERS/root/$model.tar"
    settle
    read -r tcs _ < <(timed tar -C "$WORK" -cf "$tarfile" "$model")
    settle
    read -r tcss _ < <(timed sh -c 'tar -C "$1" -cf "$2" "$3" && sync' sh "$WORK" "$WORK/copy.tar" "$model")
    rm -f "$WORK/copy.tar"
    rm -rf "$WORK/x"; mkdir -p "$WORK/x"; settle
    read -r txs _ < <(timed tar -C "$WORK/x" -xf "$tarfile")
    rm -rf "$WORK/x"; mkdir -p "$WORK/x"; settle
    read -r txss _ < <(timed sh -c 'tar -C "$1" -xf "$2" && sync' sh "$WORK/x" "$tarfile")
    rm -rf "$WORK/x"; settle
    read -r is irss < <(timed dotnet "$CLI" --home "$home" --no-progress -c "mlmodel import name=$model analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path=USERS/root/$model.tar")
    settle
    read -r es erss < <(timed dotnet "$CLI" --home "$home" --no-progress -c "mlmodel export name=$model")
    python3 - "$model" "$SIZE_MIB" "$is" "$irss" "$txs" "$txss" "$es" "$erss" "$tcs" "$tcss" <<'PY'
import sys
m, size, i, irss, tx, txs, e, erss, tc, tcs = sys.argv[1], float(sys.argv[2]), *map(float, sys.argv[3:])
for step, s, rss, base, bs, bss in (("import", i, irss, "tar -xf", tx, txs), ("export", e, erss, "tar -cf", tc, tcs)):
    print(f"| {m} | {step} | {s:.2f} | {size/s:.0f} | {rss/1024:.0f} | {base} | {bs:.2f} | {size/bs:.0f} | {bs/s:.2f} | {bss:.2f} | {bss/s:.2f} |")
PY
    rm -rf "$WORK/x" "$home"
done
rm -rf "$WORK"
