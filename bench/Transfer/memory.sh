# Sourced by run.sh and s3.sh. On a VM whose balloon device reports free pages to the host
# (virtio-balloon free page reporting, as on this project's machines), memory the guest frees is
# given back to the host, and the next touch of it costs a host page fault: on these machines
# about 3 s per GiB, more than the whole of `tar -xf` of 1 GiB. Which step pays it depended on how
# long ago the page cache was dropped, which made the same step swing 2-3x from run to run.
# For the run, reporting is held off (page_reporting_order above the largest order) and the free
# memory touched once, so every step, tar's and mlmodel's alike, writes into memory the host backs;
# release_host_memory puts the setting back (call it on exit). Nothing changes where the knob is
# absent or not writable.
REPORTING_ORDER=/sys/module/page_reporting/parameters/page_reporting_order

hold_host_memory() { # GiB of free memory to touch once
    [[ -w $REPORTING_ORDER ]] || { echo "note: free page reporting is not controllable here; figures include its host faults, if any" >&2; return 0; }
    SAVED_REPORTING_ORDER=$(cat "$REPORTING_ORDER")
    echo 11 > "$REPORTING_ORDER"
    local gib=$1 free_gib
    free_gib=$(awk '/MemAvailable/ { print int($2 / 1048576) - 2 }' /proc/meminfo)
    (( gib > free_gib )) && gib=$free_gib
    echo "free page reporting held off for the run; touching ${gib} GiB of free memory once" >&2
    local fill; fill=$(mktemp -d /dev/shm/mlmodel-bench.XXXXXX)
    dd if=/dev/zero of="$fill/fill" bs=1M count=$((gib << 10)) status=none || true
    rm -rf "$fill"
}

release_host_memory() {
    [[ -n ${SAVED_REPORTING_ORDER:-} ]] && echo "$SAVED_REPORTING_ORDER" > "$REPORTING_ORDER"
    return 0
}
