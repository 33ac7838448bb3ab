#!/usr/bin/env bash
# Regenerate the shipped models/illumina-wgs model from scratch:
#   1. simulate the training samples (scripts/make_training_data.sh),
#   2. make labelled examples from each at several coverages (--downsample-fraction),
#   3. make labelled tuning examples on a held-out simulated sample (checkpoint selection only),
#   4. train one network per seed in SEEDS, keeping each one's epoch with the best tuning accuracy, and
#      combine them into an ensemble (dvcall ensemble: the mean of their probabilities),
#   5. train the multi-allelic merger network on the new model's outputs, fit its temperature and GQ map.
# Examples are made with local realignment and ALT-aligned diff channels; CHANNELS=1,2,3,4,5,6 trains a
# model without the ALT-aligned channels from the same examples (the ablation does both).
# Usage: scripts/train_illumina_model.sh [WORKDIR] [MODEL_DIR]
# Needs: samtools bcftools bwa art_illumina (apt-get install samtools bcftools bwa art-nextgen-simulation-tools) and
# iss (pip install insilicoseq).
# DVCALL_DATA: the benchmark data folder (sim_sources/, real/: references and GIAB variant sets), default
# ../shared/data beside the checkout; the other settings are the variables below (each with its default).
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; fi  # the header above is the help
WORK=${1:-work_sim}
MODEL=${2:-models/illumina-wgs}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${DVCALL_DATA:-$HERE/../../shared/data}
EPOCHS=${EPOCHS:-7}
# Augmentations (dvcall train --help): qualities redrawn as other instruments report them, hets at 30-70%.
AUGMENT_QUALITIES=${AUGMENT_QUALITIES:-0.5}
AUGMENT_BALANCE=${AUGMENT_BALANCE:-0.5}
BALANCE_MAX_DROP=${BALANCE_MAX_DROP:-0.8}  # dvcall train --augment-balance-max-drop (0.8: hets down to ~17%)
BALANCE_MIN_HAPLOTYPE=${BALANCE_MIN_HAPLOTYPE:-0}  # dvcall train --augment-balance-min-haplotype (0: any count)
AUGMENT_ERRORS=${AUGMENT_ERRORS:-0}  # dvcall train --augment-errors (0: off)
AUGMENT_CONTAMINATION=${AUGMENT_CONTAMINATION:-0.5}  # dvcall train --augment-contamination (0: off)
CONTAMINATION_MAX_RATE=${CONTAMINATION_MAX_RATE:-0.03}  # dvcall train --augment-contamination-max-rate
CONTAMINATION_CLEAN_ONLY=${CONTAMINATION_CLEAN_ONLY:-1}  # 1: dvcall train --augment-contamination-clean-only (0: off)
AUGMENT_CONFIDENT_ERRORS=${AUGMENT_CONFIDENT_ERRORS:-0}  # dvcall train --augment-confident-errors (0: off)
CONFIDENT_ERRORS_MAX_FRACTION=${CONFIDENT_ERRORS_MAX_FRACTION:-0.2}  # dvcall train --augment-confident-errors-max-fraction
LABEL_SMOOTHING=${LABEL_SMOOTHING:-1e-3}  # dvcall train --label-smoothing (0: GQ not capped near 31)
# dvcall train --seed of each network; two or more make an ensemble (the shipped model, versions 5-6: 2 and 3; versions
# 2-4 used 400620758, dvcall train's default, and 1). SEED=N trains one network (replicate runs of one recipe
# differ only here).
SEEDS=${SEED:-${SEEDS:-2 3}}
# How each network's epoch is chosen: "tune" = best accuracy on the tuning examples (dvcall train's own pick, every
# shipped version), "calib" = fewest SNP+INDEL errors when the calibration samples are called (dvcall train
# --keep-epochs, then scripts/pick_epoch.py), as the ONT recipe does.
PICK_EPOCH=${PICK_EPOCH:-tune}
[[ $PICK_EPOCH == calib || $PICK_EPOCH == tune ]] || { echo "$0: PICK_EPOCH must be calib or tune, not '$PICK_EPOCH'" >&2; exit 2; }
INIT=${INIT_MODEL:-}  # fine-tune from this model instead of training from scratch
CHANNELS=${CHANNELS:-}
JOBS=${JOBS:-2}
INDEL_READS=${INDEL_READS:-spanning}  # dvcall make-examples --indel-reads (see the examples below)
SUPPORT_CHANNEL=${SUPPORT_CHANNEL:-binary}  # dvcall make-examples --support-channel (binary: every shipped version)
COLUMN_FEATURES=${COLUMN_FEATURES:-96}  # dvcall train --column-features (the network's width; 96 in every shipped model)
read -r lo hi < <(python3 -c 'from deepvariant_py.model import COLUMN_FEATURES_RANGE as r; print(*r)')  # train's own bounds
[[ $COLUMN_FEATURES =~ ^[0-9]+$ ]] && (( COLUMN_FEATURES >= lo && COLUMN_FEATURES <= hi )) \
  || { echo "$0: COLUMN_FEATURES must be a whole number from $lo to $hi, not '$COLUMN_FEATURES'" >&2; exit 2; }
