# Sourced by make_training_data.sh and make_long_read_data.sh (which set OUT, HERE and optionally TIMES and
# SAMPLE_ARGS, extra simulate_sample.py arguments for every sample).

# The shared sources: $DVCALL_DATA, default ../shared/data beside the checkout.
DATA=${DVCALL_DATA:-$(cd "$HERE/../../shared/data" 2>/dev/null && pwd)}
if [[ -z $DATA || ! -d $DATA/sim_sources ]]; then
  echo "$(basename "$0"): no shared data folder at '${DATA:-../shared/data}' (it needs sim_sources/): set DVCALL_DATA to it" >&2
  exit 2
fi
SIM=$DATA/sim_sources
B37=$SIM/hs37d5_chr20_1_1000000.fa.gz
GRCH38=$SIM/grch38.chr20_and_21_10M.fa.gz
HG19=$DATA/real/ucsc.hg19.chr20.unittest.fasta.gz
HG001_B37=$SIM/HG001_GIAB_v3.3.2.b37_20_1-1Mb.vcf.gz
HG001_HG19=$DATA/real/HG001_GIAB_v3.3.2.chr20_9.995-11.095Mb.minus_10.05-10.10Mb.vcf.gz
# 12,167 real HG002 variants (GIAB v4.2.1) over GRCh38 chr20:1-10 Mb, evaluation windows removed: a real
# spectrum of STR and homopolymer indels, complex and multi-allelic sites to plant.
HG002_GRCH38=$SIM/HG002_GIAB_v4.2.1.grch38.chr20_1-10Mb_minus_eval.vcf.gz

# sample NAME ARGS...: simulate one sample into $OUT/NAME unless its sample.json exists (resumable), or
# unless $ONLY (a bash regex) is set and the name does not match it (e.g. ONLY='^(calib|test)_').
sample() {
  local name=$1
  shift
  if [[ -n ${ONLY:-} && ! $name =~ $ONLY ]]; then
    return
  fi
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
