#!/usr/bin/env bash
# Train dvcall's hybrid HiFi + Illumina model (--model-type hybrid) from scratch:
#   1. simulate HiFi + Illumina pairs from the same haplotypes (scripts/make_hybrid_data.sh),
#   2. make labelled examples from both BAMs of each training pair at full and reduced coverage,
#   3. make labelled tuning examples on the tuning pair at two coverages (picks the epoch and the temperature only),
#   4. train, keeping the epoch with the best tuning accuracy, and calibrate.
# Examples use the hybrid preset (`dvcall presets`): Illumina's realignment (long reads are never realigned),
# 221 columns, the technology channel (127 short read, 254 long read) and ALT-aligned diff channels.
# Usage: scripts/train_hybrid_model.sh [WORKDIR] [MODEL_DIR]
# Needs what make_hybrid_data.sh needs.
set -euo pipefail
WORK=${1:-work_hybrid}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODEL=${2:-$HERE/../models/hybrid-hifi-illumina}
EPOCHS=${EPOCHS:-4}
JOBS=${JOBS:-2}
SMOOTHING=${LABEL_SMOOTHING:-1e-3}  # dvcall train --label-smoothing
export DVCALL_DATA=${DVCALL_DATA:-$HERE/../../shared/data}

bash "$HERE/make_hybrid_data.sh" "$WORK"
EX=$WORK/examples
mkdir -p "$EX"
JOBLIST=$EX/jobs.txt
# "pair fraction": both technologies downsampled by the fraction (--downsample-fraction)
cat > "$JOBLIST" <<JOBS
train_hybrid_a 1.0
train_hybrid_a 0.6
train_hybrid_b 1.0
train_hybrid_b 0.5
train_hybrid_c 1.0
train_hybrid_c 0.6
train_hybrid_d 1.0
train_hybrid_d 0.7
tune_hybrid 1.0
tune_hybrid 0.6
JOBS

make_one() {
  local name=$1 frac=$2 hifi=$WORK/$1_hifi illumina=$WORK/$1_illumina
  local out=$EX/${name}_f${frac}.tfrecord.gz
  [[ -s $out.example_info.json ]] && return 0
  local ref
  ref=$(python3 -c "import json;print(json.load(open('$hifi/sample.json'))['parameters']['ref'])")
  dvcall make-examples --model-type hybrid --ref "$ref" --reads "$hifi/reads.bam" --reads "$illumina/reads.bam" \
    --truth-vcf "$hifi/truth.vcf.gz" --confident-bed "$hifi/confident.bed" --regions "$hifi/confident.bed" \
    --downsample-fraction "$( [[ $frac == 1.0 ]] && echo 0 || echo "$frac")" --examples "$out" --quiet
}
export -f make_one
export WORK EX
xargs -P "$JOBS" -L 1 bash -c 'make_one "$0" "$1"' < "$JOBLIST"

# the tuning pair at full and reduced coverage (~1,800 examples: 899 at full coverage told epochs apart by 2 errors)
TUNE="$EX/tune_hybrid_*.tfrecord.gz"
dvcall train --examples "$EX/train_*.tfrecord.gz" --tune-examples "$TUNE" --output "$WORK/model" \
  --epochs "$EPOCHS" --batch-size 128 --no-cache --label-smoothing "$SMOOTHING"
dvcall calibrate --model "$WORK/model" --examples "$TUNE"
mkdir -p "$MODEL"
cp "$WORK/model/model.keras" "$WORK/model/model_info.json" "$WORK/model/training_log.csv" "$MODEL/"
echo "model written to $MODEL"
