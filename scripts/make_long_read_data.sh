#!/usr/bin/env bash
# Simulated long-read samples for training and testing dvcall's pacbio-hifi and ont models.
#
# Usage: [ONLY=REGEX] scripts/make_long_read_data.sh OUTDIR hifi|ont
#   Idempotent (a sample with OUTDIR/<name>/sample.json is skipped); ONLY='^(calib|test)_' makes only the
#   samples whose names match. Data come from $DVCALL_DATA (default ../shared/data beside the checkout).
#   Needs: apt-get install samtools bcftools minimap2 (+ pbsim for ont).
#
# HiFi: reads from scripts/long_read_errors.py (real-HiFi-like: ~99.95% accurate at --error-scale 1, errors
# mostly homopolymer length errors), error scales 1-4, 20-40x; real HG002 variants planted in every GRCh38
# sample (real HG001 ones in the b37/hg19 samples) plus random ones; minimap2 -ax map-hifi. ONT: R10.4.1-like
# reads from the same error model (~99.3%) on HG002 variants and pbsim v1 R9.4.1-like reads (93-95%) on HG001
# ones; minimap2 -ax map-ont. Training and tuning samples carry HP tags from the
# haplotype of origin; the test samples are untagged, so `dvcall run` phases them (or not, with
# --no-phase-reads) exactly as it phases a user's BAM. GRCh38 regions avoid the evaluation windows (chr20 4.0-5.15, 7.0-8.0,
# 8.95-9.15 Mb); tuning chr20:8.05-8.35 Mb picks the epoch and, in new reads (calib_*; for ONT also over
# chr20:2.0-3.99 Mb, which no ONT sample covers), fits the GQ map
# (scripts/fit_gq_calibration.py); tests chr20:8.35-8.95 Mb and b37 20:850,001-1,000,000 are held out from all.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; fi  # the header above is the help
if [[ $# -ne 2 || ! $2 =~ ^(hifi|ont)$ ]]; then
  echo "usage: $0 OUTDIR hifi|ont" >&2
  exit 2
fi
P=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in samtools bcftools minimap2 $([[ $P == ont ]] && echo pbsim); do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install samtools bcftools pbsim minimap2" >&2; exit 2; }
done
SEED=$([[ $P == hifi ]] && echo 40 || echo 50)
source "$HERE/sim_common.sh"
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$OUT/logs"

# calibration_samples PLATFORM SCALE [SNPS_PER_KB INDELS_PER_KB FIRST_INDEX]: seven untagged samples at 20-40x,
# error scales 1-3 (x SCALE) and allele balance 35-50%, with random variants planted at these densities (default
# 1.0 and 1.0) on top of the truth source's, numbered from FIRST_INDEX + 1. Where: CAL_REGION (default the tuning
# region chr20:8,050,001-8,350,000, never trained on) of CAL_REF (default GRCh38, named CAL_TAG, default grch38),
# planting CAL_TRUTH's variants (default HG002's; empty: random variants only). CAL_PREFIX=test with the test region
# makes held-out samples at the same conditions (seeded SEED + CAL_SEED + number; CAL_SEED default 200).
calibration_samples() {
  local platform=$1 scale=$2 snps=${3:-1.0} indels=${4:-1.0} i=${5:-0} cov es hf
  local region=${CAL_REGION:-chr20:8050001-8350000} ref=${CAL_REF:-$GRCH38} tag=${CAL_TAG:-grch38}
  local prefix=${CAL_PREFIX:-calib} seed0=${CAL_SEED:-200}
  local truth=(--truth-source "${CAL_TRUTH-$HG002_GRCH38}")
  [[ -n ${truth[1]} ]] || truth=()
  for spec in 20:1:0.5 30:1.5:0.5 40:1:0.5 25:2:0.45 20:3:0.5 30:2.5:0.4 25:1.5:0.35; do
    IFS=: read -r cov es hf <<< "$spec"
    i=$((i + 1))
    es=$(python3 -c "print(round($es * $scale, 2))")
    sample ${prefix}_${platform}_${tag}_${i}_${cov}x_e${es}_h${hf} --platform "$platform" --ref "$ref" \
      --region "$region" "${truth[@]}" --random-snps-per-kb "$snps" \
      --random-indels-per-kb "$indels" --multiallelic-fraction 0.1 --coverage "$cov" --error-scale "$es" \
      --haplotype-fraction "$hf" --hp-tags none --seed $((SEED + seed0 + i))
  done
}

# r9_calibration_samples SNPS_PER_KB INDELS_PER_KB FIRST_INDEX SEED_OFFSET: two untagged R9.4.1-like samples of
# CAL_REGION (default the tuning region) on HG002's variants, 30x and 45x (haplotype 1 at 40%), numbered from
# FIRST_INDEX + 1, seeded SEED + SEED_OFFSET + their number.
r9_calibration_samples() {
  local snps=$1 indels=$2 i=$3 seed0=$4 region=${CAL_REGION:-chr20:8050001-8350000} spec cov hf
  for spec in 30:0.5 45:0.4; do
    IFS=: read -r cov hf <<< "$spec"
    i=$((i + 1))
    sample calib_ont-r9_grch38_${i}_${cov}x --platform ont-r9 --ref "$GRCH38" --region "$region" \
      --truth-source "$HG002_GRCH38" --random-snps-per-kb "$snps" --random-indels-per-kb "$indels" \
      --multiallelic-fraction 0.1 --coverage "$cov" --haplotype-fraction "$hf" --hp-tags none --seed $((SEED + seed0 + i))
  done
}

if [[ $P == hifi ]]; then
  # Real HiFi-like reads (long_read_errors.py: ~99.95% at --error-scale 1, errors mostly homopolymer
  # length errors); error scales 1-4 and 20-40x so the model sees noisier runs too. Real HG002 variants
  # (GIAB v4.2.1, evaluation windows removed) planted in every GRCh38 sample, plus random ones.
  SAMPLE_ARGS=(--platform hifi --confident-margin 20000)
  sample train_hifi_hg001_b37_35x --ref "$B37" --region 20:100001-800000 --truth-source "$HG001_B37" \
    --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 --coverage 35 --seed $((SEED + 1))
  sample train_hifi_hg001_hg19_30x --ref "$HG19" --region chr20:10200001-11090000 --truth-source "$HG001_HG19" \
    --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 --coverage 30 --error-scale 2 --seed $((SEED + 2))
  sample train_hifi_hg002_a_30x --ref "$GRCH38" --region chr20:100001-2000000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 1.0 --random-indels-per-kb 1.0 --coverage 30 --seed $((SEED + 3))
  sample train_hifi_hg002_b_25x --ref "$GRCH38" --region chr20:2000001-3990000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --coverage 25 --error-scale 2.5 --seed $((SEED + 4))
  sample train_hifi_hg002_c_35x --ref "$GRCH38" --region chr20:5200001-7000000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 1.0 --random-indels-per-kb 1.0 --coverage 35 --seed $((SEED + 5))
  sample train_hifi_hg002_d_20x --ref "$GRCH38" --region chr20:9200001-9990000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 1.0 --random-indels-per-kb 1.0 --coverage 20 --error-scale 4 --seed $((SEED + 6))
  sample train_hifi_hg002_e_40x --ref "$GRCH38" --region chr20:100001-2000000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --coverage 40 --error-scale 3 --haplotype-fraction 0.4 \
    --seed $((SEED + 7))
  sample train_hifi_hg002_f_30x --ref "$GRCH38" --region chr20:5200001-7000000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --coverage 30 --error-scale 1.5 --haplotype-fraction 0.45 \
    --seed $((SEED + 8))
  sample tune_hifi_grch38_30x --ref "$GRCH38" --region chr20:8050001-8350000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --multiallelic-fraction 0.1 --coverage 30 --error-scale 1.5 \
    --seed $((SEED + 9))
  # GQ calibration (scripts/fit_gq_calibration.py): new reads over the tuning region, untagged like a user's
  # BAM, at the coverages, error scales and allele balances users have, so the map sees enough errors.
  calibration_samples hifi 1.0
  # and the same conditions at a real genome's variant density (HG002's own variants, ~1.2 per kb, plus 0.3
  # random indels per kb; the seven above carry ~3.2 per kb, so their crowded het SNPs err more at a GQ).
  calibration_samples hifi 1.0 0.0 0.3 7
  # held out, untagged (phased by whatshap or not at all, as a user's BAM would be)
  sample test_hifi_hg001_30x --ref "$B37" --region 20:850001-1000000 --truth-source "$HG001_B37" \
    --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 --coverage 30 --hp-tags none --seed $((SEED + 101))
  sample test_hifi_grch38_30x --ref "$GRCH38" --region chr20:8350001-8950000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 --coverage 30 --hp-tags none \
    --seed $((SEED + 102))
  sample test_hifi_grch38_20x --ref "$GRCH38" --region chr20:8350001-8950000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 --coverage 20 --hp-tags none \
    --seed $((SEED + 103))
  # noisier held-out reads (the calibration samples' harder end): the three above are error scale 1 and balanced,
  # so their few errors all sit at GQ < 10 and no GQ bin above it can be judged
  sample test_hifi_grch38_25x_e2.5_h0.4 --ref "$GRCH38" --region chr20:8350001-8950000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 --coverage 25 --error-scale 2.5 \
    --haplotype-fraction 0.4 --hp-tags none --seed $((SEED + 104))
  sample test_hifi_grch38_20x_e3_h0.45 --ref "$GRCH38" --region chr20:8350001-8950000 --truth-source "$HG002_GRCH38" \
    --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 --coverage 20 --error-scale 3 \
    --haplotype-fraction 0.45 --hp-tags none --seed $((SEED + 105))
  # and the seven calibration conditions, held out, so that GQ's top bins predict enough errors to be read
  CAL_PREFIX=test CAL_SEED=300 CAL_REGION=chr20:8350001-8950000 calibration_samples hifi 1.0 0.5 0.5
  echo "done: $OUT"
  exit 0
fi

# ONT: R10.4.1-like reads (long_read_errors.py, ~99.3% at --error-scale 1, homopolymer errors, deletion
# bias) on real HG002 variants, and R9.4.1-like pbsim reads (93-95%) on real HG001 ones, so that one model
# serves both chemistries.
SAMPLE_ARGS=(--confident-margin 20000)
sample train_ont_r10_hg002_a_30x --platform ont --ref "$GRCH38" --region chr20:100001-2000000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --coverage 30 --seed $((SEED + 1))
sample train_ont_r10_hg002_c_40x --platform ont --ref "$GRCH38" --region chr20:5200001-7000000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --coverage 40 --error-scale 1.5 \
  --haplotype-fraction 0.45 --seed $((SEED + 2))
sample train_ont_r10_hg002_d_25x --platform ont --ref "$GRCH38" --region chr20:9200001-9990000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --coverage 25 --error-scale 0.7 \
  --seed $((SEED + 3))
sample train_ont_r9_hg001_b37_35x --platform ont-r9 --ref "$B37" --region 20:100001-800000 --truth-source "$HG001_B37" \
  --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 --coverage 35 --seed $((SEED + 4))
sample train_ont_r9_hg001_hg19_30x --platform ont-r9 --ref "$HG19" --region chr20:10200001-11090000 \
  --truth-source "$HG001_HG19" --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 --coverage 30 --seed $((SEED + 5))
sample tune_ont_r10_grch38_30x --platform ont --ref "$GRCH38" --region chr20:8050001-8350000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.1 \
  --coverage 30 --seed $((SEED + 6))
# R10.4.1 reads are 98.5-99.5% accurate: error scales 0.7-2.1; and two R9.4.1-like samples (pbsim, ~94%)
calibration_samples ont 0.7
r9_calibration_samples 1.0 1.0 0 210
# The same conditions over chr20:2.0-3.99 Mb, which no ONT training, tuning or test sample covers, so the GQ map
# sees more distinct loci than one region's replicates (random variants at the training samples' density).
CAL_REGION=chr20:2000001-3990000 calibration_samples ont 0.7 0.5 0.5 20
CAL_REGION=chr20:2000001-3990000 r9_calibration_samples 0.5 0.5 27 200
# held out, untagged
sample test_ont_r10_grch38_30x --platform ont --ref "$GRCH38" --region chr20:8350001-8950000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
  --coverage 30 --hp-tags none --seed $((SEED + 101))
sample test_ont_r9_hg001_30x --platform ont-r9 --ref "$B37" --region 20:850001-1000000 --truth-source "$HG001_B37" \
  --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 --coverage 30 --hp-tags none --seed $((SEED + 102))
# R9-like reads over the 600 kb held-out GRCh38 stretch: ~700 SNPs, so one SNP error costs 0.0007 of F1
# (the b37 sample's 92 SNPs in its confident BED cannot resolve 0.995)
sample test_ont_r9_grch38_30x --platform ont-r9 --ref "$GRCH38" --region chr20:8350001-8950000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
  --coverage 30 --hp-tags none --seed $((SEED + 103))
# noisier R10 reads (98.8%), haplotype 1 at 40%: the calibration samples' harder end, held out
sample test_ont_r10_grch38_20x_e1.75_h0.4 --platform ont --ref "$GRCH38" --region chr20:8350001-8950000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
  --coverage 20 --error-scale 1.75 --haplotype-fraction 0.4 --hp-tags none --seed $((SEED + 104))
# and the seven R10 calibration conditions, held out, so that GQ's top bins predict enough errors to be read
CAL_PREFIX=test CAL_SEED=300 CAL_REGION=chr20:8350001-8950000 calibration_samples ont 0.7 0.5 0.5
echo "done: $OUT"