MAX_POOLING=${MAX_POOLING:-1}  # 0: dvcall train --no-max-pooling (read features pooled by mean only)
IMBALANCED_SAMPLES=${IMBALANCED_SAMPLES:-1}  # 0: without the two samples of multi-allelic sites at 30-33% balance (versions 2-5)
export IMBALANCED_SAMPLES
for var in CONTAMINATION_CLEAN_ONLY MAX_POOLING IMBALANCED_SAMPLES HG002_SAMPLES; do  # a typo must not silently mean 0
  [[ ${!var:-1} =~ ^[01]$ ]] || { echo "$0: $var must be 0 or 1, not '${!var}'" >&2; exit 2; }
done
[[ $INDEL_READS == overlapping || $INDEL_READS == spanning ]] ||
  { echo "$0: INDEL_READS must be overlapping or spanning, not '$INDEL_READS'" >&2; exit 2; }
[[ $SUPPORT_CHANNEL == binary || $SUPPORT_CHANNEL == other_alts ]] ||
  { echo "$0: SUPPORT_CHANNEL must be binary or other_alts, not '$SUPPORT_CHANNEL'" >&2; exit 2; }
source "$HERE/model_install.sh"
check_model_dest "$MODEL"
export DVCALL_DATA=$DATA
command -v iss > /dev/null || { echo "$0: needs InSilicoSeq for six training samples: pip install insilicoseq" >&2; exit 2; }

dvcall train --check-install || exit 2  # TensorFlow and Keras, in the Python that runs dvcall (after the settings' checks: it imports them, ~5 s)
bash "$HERE/make_training_data.sh" "$WORK/samples"
mkdir -p "$WORK/examples"

# Examples are made with local realignment, ALT-aligned diff channels and --indel-reads $INDEL_READS (the shipped
# model, since version 5: spanning, which leaves out of an indel candidate's pileup the reads that carry none of its alts
# and end inside its repeat; versions 1-4: overlapping, DeepVariant's, see the model card).
# "sample fraction mode": examples across 15-60x (--downsample-fraction); mode "low" lowers the candidate
# thresholds (SNP 0.05, indel 0.03) to add realistic low-fraction false candidates, which simulations lack.
JOBLIST=$WORK/examples/jobs.txt
cat > "$JOBLIST" <<'JOBS'
train_hg001_b37_hs20_60x 1.0 std
train_hg001_b37_hs20_60x 0.5 std
train_hg001_b37_hs20_60x 0.25 std
train_hg001_b37_hs25_40x 1.0 std
train_hg001_b37_hs25_40x 0.5 std
train_hg001_hg19_hs20_50x 1.0 std
train_hg001_hg19_hs20_50x 0.6 std
train_hg001_hg19_hs20_50x 0.3 std
train_grch38_chr20_hs25_45x 1.0 std
train_grch38_chr20_hs25_45x 0.5 std
train_grch38_chr20_hs20_60x 1.0 std
train_grch38_chr20_hs20_60x 0.5 std
train_grch38_chr20_hs20_60x 0.25 std
train_hg001_b37_hs20_60x 0.5 low
train_hg001_hg19_hs20_50x 1.0 low
train_grch38_chr20_hs20_60x 0.5 low
train_grch38_chr20_hs25_45x 1.0 low
train_hg001_hg19_hs20_50x_stutter 1.0 std
train_hg001_hg19_hs20_50x_stutter 0.5 std
train_grch38_chr20_hs20_55x_stutter 1.0 std
train_grch38_chr20_hs20_55x_stutter 0.5 std
train_hg002_grch38_hsxt_40x 1.0 std
train_hg002_grch38_hsxt_40x 0.4 std
train_hg002_grch38_msv3_35x 1.0 std
train_hg002_grch38_msv3_35x 0.5 std
train_hg002_grch38_hsxn_30x_hap40 1.0 std
train_hg002_grch38_hsxn_30x_hap40 1.0 low
train_hg002_grch38_iss_novaseq_35x_h0.5 1.0 std
train_hg002_grch38_iss_novaseq_35x_h0.5 0.5 std
train_hg002_grch38_iss_hiseq_30x_h0.42 1.0 std
train_hg002_grch38_iss_novaseq_30x_h0.5 1.0 std
train_hg002_grch38_iss_novaseq_30x_h0.5 1.0 low
train_hg002_grch38_iss_hiseq_40x_h0.45 1.0 std
train_hg002_grch38_iss_hiseq_40x_h0.45 0.5 std
train_hg002_grch38_iss_miseq_30x_h0.5 1.0 std
train_hg002_grch38_iss_novaseq_20x_h0.38 1.0 std
train_hg002_grch38_hsxt_80x_dup15 1.0 std
train_hg002_grch38_hsxt_80x_dup15 0.125 std
train_hg002_grch38_hsxt_80x_dup15 0.25 low
train_hg002_grch38_hs25_25x_dup20_hap40_stutter 1.0 std
JOBS
if [[ $IMBALANCED_SAMPLES == 1 ]]; then  # two more samples (scripts/make_training_data.sh says which)
  printf '%s\n' "train_hg001_b37_hs25_30x_hap33 1.0 std" "train_hg001_b37_hs25_30x_hap33 0.6 std" \
    "train_hg002_grch38_hsxt_35x_hap30 1.0 std" >> "$JOBLIST"
