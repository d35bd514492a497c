# Sourced by run.sh and s3.sh: the two benchmark models of the same total size in $WORK, one
# large file (plus saved_model.pb) and $SMALL small ones, of random bytes ($SIZE_MIB MiB each).
PB="$REPO/tests/fixtures/tensorflow-serving-testdata/saved_model_half_plus_two_cpu/00000123/saved_model.pb"

make_models() {
    mkdir -p "$WORK/large/variables" "$WORK/small/variables"
    cp "$PB" "$WORK/large/"; cp "$PB" "$WORK/small/"
    head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/large/variables/variables.data-00000-of-00001"
    local per=$(( (SIZE_MIB << 20) / SMALL ))
    head -c $((SIZE_MIB << 20)) /dev/urandom | split -a 5 -d -b "$per" - "$WORK/small/variables/shard-"
}
