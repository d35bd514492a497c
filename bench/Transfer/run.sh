#!/usr/bin/env bash
# Whole-process timing of `mlmodel import` and `mlmodel export` on the embedded default (local
# store), against GNU tar on the same archive and the same disk, in the same run.
#
#   bench/Transfer/run.sh [size_mib] [small_files]      (defaults: 1024 MiB, 10000 files)
#
# Two models of the same total size: one large file (plus saved_model.pb), and many small files.
# Baselines: `tar -xf` of the archive (what import does: unpack into a folder) and `tar -cf` of
# the model folder (what export does). Wall time and peak RSS come from GNU time; the page cache
# is warm for both sides. Prints a Markdown table.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE_MIB=${1:-1024}
SMALL=${2:-10000}
WORK="$REPO/.tmp/bench-transfer"
rm -rf "$WORK"; mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null

dotnet build "$REPO/samples/MlModel.Cli" -c Release -v q -nologo >/dev/null
CLI="$REPO/samples/MlModel.Cli/bin/Release/net10.0/mlmodel.dll"
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

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); model size ${SIZE_MIB} MiB" >&2
make_models
printf '| model | step | seconds | MiB/s | peak RSS MiB | baseline | baseline s | baseline MiB/s | ratio |\n|---|---|---:|---:|---:|---|---:|---:|---:|\n'
for model in large small; do
    home="$WORK/home-$model"; mkdir -p "$home/objects/USERS/root"
    tarfile="$home/objects/USERS/root/$model.tar"
    read -r tcs _ < <(timed tar -C "$WORK" -cf "$tarfile" "$model")
    rm -rf "$WORK/x"; mkdir -p "$WORK/x"
    read -r txs _ < <(timed tar -C "$WORK/x" -xf "$tarfile")
    read -r is irss < <(timed dotnet "$CLI" --home "$home" --no-progress -c "mlmodel import name=$model analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path=USERS/root/$model.tar")
    read -r es erss < <(timed dotnet "$CLI" --home "$home" --no-progress -c "mlmodel export name=$model")
    python3 - "$model" "$SIZE_MIB" "$is" "$irss" "$txs" "$es" "$erss" "$tcs" <<'PY'
import sys
m, size, i, irss, tx, e, erss, tc = sys.argv[1], float(sys.argv[2]), *map(float, sys.argv[3:])
for step, s, rss, base, bs in (("import", i, irss, "tar -xf", tx), ("export", e, erss, "tar -cf", tc)):
    print(f"| {m} | {step} | {s:.2f} | {size/s:.0f} | {rss/1024:.0f} | {base} | {bs:.2f} | {size/bs:.0f} | {bs/s:.2f} |")
PY
    rm -rf "$WORK/x" "$home"
done
rm -rf "$WORK"