fi

examples_made_as() {  # examples file $1 exists and was made with --indel-reads $INDEL_READS --support-channel $SUPPORT_CHANNEL
  [[ -s $1.example_info.json ]] && python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['settings']; \
sys.exit((s.get('indel_reads', 'overlapping'), s.get('support_channel', 'binary')) != tuple(sys.argv[2:]))" \
    "$1.example_info.json" "$INDEL_READS" "$SUPPORT_CHANNEL"
}
make_one() {
  local name=$1 frac=$2 mode=$3 dir=$WORK/samples/$1
  local out=$WORK/examples/${name}_f${frac}_${mode}.tfrecord.gz
  # Kept from an earlier run only if made the same way (a sidecar without indel_reads: overlapping; without
  # support_channel: binary).
  examples_made_as "$out" && return 0
  local ref extra=()
  ref=$(python3 -c "import json;print(json.load(open('$dir/sample.json'))['parameters']['ref'])")
  [[ $mode == low ]] && extra=(--vsc-min-fraction-snps 0.05 --vsc-min-fraction-indels 0.03)
  dvcall make-examples --ref "$ref" --reads "$dir/reads.bam" --truth-vcf "$dir/truth.vcf.gz" \
    --confident-bed "$dir/confident.bed" --regions "$dir/confident.bed" \
    --downsample-fraction "$( [[ $frac == 1.0 ]] && echo 0 || echo "$frac")" --examples "$out" "${extra[@]}" \
    --realign --alt-aligned-pileup diff_channels --indel-reads "$INDEL_READS" \
    --support-channel "$SUPPORT_CHANNEL" --quiet
}
export -f make_one examples_made_as
export WORK INDEL_READS SUPPORT_CHANNEL
xargs -P "$JOBS" -L 1 bash -c 'make_one "$0" "$1" "$2"' < "$JOBLIST"

# Tuning set: the held-out simulated sample test_grch38_30x (GRCh38 chr20:8.05-8.35 Mb; only used to pick the
# epoch) at 30x, 15x and 30x with low thresholds (~1,800 examples: 544 could not tell epochs apart). No real
# data is used in training or tuning.
for spec in "1.0 std" "0.5 std" "1.0 low"; do
  set -- $spec
  tune=$WORK/examples/tune_test_grch38_30x_f$1_$2.tfrecord.gz
  if ! examples_made_as "$tune"; then
    make_one test_grch38_30x "$1" "$2"
    mv "$WORK/examples/test_grch38_30x_f$1_$2.tfrecord.gz" "$tune"
    mv "$WORK/examples/test_grch38_30x_f$1_$2.tfrecord.gz.example_info.json" "$tune.example_info.json"
  fi
