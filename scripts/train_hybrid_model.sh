#!/usr/bin/env bash
# Train dvcall's hybrid HiFi + Illumina model (--model-type hybrid) from scratch:
#   1. simulate HiFi + Illumina pairs from the same haplotypes (scripts/make_hybrid_data.sh),
#   2. make labelled examples from both BAMs of each training pair at full and reduced coverage,
#   3. make labelled tuning examples on the tuning pair at two coverages (picks the epoch and the temperature only),
#   4. train, keeping the epoch with the best tuning accuracy, fit the temperature on the tuning examples and the GQ
#      map on the calibration pairs' calls (scripts/fit_gq_calibration.py).
# Examples use the hybrid preset (`dvcall presets`): Illumina's realignment (long reads are never realigned),
# 221 columns, the technology channel (127 short read, 254 long read), the HP channel (the network pools reads
# per haplotype, as the long-read models do) and ALT-aligned diff channels.
# Usage: scripts/train_hybrid_model.sh [WORKDIR] [MODEL_DIR]
# Needs what make_hybrid_data.sh needs, and whatshap (pip install whatshap).
# DVCALL_DATA: the benchmark data folder (sim_sources/, real/: references and GIAB variant sets), default
# ../shared/data beside the checkout.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; fi  # the header above is the help
WORK=${1:-work_hybrid}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODEL=${2:-$HERE/../models/hybrid-hifi-illumina}
EPOCHS=${EPOCHS:-4}
JOBS=${JOBS:-2}
SMOOTHING=${LABEL_SMOOTHING:-1e-3}  # dvcall train --label-smoothing
export DVCALL_DATA=${DVCALL_DATA:-$HERE/../../shared/data}
python3 -c "import whatshap" 2>/dev/null || { echo "missing whatshap: pip install whatshap" >&2; exit 2; }
source "$HERE/model_install.sh"
check_model_dest "$MODEL"

dvcall train --check-install || exit 2  # TensorFlow and Keras, in the Python that runs dvcall (after the settings' checks: it imports them, ~5 s)
bash "$HERE/make_hybrid_data.sh" "$WORK"
EX=$WORK/examples
mkdir -p "$EX"
JOBLIST=$EX/jobs.txt
# "pair fraction drop": both technologies downsampled by the fraction (--downsample-fraction), and the share of
# reads drawn untagged (--drop-hp-fraction): `run` calls a user's untagged reads once before it phases them
# (the first pass must find the heterozygous sites to phase), and whatshap leaves some reads untagged, so the
# model also sees wholly and partly untagged pileups (as the long-read recipe does).
cat > "$JOBLIST" <<JOBS
train_hybrid_a 1.0 0
train_hybrid_a 0.6 1
train_hybrid_b 1.0 0.3
train_hybrid_b 0.5 0
train_hybrid_c 1.0 0
train_hybrid_c 0.6 1
train_hybrid_d 1.0 0.3
train_hybrid_d 0.7 0
tune_hybrid 1.0 0
tune_hybrid 0.6 0
JOBS

# The HiFi reads of the training and tuning pairs carry HP tags from their haplotype of origin. A user's short
# reads get theirs from `whatshap haplotag` (run --phase-reads tags both kinds), which can tag only the reads that
# cross a heterozygous site: the Illumina reads are tagged that way here, from the phased truth.
sample_ref() {  # the reference a simulated sample was made on
  python3 -c "import json,sys;print(json.load(open(sys.argv[1] + '/sample.json'))['parameters']['ref'])" "$1"
}

tag_short_reads() {
  local illumina=$1 ref=$2
  [[ -s $illumina/reads.hp.bam.bai ]] && return 0
  python3 -m whatshap haplotag --ignore-read-groups --reference "$ref" -o "$illumina/reads.hp.partial.bam" \
    "$illumina/truth.vcf.gz" "$illumina/reads.bam" > "$illumina/haplotag.log" 2>&1
  samtools index "$illumina/reads.hp.partial.bam"
  mv "$illumina/reads.hp.partial.bam" "$illumina/reads.hp.bam"
  mv "$illumina/reads.hp.partial.bam.bai" "$illumina/reads.hp.bam.bai"
}

make_one() {
  local name=$1 frac=$2 drop=$3 hifi=$WORK/$1_hifi illumina=$WORK/$1_illumina
  local out=$EX/${name}_f${frac}_u${drop}.tfrecord.gz
  [[ -s $out.example_info.json ]] && return 0
  local ref
  ref=$(sample_ref "$hifi")
  dvcall make-examples --model-type hybrid --ref "$ref" --reads "$hifi/reads.bam" --reads "$illumina/reads.hp.bam" \
    --truth-vcf "$hifi/truth.vcf.gz" --confident-bed "$hifi/confident.bed" --regions "$hifi/confident.bed" \
    --drop-hp-fraction "$drop" --downsample-fraction "$( [[ $frac == 1.0 ]] && echo 0 || echo "$frac")" \
    --examples "$out" --quiet
}
export -f make_one sample_ref
export WORK EX
for name in $(cut -d' ' -f1 "$JOBLIST" | sort -u); do  # before the jobs: two of them read each pair
  tag_short_reads "$WORK/${name}_illumina" "$(sample_ref "$WORK/${name}_hifi")"
done
xargs -P "$JOBS" -L 1 bash -c 'make_one "$0" "$1" "$2"' < "$JOBLIST"

# the tuning pair at full and reduced coverage (~1,800 examples: 899 at full coverage told epochs apart by 2 errors)
TUNE="$EX/tune_hybrid_*.tfrecord.gz"
dvcall train --examples "$EX/train_*.tfrecord.gz" --tune-examples "$TUNE" --output "$WORK/model" \
  --epochs "$EPOCHS" --batch-size 128 --no-cache --label-smoothing "$SMOOTHING"
dvcall calibrate --model "$WORK/model" --examples "$TUNE"
# the GQ map, on the calibration pairs' calls as a user would get them (untagged HiFi, phased by run itself)
python3 "$HERE/fit_gq_calibration.py" --model "$WORK/model" $(for i in 1 2 3 4 5 6 7 8; do
  echo --hybrid-pair "$WORK/calib_hybrid_$i"; done)
install_model "$WORK" "$MODEL" model/model.keras model/model_info.json model/training_log.csv
echo "model written to $MODEL"
