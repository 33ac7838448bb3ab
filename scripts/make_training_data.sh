#!/usr/bin/env bash
# Regenerate dvcall's simulated training set and held-out simulated test samples.
#
# Usage: scripts/make_training_data.sh OUTDIR
#   Idempotent: a sample whose OUTDIR/<name>/sample.json exists is skipped, so an
#   interrupted run can be resumed. Data come from $DVCALL_DATA (default
#   ../shared/data beside the checkout). Each sample is made by scripts/simulate_sample.py; see its
#   --help. Runs nice'd with 2 threads; about 16 minutes on 2 cores (six InSilicoSeq samples need pip install insilicoseq;
#   five NEAT samples need `neat` on PATH, see simulate_sample.py --help; each set is skipped with a note when missing).
#
# Plan (regions are 1-based inclusive; all samples are diploid, 2x ART paired-end,
# fragments 350 +- 50 bp, bwa mem to the full original reference):
#   train_hg001_b37_hs20_60x     b37 20:100001-800000, real HG001 GIAB v3.3.2 variants
#                                + 0.2 SNPs/kb + 0.5 indels/kb random, HS20 2x100, 60x,
#                                decoy GRCh38 chr20:1.6-3.6 Mb at 6x (see Decoys)
#   train_hg001_b37_hs25_40x     same region and real variants, other random variants
#                                and reads: HS25 2x150, 40x, same decoy at 4x
#   train_hg001_hg19_hs20_50x    hg19 chr20:10200001-11090000 (>=100 kb away from the
#                                real evaluation region chr20:10.0-10.1 Mb), real HG001
#                                variants + 0.2 SNPs/kb + 0.5 indels/kb, HS20 2x100,
#                                50x, same decoy at 5x
#   train_grch38_chr20_hs25_45x  GRCh38 chr20:2000001-3500000, random only: 1 SNP/kb,
#                                0.4 indels/kb, HS25 2x150, 45x, no decoy
#   train_grch38_chr20_hs20_60x  GRCh38 chr20:100001-1600000, random only: 1 SNP/kb,
#                                0.5 indels/kb, HS20 2x100, 60x, decoy hg19
#                                chr20:59776001-60001000 at 60x (not in the GRCh38 file)
#   test_hg001_30x   (held out)  b37 20:850001-1000000, real HG001 variants + 0.5
#                                random indels/kb, 40% of random sites multi-allelic
#                                (>= 30 multi-allelic sites in all), HS25 2x150, 30x
#   test_grch38_30x  (held out)  GRCh38 chr20:8050001-8350000, random 1 SNP/kb +
#                                0.5 indels/kb, 10% multi-allelic, HS20 2x100, 30x
# Stutter samples (--stutter 1.0: realistic polymerase slippage, +-1/+-2 units in
# homopolymers and STRs, which ART lacks; see simulate_sample.py):
#   train_hg001_hg19_hs20_50x_stutter   as train_hg001_hg19_hs20_50x (other random
#                                variants and reads, seed 33) + stutter
#   train_grch38_chr20_hs20_55x_stutter GRCh38 chr20:5600001-6900000, random only:
#                                1 SNP/kb, 0.6 indels/kb, HS20 2x100, 55x, decoy hg19
#                                chr20:59776001-60001000 at 55x, + stutter
#   test_hg001_30x_stutter (held out) as test_hg001_30x (seed 103) + stutter
# Rules: no training region overlaps a test region; the project's evaluation windows are never
# used, not even as decoy: b37/hg19 chr20:10,000,000-10,100,000 and GRCh38 chr20:4,000,000-
# 5,150,000, 7,000,000-8,000,000 and 8,950,000-9,150,000 (simulate_sample.py refuses them).
# Real HG002 variants and other instruments (training): train_hg002_grch38_hsxt_40x (GRCh38
# chr20:9200001-9900000, HiSeq X TruSeq 2x150, 40x), train_hg002_grch38_msv3_35x (5200001-5550000,
# MiSeq v3 2x250, 35x, stutter), train_hg002_grch38_hsxn_30x_hap40 (3600001-3990000, HiSeq X
# PCR-free 2x150, 30x, 40% of reads from haplotype 1): GIAB v4.2.1 HG002 variants planted.
# Robustness (held out): test_hg001_30x_hap35, as test_hg001_30x (seed 104) with 35% of the
# reads from haplotype 1; benchmarks/accuracy.py --robustness also bins and shifts the
# qualities of each test sample (scripts/transform_qualities.py). Random indels are 1-15 bp, 80% in
# homopolymers/STRs. Coverage downsampling is done later by the caller, so one BAM
# per sample suffices.
# Calibration table (held out): six test_cal_* samples, new reads of the two test regions at other
# instruments, coverages, balances and stutter, read only by benchmarks/calibration.py.
# Decoys: reads from sequence that is absent from the alignment reference, so some
# mis-map into repeats and make realistic false candidates. Because the reference is
# only ~1 Mb, every decoy Alu/L1 read lands on the region's few copies: a 2-3 Mb decoy
# at the sample's full depth left >50% of the region under 15x+ of decoy reads
# (measured). We therefore keep decoy bases at ~0.15-0.3x of the sample's bases;
# simulate_sample.py still drops the remaining heavy piles (decoy depth > 25% of
# coverage, typically paralogs) from confident.bed, as GIAB does for such places.
# (The GRCh38 chr21 first 10 Mb, suggested at first, is pericentromeric segmental
# duplication and stacked onto half of b37 20:0.1-0.8 Mb, so it is not used.)
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0; fi  # the header above is the help

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
IMBALANCED_SAMPLES=${IMBALANCED_SAMPLES:-1}  # 0: without the two imbalanced multi-allelic samples (see below)
[[ $IMBALANCED_SAMPLES =~ ^[01]$ ]] || { echo "$0: IMBALANCED_SAMPLES must be 0 or 1, not '$IMBALANCED_SAMPLES'" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SAMPLE_ARGS=()
source "$HERE/sim_common.sh"
OUT=$(mkdir -p "$1" && cd "$1" && pwd)

# Decoys: sequence absent from the alignment reference, so some reads mis-map.
mkdir -p "$OUT/refs" "$OUT/logs"
DECOY_GRCH38=$OUT/refs/decoy_grch38_chr20_1.6-3.6Mb.fa
DECOY_HG19=$OUT/refs/decoy_hg19_chr20_59.776-60.001Mb.fa
[[ -s $DECOY_GRCH38 ]] || samtools faidx "$GRCH38" chr20:1600001-3600000 > "$DECOY_GRCH38"
[[ -s $DECOY_HG19 ]] || samtools faidx "$HG19" chr20:59776001-60001000 > "$DECOY_HG19"

TIMES=$OUT/timings.tsv
[[ -s $TIMES ]] || printf 'sample\twall_s\n' > "$TIMES"

T0=$SECONDS
sample train_hg001_b37_hs20_60x --ref "$B37" --region 20:100001-800000 \
  --truth-source "$HG001_B37" --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 \
  --profile HS20 --read-length 100 --coverage 60 \
  --decoy-fa "$DECOY_GRCH38" --decoy-coverage 6 --seed 11
sample train_hg001_b37_hs25_40x --ref "$B37" --region 20:100001-800000 \
  --truth-source "$HG001_B37" --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 \
  --profile HS25 --read-length 150 --coverage 40 \
  --decoy-fa "$DECOY_GRCH38" --decoy-coverage 4 --seed 12
sample train_hg001_hg19_hs20_50x --ref "$HG19" --region chr20:10200001-11090000 \
  --truth-source "$HG001_HG19" --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 \
  --profile HS20 --read-length 100 --coverage 50 \
  --decoy-fa "$DECOY_GRCH38" --decoy-coverage 5 --seed 13
sample train_grch38_chr20_hs25_45x --ref "$GRCH38" --region chr20:2000001-3500000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.4 \
  --profile HS25 --read-length 150 --coverage 45 --seed 21
sample train_grch38_chr20_hs20_60x --ref "$GRCH38" --region chr20:100001-1600000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.5 \
  --profile HS20 --read-length 100 --coverage 60 \
  --decoy-fa "$DECOY_HG19" --decoy-coverage 60 --seed 22
sample test_hg001_30x --ref "$B37" --region 20:850001-1000000 \
  --truth-source "$HG001_B37" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
  --profile HS25 --read-length 150 --coverage 30 --seed 101
sample test_grch38_30x --ref "$GRCH38" --region chr20:8050001-8350000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.5 --multiallelic-fraction 0.1 \
  --profile HS20 --read-length 100 --coverage 30 --seed 102
sample train_hg001_hg19_hs20_50x_stutter --ref "$HG19" --region chr20:10200001-11090000 \
  --truth-source "$HG001_HG19" --random-snps-per-kb 0.2 --random-indels-per-kb 0.5 \
  --profile HS20 --read-length 100 --coverage 50 \
  --decoy-fa "$DECOY_GRCH38" --decoy-coverage 5 --stutter 1.0 --seed 33
sample train_grch38_chr20_hs20_55x_stutter --ref "$GRCH38" --region chr20:5600001-6900000 \
  --random-snps-per-kb 1.0 --random-indels-per-kb 0.6 \
  --profile HS20 --read-length 100 --coverage 55 \
  --decoy-fa "$DECOY_HG19" --decoy-coverage 55 --stutter 1.0 --seed 34
sample test_hg001_30x_stutter --ref "$B37" --region 20:850001-1000000 \
  --truth-source "$HG001_B37" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
  --profile HS25 --read-length 150 --coverage 30 --stutter 1.0 --seed 103
# Real HG002 variants (GIAB v4.2.1) on GRCh38 and two more instruments' error profiles:
sample train_hg002_grch38_hsxt_40x --ref "$GRCH38" --region chr20:9200001-9900000 \
  --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.2 \
  --profile HSXt --read-length 150 --coverage 40 --seed 41
sample train_hg002_grch38_msv3_35x --ref "$GRCH38" --region chr20:5200001-5550000 \
  --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.2 \
  --profile MSv3 --read-length 250 --coverage 35 --stutter 1.0 --seed 42
sample train_hg002_grch38_hsxn_30x_hap40 --ref "$GRCH38" --region chr20:3600001-3990000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.3 --random-indels-per-kb 0.3 \
  --profile HSXn --read-length 150 --coverage 30 --haplotype-fraction 0.4 --seed 43
sample test_hg001_30x_hap35 --ref "$B37" --region 20:850001-1000000 \
  --truth-source "$HG001_B37" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
  --profile HS25 --read-length 150 --coverage 30 --haplotype-fraction 0.35 --seed 104
# A larger held-out pair for the robustness rows (the 150 kb samples above hold 157 SNPs, so one SNP error
# there is F1 0.9968 and a bar of 0.998 cannot be read): GRCh38 chr20:1600001-2000000 (no Illumina sample
# is labelled there; hg001 samples' decoy reads come from GRCh38 1.6-3.6 Mb), real HG002 variants (~540 SNPs,
# ~70 indels in the confident BED) + random indels as in test_hg001_30x, balanced and at 35% haplotype 1.
sample test_hg002_grch38_30x --ref "$GRCH38" --region chr20:1600001-2000000 \
  --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
  --profile HS25 --read-length 150 --coverage 30 --seed 105
sample test_hg002_grch38_30x_hap35 --ref "$GRCH38" --region chr20:1600001-2000000 \
  --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
  --profile HS25 --read-length 150 --coverage 30 --haplotype-fraction 0.35 --seed 106
# The same region from a read simulator other than ART (held out; illumina-wgs versions 4 and 5 train on other
# InSilicoSeq samples, of other regions, below):
# InSilicoSeq's error models, fitted on real runs: NovaSeq (2x151, four binned qualities) and HiSeq (2x126,
# qualities mostly 20-35). Needs `pip install insilicoseq`; skipped with a note when it is missing.
if command -v iss > /dev/null; then
  for model in NovaSeq HiSeq; do
    sample test_hg002_grch38_30x_iss_${model,,} --ref "$GRCH38" --region chr20:1600001-2000000 \
      --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
      --read-simulator insilicoseq --iss-model "$model" --coverage 30 --seed $([[ $model == NovaSeq ]] && echo 107 || echo 108)
  done
else
  echo "note: iss (InSilicoSeq) not installed, test_hg002_grch38_30x_iss_* skipped: pip install insilicoseq" >&2
fi
# And from a third simulator that no model trains on, NEAT v4 (its default error model: qualities drawn per base,
# ~Q20-42): 2x150 at 30x, and 2x100 at 20x with haplotype 1 at 40% of the reads. Needs `neat` on PATH
# (simulate_sample.py --help: NEAT pins pysam < 0.24, so it lives in a venv of its own); skipped when missing.
if command -v neat > /dev/null; then
  sample test_hg002_grch38_30x_neat --ref "$GRCH38" --region chr20:1600001-2000000 \
    --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
    --read-simulator neat --read-length 150 --coverage 30 --seed 109
  sample test_hg002_grch38_20x_neat_100bp_hap40 --ref "$GRCH38" --region chr20:1600001-2000000 \
    --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
    --read-simulator neat --read-length 100 --coverage 20 --haplotype-fraction 0.4 --seed 110
  # tuning samples of the same simulator (the calibration region, chr20:8.35-8.95 Mb): make_examples' recurrent-error
  # gate (docs/design.md §2.2) was chosen on them and the calib_illumina_* samples
  for spec in 1:100:20:0.4 2:150:15:0.5 3:150:30:0.45; do
    IFS=: read -r i length cov hf <<< "$spec"
    sample calib_neat_grch38_${i}_${length}bp_${cov}x_h${hf} --ref "$GRCH38" --region chr20:8350001-8950000 \
      --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.1 \
      --read-simulator neat --read-length "$length" --coverage "$cov" --haplotype-fraction "$hf" --seed $((300 + i))
  done
else
  echo "note: neat (NEAT) not installed, test_hg002_grch38_*_neat* and calib_neat_* skipped: see scripts/simulate_sample.py --help" >&2
fi
# Training reads not from ART, unmarked PCR duplicates and the coverage extremes (10x, 80x): six InSilicoSeq
# samples (error models fitted on real NovaSeq, HiSeq and MiSeq runs), real HG002 variants + random ones (20% of
# random sites multi-allelic), haplotype balance 38-50%, training regions only; then two ART samples with 15% and
# 20% of the pairs PCR duplicates of others (simulate_sample.py --duplicate-fraction).
if command -v iss > /dev/null; then
  for spec in chr20:5200001-5550000:NovaSeq:35:0.5:61 chr20:9200001-9600000:HiSeq:30:0.42:62 \
      chr20:100001-1000000:NovaSeq:30:0.5:63 chr20:2000001-2600000:HiSeq:40:0.45:64 \
      chr20:5600001-6200000:MiSeq:30:0.5:65 chr20:9600001-9900000:NovaSeq:20:0.38:66; do
    IFS=: read -r contig span model cov hf seed <<< "$spec"
    sample train_hg002_grch38_iss_${model,,}_${cov}x_h${hf} --ref "$GRCH38" --region "$contig:$span" \
      --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.3 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
      --read-simulator insilicoseq --iss-model "$model" --coverage "$cov" --haplotype-fraction "$hf" --seed "$seed"
  done
else
  echo "note: iss (InSilicoSeq) not installed, train_hg002_grch38_iss_* skipped: pip install insilicoseq" >&2
fi
sample train_hg002_grch38_hsxt_80x_dup15 --ref "$GRCH38" --region chr20:2600001-3100000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.3 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
  --profile HSXt --read-length 150 --coverage 80 --duplicate-fraction 0.15 --seed 67
sample train_hg002_grch38_hs25_25x_dup20_hap40_stutter --ref "$GRCH38" --region chr20:6200001-6900000 \
  --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.3 --random-indels-per-kb 0.5 --multiallelic-fraction 0.2 \
  --profile HS25 --read-length 150 --coverage 25 --duplicate-fraction 0.2 --haplotype-fraction 0.4 --stutter 1.0 \
  --seed 68
# Multi-allelic sites whose second allele has few reads, without stutter (since illumina-wgs version 6;
# IMBALANCED_SAMPLES=0 leaves them out, as versions 2-5 were): 40% of the random sites multi-allelic, as in the
# held-out test samples, one haplotype at 30-33% of the reads, training regions only.
if [[ $IMBALANCED_SAMPLES == 1 ]]; then
  sample train_hg001_b37_hs25_30x_hap33 --ref "$B37" --region 20:100001-800000 \
    --truth-source "$HG001_B37" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
    --profile HS25 --read-length 150 --coverage 30 --haplotype-fraction 0.33 --seed 71
  sample train_hg002_grch38_hsxt_35x_hap30 --ref "$GRCH38" --region chr20:5600001-6200000 \
    --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
    --profile HSXt --read-length 150 --coverage 35 --haplotype-fraction 0.3 --seed 72
fi
# GQ calibration (scripts/fit_gq_calibration.py): real HG002 variants over GRCh38 chr20:8.35-8.95 Mb, a region
# in no Illumina training or test sample, at the instruments, coverages and allele balances users have.
i=0
for spec in HS25:150:30:0.5 HSXt:150:20:0.5 HS20:100:45:0.45 HS25:150:25:0.4 HSXn:150:35:0.5 MSv3:250:30:0.45 \
    HS25:150:30:0.35 HSXt:150:40:0.38; do
  IFS=: read -r profile length cov hf <<< "$spec"
  i=$((i + 1))
  sample calib_illumina_grch38_${i}_${profile}_${cov}x_h${hf} --ref "$GRCH38" --region chr20:8350001-8950000 \
    --truth-source "$HG002_GRCH38" --random-snps-per-kb 0.5 --random-indels-per-kb 0.5 --multiallelic-fraction 0.1 \
    --profile "$profile" --read-length "$length" --coverage "$cov" --haplotype-fraction "$hf" --seed $((200 + i))
done
# More GQ calibration, with what the eight above lack: PCR stutter and many multi-allelic repeat indels (random
# indels 0.5/kb, 40% of them multi-allelic, as in the held-out test samples), over GRCh38 chr20:8050001-8350000
# (the epoch-tuning region: tuning data, in no training or test sample).
for spec in HS25:150:30:0.5:1.0 HSXt:150:30:0.35:0.0 HS20:100:40:0.42:1.0 HSXn:150:25:0.5:0.0; do
  IFS=: read -r profile length cov hf stutter <<< "$spec"
  i=$((i + 1))
  sample calib_illumina_grch38_${i}_${profile}_${cov}x_h${hf}_s${stutter} --ref "$GRCH38" --region chr20:8050001-8350000 \
    --truth-source "$HG002_GRCH38" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 --stutter "$stutter" \
    --profile "$profile" --read-length "$length" --coverage "$cov" --haplotype-fraction "$hf" --seed $((200 + i))
done
# More held-out samples for the calibration table only (benchmarks/calibration.py; never trained, tuned or fitted
# on): new reads of the two test regions at other instruments, coverages, balances and stutter, so that the GQ
# bins hold enough calls to read the error rate (the five test samples above predict ~2 errors in GQ 20-30).
for spec in GRCH38:HSXt:150:25:0.5:0.0 GRCH38:HS20:100:40:0.42:0.0 GRCH38:MSv3:250:30:0.45:1.0 GRCH38:HSXn:150:20:0.38:0.0 \
    B37:HSXt:150:35:0.5:0.0 B37:HS20:100:30:0.4:1.0; do
  IFS=: read -r build profile length cov hf stutter <<< "$spec"
  i=$((i + 1))
  if [[ $build == GRCH38 ]]; then
    where=(--ref "$GRCH38" --region chr20:1600001-2000000 --truth-source "$HG002_GRCH38"); stem=test_cal_hg002_grch38
  else
    where=(--ref "$B37" --region 20:850001-1000000 --truth-source "$HG001_B37"); stem=test_cal_hg001_b37
  fi
  sample ${stem}_${profile}_${cov}x_h${hf}_s${stutter} "${where[@]}" --random-indels-per-kb 0.5 --multiallelic-fraction 0.4 \
    --stutter "$stutter" --profile "$profile" --read-length "$length" --coverage "$cov" --haplotype-fraction "$hf" \
    --seed $((488 + i))
done
echo "done in $((SECONDS - T0)) s; per-sample wall times in $TIMES"
