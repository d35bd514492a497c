#!/usr/bin/env bash
# Whole-process timing of `mlmodel import` and `mlmodel export` on the embedded default (local
# store), against GNU tar on the same archive and the same disk, in the same run.
#
#   bench/Transfer/run.sh [size_mib] [small_files] [rounds]    (defaults: 1024 MiB, 10000 files, 3)
#
# Two models of the same total size: one large file (plus saved_model.pb), and many small files.
# Each step is timed like for like:
#   - durable (the default): import and export return once their files are on disk (fsync),
#     against `tar -xf && sync` / `tar -cf && sync`;
#   - --no-sync: the writeback is left to the kernel, as tar does, against plain `tar -xf` / `tar -cf`.
# Import and export also compute or verify a SHA-256 of every file, which tar does not.
# Wall time and peak RSS come from GNU time; times are medians of the rounds, which are
# interleaved (tar, then mlmodel, round after round), and ratios the medians of each round's ratio.
# MLMODEL_CLI=path/to/mlmodel.dll times another build (e.g. a copy of an older one) instead.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE_MIB=${1:-1024}
SMALL=${2:-10000}
ROUNDS=${3:-3}
WORK="$REPO/.tmp/bench-transfer"
rm -rf "$WORK"; mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null

dotnet build "$REPO/bench/Transfer/Host" -c Release -v q -nologo >/dev/null
if [[ -n "${MLMODEL_CLI:-}" ]]; then
    CLI=$MLMODEL_CLI
else
    # What `dotnet tool install` gives on this machine: the CLI published for its runtime (ReadyToRun).
    rid=$(dotnet --info | sed -n 's/^ *RID: *//p' | head -n 1)
    dotnet publish "$REPO/samples/MlModel.Cli" -c Release -r "$rid" -o "$WORK/cli" -v q -nologo >/dev/null
    CLI="$WORK/cli/mlmodel.dll"
fi
. "$REPO/bench/Transfer/models.sh"
. "$REPO/bench/Transfer/memory.sh"
trap release_host_memory EXIT

# Before each timed step: no dirty pages left; the page cache emptied where allowed (root), so
# that every step starts from the same state instead of inheriting the memory pressure of the
# ones before (on this VM that swung tar's own time from 1.0 to 3.5 s); then the step's input
# read back into the cache (warm input for both sides, as a model just downloaded would be),
# the CLI started once, and a moment for the disk to finish the discards of what was deleted
# (this disk is mounted with -o discard).
settle() { # files or folders to warm
    sync
    [[ -w /proc/sys/vm/drop_caches ]] && echo 1 > /proc/sys/vm/drop_caches
    find "$@" -type f -exec cat {} + > /dev/null
    dotnet "$CLI" --version > /dev/null
    sync; sleep 1
}

# The embedding host (bench/Transfer/Host): one process for the whole run, as a query engine
# runs the library; a step's time is measured inside it, without .NET's start-up and JIT.
coproc HOST { exec dotnet "$REPO/bench/Transfer/Host/bin/Release/net10.0/transferhost.dll"; }
hosted() { # key, home, durable|nosync, command: appends "key seconds 0" to the results
    printf '%s\t%s\t%s\n' "$2" "$3" "$4" >&"${HOST[1]}"
    local answer; read -r answer <&"${HOST[0]}"
    [[ $answer == error* ]] && { echo "host: $answer" >&2; exit 1; }
    echo "$1 $answer 0" >> "$WORK/results.txt"
}

timed() { # key, command...: appends "key seconds maxrss_kib" to the results
    local key=$1; shift
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >/dev/null
    echo "$key $(cat "$WORK/time.txt")" >> "$WORK/results.txt"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F); model size ${SIZE_MIB} MiB; ${ROUNDS} rounds" >&2
make_models
# Input, output and the copies of a step stay under 6 GiB for a 1 GiB model.
hold_host_memory $(( (SIZE_MIB * 6 + 1023) / 1024 + 2 ))
# Warm the host up: an import and an export of each model, untimed.
for model in large small; do
    warm="$WORK/home-warm"; rm -rf "$warm"; mkdir -p "$warm/objects/USERS/root"
    tar -C "$WORK" -cf "$warm/objects/USERS/root/$model.tar" "$model"
    printf '%s\tnosync\t%s\n' "$warm" "mlmodel import name=$model analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path=USERS/root/$model.tar" >&"${HOST[1]}"
    printf '%s\tnosync\t%s\n' "$warm" "mlmodel export name=$model" >&"${HOST[1]}"
    read -r _ <&"${HOST[0]}"; read -r _ <&"${HOST[0]}"
