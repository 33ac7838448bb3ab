#!/usr/bin/env bash
# Simulated HiFi + Illumina pairs for training and testing dvcall's hybrid model (--model-type hybrid).
#
# Usage: [ONLY=REGEX] scripts/make_hybrid_data.sh OUTDIR
#   Each pair is two samples, NAME_hifi and NAME_illumina, simulated by simulate_sample.py with the same seed,
#   region, truth source and random-variant rates, so both read sets come from the same two haplotypes (the
#   variants are planted before any read is drawn; their truth.vcf.gz files are identical, which this script
#   checks). HiFi reads from long_read_errors.py (real-HiFi-like, homopolymer length errors) at error scales
#   1-2.5, Illumina 2x150 from ART (HS25, HiSeq X TruSeq / PCR-free), each at 15-35x. Real HG002 variants
#   (GIAB v4.2.1, evaluation windows removed) plus random ones. Idempotent like make_long_read_data.sh.
#   Needs: apt-get install samtools bcftools minimap2 bwa art-nextgen-simulation-tools.
# Regions avoid the evaluation windows (GRCh38 chr20 4.0-5.15, 7.0-8.0, 8.95-9.15 Mb): training as the HiFi
# model's, tuning chr20:8.05-8.35 Mb (and, in new untagged reads, the GQ calibration pairs calib_hybrid_*), the
# held-out test pair chr20:8.35-8.95 Mb (untagged HiFi, as a user's).
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; fi  # the header above is the help
if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in samtools bcftools minimap2 bwa art_illumina; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install samtools bcftools minimap2 bwa art-nextgen-simulation-tools" >&2; exit 2; }
done
SAMPLE_ARGS=(--confident-margin 20000)
source "$HERE/sim_common.sh"
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$OUT/logs"
SEED=60

# pair NAME HIFI_COVERAGE HIFI_ERROR_SCALE ILLUMINA_COVERAGE ILLUMINA_PROFILE HP_TAGS ARGS...: both samples of a pair
pair() {
  local name=$1 hifi_cov=$2 scale=$3 ill_cov=$4 profile=$5 tags=$6
  shift 6
  sample "${name}_hifi" --platform hifi --coverage "$hifi_cov" --error-scale "$scale" --hp-tags "$tags" "$@"
  sample "${name}_illumina" --platform illumina --coverage "$ill_cov" --profile "$profile" --read-length 150 "$@"
  for side in hifi illumina; do [[ -s $OUT/${name}_$side/truth.vcf.gz ]] || return 0; done  # ONLY skipped one
  if ! cmp -s <(bcftools view -H "$OUT/${name}_hifi/truth.vcf.gz") <(bcftools view -H "$OUT/${name}_illumina/truth.vcf.gz"); then
    echo "error: ${name}_hifi and ${name}_illumina have different truth sets: simulate_sample.py no longer plants the same variants for the same seed" >&2
    exit 1
  fi
}

pair train_hybrid_a 20 1 25 HS25 truth --ref "$GRCH38" --region chr20:100001-1500000 --truth-source "$HG002_GRCH38" \
  --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --seed $((SEED + 1))
pair train_hybrid_b 30 2 20 HSXt truth --ref "$GRCH38" --region chr20:2000001-3400000 --truth-source "$HG002_GRCH38" \
  --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --seed $((SEED + 2))
pair train_hybrid_c 15 1.5 35 HSXn truth --ref "$GRCH38" --region chr20:5200001-6600000 --truth-source "$HG002_GRCH38" \
  --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --haplotype-fraction 0.45 --seed $((SEED + 3))
pair train_hybrid_d 35 2.5 15 HS25 truth --ref "$GRCH38" --region chr20:9200001-9990000 --truth-source "$HG002_GRCH38" \
  --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --seed $((SEED + 4))
pair tune_hybrid 20 1.5 20 HSXt truth --ref "$GRCH38" --region chr20:8050001-8350000 --truth-source "$HG002_GRCH38" \
  --random-snps-per-kb 0.5 --random-indels-per-kb 1.0 --multiallelic-fraction 0.1 --seed $((SEED + 5))
# GQ calibration (scripts/fit_gq_calibration.py): untagged HiFi as a user's, HiFi error scales 1-2. Pairs 1-4: new
# reads over the tuning region, 15-35x per technology; 5-8: the stretches of chr20:1-10 Mb that neither the hybrid
# training pairs nor the evaluation windows touch (other variants), 10-20x per technology, where a model errs more
# often and the map's middle bins get calls to fit on.
for spec in 1:20:1:20:HS25:8050001-8350000 2:30:1.5:15:HSXt:8050001-8350000 3:15:1:35:HSXn:8050001-8350000 \
    4:25:2:25:HS25:8050001-8350000 5:15:1.5:15:HSXt:1500001-2000000 6:10:1:20:HS25:3400001-3990000 \
    7:20:2:10:HSXn:6600001-6990000 8:12:1:12:HS25:1500001-2000000; do
  IFS=: read -r i hc es ic prof span <<< "$spec"
  pair calib_hybrid_${i} "$hc" "$es" "$ic" "$prof" none --ref "$GRCH38" --region "chr20:$span" \
    --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.1 \
    --seed $((SEED + 200 + i))
done
# held out, HiFi 20x untagged (phased by whatshap for the HiFi-only rows, as a user's BAM) + Illumina 20x over one
# span, each pair with its own reads and random variants: test_hybrid_grch38_20x (HS25, HiFi error scale 1); _b
# (HiSeq X TruSeq, 1.5); _c (HiSeq X PCR-free, 1), made before a model with other settings was compared
for spec in :1:HS25:101 _b:1.5:HSXt:102 _c:1:HSXn:103; do
  IFS=: read -r suffix es prof seed <<< "$spec"
  pair "test_hybrid_grch38_20x$suffix" 20 "$es" 20 "$prof" none --ref "$GRCH38" --region chr20:8350001-8950000 \
    --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
    --seed $((SEED + seed))
done
echo "done: $OUT"
