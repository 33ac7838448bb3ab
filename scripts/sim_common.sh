# Sourced by make_training_data.sh and make_long_read_data.sh (which set OUT, HERE and optionally TIMES and
# SAMPLE_ARGS, extra simulate_sample.py arguments for every sample).

# sample NAME ARGS...: simulate one sample into $OUT/NAME unless its sample.json exists (resumable).
sample() {
  local name=$1
  shift
  if [[ -s $OUT/$name/sample.json ]]; then
    echo "skip $name (sample.json exists)"
    return
  fi
  echo "make $name"
  local t0=$SECONDS
  nice -n 10 python3 "$HERE/simulate_sample.py" --out "$OUT/$name" --threads 2 "${SAMPLE_ARGS[@]}" "$@" 2>&1 \
    | tee "$OUT/logs/$name.log"
  if [[ -n ${TIMES:-} ]]; then
    printf '%s\t%s\n' "$name" $((SECONDS - t0)) >> "$TIMES"
  fi
}