done
rm -rf "$WORK/home-warm"
: > "$WORK/results.txt"
for round in $(seq "$ROUNDS"); do
    for model in large small; do
        echo "round $round: $model" >&2
        src="$WORK/src-$model"; mkdir -p "$src/objects/USERS/root"
        tarfile="$src/objects/USERS/root/$model.tar"
        [[ -f "$tarfile" ]] || tar -C "$WORK" -cf "$tarfile" "$model"
        import="mlmodel import name=$model analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path=USERS/root/$model.tar"

        # import: tar -xf (+ sync) against mlmodel import (durable, --no-sync), each into a fresh folder
        for step in tar tar-sync import import-nosync host host-nosync; do
            home="$WORK/home-$step"; rm -rf "$home"; mkdir -p "$home/objects/USERS/root" "$home/x"
            ln "$tarfile" "$home/objects/USERS/root/$model.tar"
            settle "$tarfile"
            case $step in
                tar) timed "$model import tar" tar -C "$home/x" -xf "$tarfile" ;;
                tar-sync) timed "$model import tar-sync" sh -c 'tar -C "$1" -xf "$2" && sync' sh "$home/x" "$tarfile" ;;
                import) timed "$model import durable" dotnet "$CLI" --home "$home" --no-progress -c "$import" ;;
                import-nosync) timed "$model import nosync" dotnet "$CLI" --home "$home" --no-progress --no-sync -c "$import" ;;
                host) hosted "$model import host" "$home" durable "$import" ;;
                host-nosync) hosted "$model import host-nosync" "$home" nosync "$import" ;;
            esac
        done

        # export: tar -cf (+ sync) of the imported model's folder against mlmodel export
        home="$WORK/home-import"; files="$home/store/models/root/$model/1"
        for step in tar tar-sync export export-nosync host host-nosync; do
            rm -rf "$home/store/exports" "$WORK/copy.tar"
            settle "$files"
            case $step in
                tar) timed "$model export tar" tar -C "$files" -cf "$WORK/copy.tar" . ;;
                tar-sync) timed "$model export tar-sync" sh -c 'tar -C "$1" -cf "$2" . && sync' sh "$files" "$WORK/copy.tar" ;;
                export) timed "$model export durable" dotnet "$CLI" --home "$home" --no-progress -c "mlmodel export name=$model" ;;
                export-nosync) timed "$model export nosync" dotnet "$CLI" --home "$home" --no-progress --no-sync -c "mlmodel export name=$model" ;;
                host) hosted "$model export host" "$home" durable "mlmodel export name=$model" ;;
                host-nosync) hosted "$model export host-nosync" "$home" nosync "mlmodel export name=$model" ;;
            esac
        done
    done
done

host_peak_kib=$(awk '/VmHWM/ { print $2 }' "/proc/$HOST_PID/status")
exec {HOST[1]}>&-; wait "$HOST_PID" || true
python3 - "$SIZE_MIB" "$WORK/results.txt" "$host_peak_kib" <<'PY'
import statistics, sys
size = float(sys.argv[1])
runs = {}
for line in open(sys.argv[2]):
    model, step, mode, s, rss = line.split()
    runs.setdefault((model, step, mode), []).append((float(s), int(rss)))
med = lambda k: statistics.median(s for s, _ in runs[k])
peak = lambda k: max(r for _, r in runs[k]) / 1024
# The ratio is the median of the rounds' ratios: each round times tar and mlmodel minutes apart,
# so a slow spell of the machine weighs on both sides of a ratio rather than on one median.
ratio = lambda k, b: statistics.median(bs / s for (s, _), (bs, _) in zip(runs[k], runs[b]))
print("| model | step | mode | seconds | MiB/s | peak RSS MiB | baseline | baseline s | ratio (baseline s / mlmodel s, median of rounds) |")
print("|---|---|---|---:|---:|---:|---|---:|---:|")
for model in ("large", "small"):
    for step, verb in (("import", "tar -xf"), ("export", "tar -cf")):
        for mode, base, label in (("durable", "tar-sync", f"`{verb} && sync`"), ("nosync", "tar", f"`{verb}`"),
                                  ("host", "tar-sync", f"`{verb} && sync`"), ("host-nosync", "tar", f"`{verb}`")):
            k, b = (model, step, mode), (model, step, base)
            shown = {"durable": "CLI, default (durable)", "nosync": "CLI, `--no-sync`",
                     "host": "in a host, durable", "host-nosync": "in a host, not synced"}[mode]
            rss = f"{peak(k):.0f}" if not mode.startswith("host") else "(below)"
            print(f"| {model} | {step} | {shown} | {med(k):.2f} | {size/med(k):.0f} | {rss} | {label} | {med(b):.2f} | {ratio(k, b):.2f} |")
print()
print(f"The host process's peak RSS over the whole run (both models, every round): {int(sys.argv[3]) / 1024:.0f} MiB.")
print()
print("every run (seconds): " + "; ".join(f"{' '.join(k)}: {', '.join(f'{s:.2f}' for s, _ in v)}" for k, v in sorted(runs.items())))
PY
rm -rf "$WORK"
