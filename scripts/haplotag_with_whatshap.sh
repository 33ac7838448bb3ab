#!/usr/bin/env bash
# Tag long reads with HP (and PS) the way a user would before `dvcall run --model-type pacbio|ont`:
# phase heterozygous calls with `whatshap phase`, then assign each read to a haplotype with `whatshap haplotag`.
#
# Usage: scripts/haplotag_with_whatshap.sh REF.fa[.gz] READS.bam CALLS.vcf.gz OUT.bam
#   CALLS: a first-pass VCF of the same sample, e.g. `dvcall run --model-type pacbio` on the untagged BAM.
# Needs: pip install whatshap; samtools, tabix (apt-get install samtools tabix).
set -euo pipefail
if [[ $# -ne 4 ]]; then
  echo "usage: $0 REF READS.bam CALLS.vcf.gz OUT.bam" >&2
  exit 2
fi
REF=$1 READS=$2 CALLS=$3 OUT=$4
for tool in whatshap samtools tabix; do
  command -v $tool >/dev/null || { echo "missing $tool: pip install whatshap; apt-get install samtools tabix" >&2; exit 2; }
done
PHASED=${OUT%.bam}.phased.vcf.gz
whatshap phase --reference "$REF" --ignore-read-groups -o "$PHASED" "$CALLS" "$READS" 2> "${OUT%.bam}.whatshap_phase.log"
tabix -f -p vcf "$PHASED"
whatshap haplotag --reference "$REF" --ignore-read-groups -o "$OUT" "$PHASED" "$READS" 2> "${OUT%.bam}.whatshap_haplotag.log"
samtools index "$OUT"
echo "$OUT: $(samtools view -c -d HP "$OUT") of $(samtools view -c "$OUT") reads tagged" >&2
