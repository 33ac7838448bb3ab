#!/usr/bin/env bash
# Simulated long-read samples for training and testing dvcall's pacbio-hifi and ont models.
#
# Usage: scripts/make_long_read_data.sh OUTDIR hifi|ont
#   Idempotent (a sample with OUTDIR/<name>/sample.json is skipped). Data come from $DVCALL_DATA (default
#   ../shared/data beside the checkout). Needs: apt-get install samtools bcftools pbsim minimap2.
#
# Each sample: real phased HG001 variants (where the source has them) plus random ones planted into both
# haplotypes, pbsim per haplotype (see LONG_READS in simulate_sample.py), minimap2 -ax map-hifi / map-ont to
# the original reference. Training and tuning samples carry HP tags from the haplotype of origin; the test
# sample is untagged, so it is phased with whatshap (or not at all) exactly as a user's BAM would be.
#   train_<p>_hg001_b37_35x    b37 20:100001-800000, real HG001 + 0.2 SNPs/kb + 0.5 indels/kb, 35x
#   train_<p>_hg001_hg19_30x   hg19 chr20:10200001-11090000 (>= 100 kb from the real evaluation region),
#                              real HG001 + 0.2 SNPs/kb + 0.5 indels/kb, 30x
#   train_<p>_grch38_30x       GRCh38 chr20:2000001-3500000, random 1 SNP/kb + 0.5 indels/kb, 30x
#   train_hifi_grch38{b,c,d}_30x (HiFi only) GRCh38 chr20:100001-2000000, 5200001-7000000, 9200001-9900000,
#                              random 1 SNP/kb + 1 indel/kb (more indels in repeats, hom-alt ones included), 30x
#   tune_<p>_grch38_30x        GRCh38 chr20:8050001-8350000, random, 30x (picks the epoch only)
#   test_<p>_hg001_30x         b37 20:850001-1000000 (the Illumina test region, held out), real HG001 +
#                              0.5 indels/kb, 40% of random sites multi-allelic, 30x, no HP tags
#   test_<p>_grch38_30x        GRCh38 chr20:8350001-8950000 (held out), random 1 SNP/kb + 0.5 indels/kb, 30x,
#                              no HP tags: ~1,000 SNPs, so an F1 near 0.999 means more than "no error at all"
set -euo pipefail
if [[ $# -ne 2 || ! $2 =~ ^(hifi|ont)$ ]]; then
  echo "usage: $0 OUTDIR hifi|ont" >&2
  exit 2
fi
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
P=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in samtools bcftools pbsim minimap2; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install samtools bcftools pbsim minimap2" >&2; exit 2; }
done
SEED=$([[ $P == hifi ]] && echo 40 || echo 50)
mkdir -p "$OUT/logs"

SAMPLE_ARGS=(--platform "$P" --confident-margin 20000)
source "$HERE/sim_common.sh"

sample "train_${P}_hg001_b37_35x" --ref "$B37" --region 20:100001-800000 --truth-source "$HG001_B37" \
  --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 --coverage 35 --seed $((SEED + 1))
sample "train_${P}_hg001_hg19_30x" --ref "$HG19" --region chr20:10200001-11090000 --truth-source "$HG001_HG19" \
  --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 --coverage 30 --seed $((SEED + 2))
sample "train_${P}_grch38_30x" --ref "$GRCH38" --region chr20:2000001-3500000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.5 --coverage 30 --seed $((SEED + 3))
if [[ $P == hifi ]]; then
  sample "train_${P}_grch38b_30x" --ref "$GRCH38" --region chr20:100001-2000000 \
    --random-snps-per-kb 1.0 --random-indels-per-kb 1.0 --coverage 30 --seed $((SEED + 5))
  sample "train_${P}_grch38c_30x" --ref "$GRCH38" --region chr20:5200001-7000000 \
    --random-snps-per-kb 1.0 --random-indels-per-kb 1.0 --coverage 30 --seed $((SEED + 6))
  sample "train_${P}_grch38d_30x" --ref "$GRCH38" --region chr20:9200001-9900000 \
    --random-snps-per-kb 1.0 --random-indels-per-kb 1.0 --coverage 30 --seed $((SEED + 7))
fi
sample "tune_${P}_grch38_30x" --ref "$GRCH38" --region chr20:8050001-8350000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.5 --multiallelic-fraction 0.1 --coverage 30 --seed $((SEED + 4))
sample "test_${P}_hg001_30x" --ref "$B37" --region 20:850001-1000000 --truth-source "$HG001_B37" \
  --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 --coverage 30 --hp-tags none --seed $((SEED + 101))
sample "test_${P}_grch38_30x" --ref "$GRCH38" --region chr20:8350001-8950000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 --coverage 30 --hp-tags none \
  --seed $((SEED + 102))
echo "done: $OUT"