done
# Plus two allele-imbalanced calibration samples (35% and 38% of reads from haplotype 1; GRCh38 chr20:8.35-8.95 Mb,
# never trained on), so the epoch and the temperature are chosen on hets that are not at exactly 50%.
for name in calib_illumina_grch38_7_HS25_30x_h0.35 calib_illumina_grch38_8_HSXt_40x_h0.38; do
  tune=$WORK/examples/tune_${name}.tfrecord.gz
  if ! examples_made_as "$tune"; then
    make_one "$name" 1.0 std
    mv "$WORK/examples/${name}_f1.0_std.tfrecord.gz" "$tune"
    mv "$WORK/examples/${name}_f1.0_std.tfrecord.gz.example_info.json" "$tune.example_info.json"
  fi
done
TUNE="$WORK/examples/tune_*.tfrecord.gz"
# The shipped model (version 4) trains on all eighteen samples' 40 example sets: version 2's ten with
# BALANCE_MAX_DROP 0.8 (in the ablation of 2026-12-03 they made fewer genotype errors on the calibration samples,
# 119, than the arm without the three HG002 samples, HG002_SAMPLES=0 with 0.6: 139, and version 1: 171), plus
# version 4's eight (InSilicoSeq reads, unmarked PCR duplicates, 80x and 10x; HG002_SAMPLES=0 drops them too).
TRAIN=$(awk -v hg002="${HG002_SAMPLES:-1}" '$1 !~ /^train_hg002/ || hg002 == 1 {printf "%s%s/examples/%s_f%s_%s.tfrecord.gz", sep, w, $1, $2, $3; sep=","}' \
  w="$WORK" "$JOBLIST")

nets=()
for seed in $SEEDS; do
  dvcall train --examples "$TRAIN" --tune-examples "$TUNE" --output "$WORK/model_seed$seed" \
    --epochs "$EPOCHS" --batch-size 256 --augment-qualities "$AUGMENT_QUALITIES" --augment-balance "$AUGMENT_BALANCE" \
    --augment-balance-max-drop "$BALANCE_MAX_DROP" --augment-balance-min-haplotype "$BALANCE_MIN_HAPLOTYPE" --augment-errors "$AUGMENT_ERRORS" \
    --augment-contamination "$AUGMENT_CONTAMINATION" --augment-contamination-max-rate "$CONTAMINATION_MAX_RATE" \
    $( [[ $CONTAMINATION_CLEAN_ONLY == 1 ]] && echo --augment-contamination-clean-only ) \
    --augment-confident-errors "$AUGMENT_CONFIDENT_ERRORS" --augment-confident-errors-max-fraction "$CONFIDENT_ERRORS_MAX_FRACTION" \
    --label-smoothing "$LABEL_SMOOTHING" --seed "$seed" --column-features "$COLUMN_FEATURES" "$( [[ $MAX_POOLING == 0 ]] && echo --no-max-pooling || echo --max-pooling )" \
    ${INIT:+--init-model "$INIT"} ${CHANNELS:+--channels "$CHANNELS"} $([[ $PICK_EPOCH == calib ]] && echo --keep-epochs)
  net=$WORK/model_seed$seed
  if [[ $PICK_EPOCH == calib ]]; then
    python3 "$HERE/pick_epoch.py" --training-dir "$net" --tune-examples "$TUNE" --output "${net}_picked" \
      --json "${net}_picked.json" $(for d in "$WORK"/samples/calib_illumina_*; do echo --sample "$d"; done)
    net=${net}_picked
  fi
  nets+=("$net")
done
rm -rf "$WORK/model"
seeds=($SEEDS)
if (( ${#seeds[@]} > 1 )); then
  dvcall ensemble "${nets[@]/#/--member=}" --output "$WORK/model"
else
  cp -r "${nets[0]}" "$WORK/model"
fi
dvcall train-merger --examples "$TRAIN" --model "$WORK/model"
# GQ calibration: the temperature that fits the tuning set best (stored in model_info.json; calls do not change).
dvcall calibrate --model "$WORK/model" --examples "$TUNE"
# GQ map on the calibration samples (new reads of a region no training or test sample covers).
python3 "$HERE/fit_gq_calibration.py" --model "$WORK/model" --cache "$WORK/gq_fit" \
  $(for d in "$WORK"/samples/calib_illumina_*; do echo --sample "$d"; done)
logs=()
for seed in "${seeds[@]}"; do logs+=("model_seed$seed/training_log.csv=training_log_seed$seed.csv"); done
install_model "$WORK" "$MODEL" model/model.keras model/model_info.json model/merger.keras model/merger_info.json "${logs[@]}"
echo "model written to $MODEL"
