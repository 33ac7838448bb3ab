#!/usr/bin/env python3
"""Haploid contigs: dvcall with and without --haploid-contigs against bcftools and freebayes (diploid and haploid).

A male sample carries chrX and chrY once. This simulates (once, into --work) samples in which every read comes
from one haplotype (--haplotype-fraction 0.999: effectively haploid; Illumina HS25 2x150, or with --platform
hifi HiFi-like long reads, untagged, which dvcall --model-type pacbio phases itself) over GRCh38
chr20:8,350,001-8,950,000, the held-out Illumina test stretch, with the real HG002 variants (GIAB v4.2.1) planted
plus random ones, at each --coverage. Their truth is the variants of that haplotype, homozygous. Each sample is
called by dvcall as a diploid, dvcall --haploid-contigs chr20, bcftools call -m (diploid and --ploidy 1) and
freebayes (diploid and -p 1); dvcall eval scores a haploid GT (`1`) as the homozygote dvcall writes (`1/1`). Prints one
table (TP/FP/FN and F1 inside the confident BED). Nothing here chooses anything: the rule is DeepVariant's.

Needs: apt-get install samtools bcftools bwa art-nextgen-simulation-tools freebayes (minimap2 for hifi).
Usage: python benchmarks/haploid.py [--work DIR] [--coverage 8 --coverage 16] [--platform illumina|hifi]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

import pysam

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from accuracy import BCFTOOLS_PLATFORM, FREEBAYES_PLATFORM  # noqa: E402

from deepvariant_py.evaluate import evaluate  # noqa: E402

REGION = "chr20:8350001-8950000"
SEED = 880


def run(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, executable="/bin/bash")


def simulate(data: str, out: str, coverage: int, platform: str) -> None:
    if os.path.exists(os.path.join(out, "sample.json")):
        return
    sim = os.path.join(data, "sim_sources")
    long_reads = " --platform hifi --hp-tags none" if platform == "hifi" else ""
    run(f"{sys.executable} {os.path.join(ROOT, 'scripts', 'simulate_sample.py')} --out {out} --threads 2 "
        f"--ref {sim}/grch38.chr20_and_21_10M.fa.gz --region {REGION} "
        f"--truth-source {sim}/HG002_GIAB_v4.2.1.grch38.chr20_1-10Mb_minus_eval.vcf.gz --random-snps-per-kb 1 "
        f"--random-indels-per-kb 1 --coverage {coverage} --haplotype-fraction 0.999 --seed {SEED + coverage}"
        f"{long_reads} > {out}.log 2>&1")


def haploid_truth(truth: str, out: str) -> None:
    """The first haplotype's variants (the reads' haplotype: haplotype 1 of the simulator), homozygous."""
    with pysam.VariantFile(truth) as vin, pysam.VariantFile(out, "wz", header=vin.header) as vout:
        for rec in vin:
            allele = rec.samples[0]["GT"][0]
            if allele:
                rec.samples[0]["GT"] = (allele, allele)
                rec.samples[0].phased = False
                vout.write(rec)
    pysam.tabix_index(out, preset="vcf", force=True)


def callers(sample: str, ref: str, plain_ref: str, bed: str, platform: str) -> dict[str, str]:
    reads = os.path.join(sample, "reads.bam")
    model_type = "pacbio" if platform == "hifi" else "illumina"
    dv = f"dvcall run --quiet --ref {ref} --reads {reads} --regions {bed} --num-shards 2 --model-type {model_type}"
    bcf = (f"bcftools mpileup {BCFTOOLS_PLATFORM[platform]} -f {ref} -R {bed} {reads} 2>/dev/null | bcftools call -mv {{}} "
           "2>/dev/null | bcftools view -i 'QUAL>=20'")
    fb = f"freebayes {FREEBAYES_PLATFORM[platform]} -f {plain_ref} -t {bed} {{}} {reads} | bcftools view -i 'QUAL>=20'"
    return {"dvcall": f"{dv} --output-vcf {{out}}",
            "dvcall --haploid-contigs chr20": f"{dv} --haploid-contigs chr20 --output-vcf {{out}}",
            "bcftools": bcf.format("") + " -Oz -o {out}",
            "bcftools --ploidy 1": bcf.format("--ploidy 1") + " -Oz -o {out}",
            "freebayes": fb.format("") + " -Oz -o {out}",
            "freebayes -p 1": fb.format("-p 1") + " -Oz -o {out}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="work_haploid", help="folder for the samples and calls (kept: a rerun reuses them)")
    ap.add_argument("--coverage", type=int, action="append", default=None, help="haploid coverage (repeatable; default 8 and 16)")
    ap.add_argument("--platform", choices=("illumina", "hifi"), default="illumina", help="the reads simulated (default illumina)")
    ap.add_argument("--data", default=os.environ.get("DVCALL_DATA", os.path.join(ROOT, "..", "shared", "data")),
                    help="the shared data folder (sim_sources/); default $DVCALL_DATA, else ../shared/data")
    args = ap.parse_args()
    tools = ("samtools", "bcftools", "freebayes", "dvcall") + (("minimap2",) if args.platform == "hifi" else ("bwa", "art_illumina"))
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        sys.exit(f"haploid.py: error: {', '.join(missing)} not found: apt-get install samtools bcftools bwa "
                 "art-nextgen-simulation-tools freebayes minimap2 (and pip install -e . for dvcall)")
    if not os.path.isdir(os.path.join(args.data, "sim_sources")):
        sys.exit(f"haploid.py: error: no shared data at {args.data} (it needs sim_sources/): pass --data or set DVCALL_DATA")
    os.makedirs(args.work, exist_ok=True)
    ref = os.path.join(args.data, "sim_sources", "grch38.chr20_and_21_10M.fa.gz")
    plain_ref = os.path.join(args.work, "ref.fa")
    if not os.path.exists(plain_ref + ".fai"):  # freebayes reads plain FASTA only
        run(f"zcat {ref} > {plain_ref} && samtools faidx {plain_ref}")
    rows = []
    for coverage in args.coverage or [8, 16]:
        sample = os.path.join(args.work, f"haploid_{args.platform}_{coverage}x")
        simulate(args.data, sample, coverage, args.platform)
        truth, bed = os.path.join(sample, "haploid_truth.vcf.gz"), os.path.join(sample, "confident.bed")
        haploid_truth(os.path.join(sample, "truth.vcf.gz"), truth)
        for name, cmd in callers(sample, ref, plain_ref, bed, args.platform).items():
            calls = os.path.join(sample, name.replace(" ", "_").replace("-", "") + ".vcf.gz")
            run(cmd.format(out=calls))
            res = evaluate(truth, calls, ref, bed=bed)
            rows.append((f"{args.platform} {coverage}x", name, res))
            print(f"  done {coverage}x {name}", file=sys.stderr)
    print("\n| reads, haploid coverage | caller | SNP TP/FP/FN | SNP F1 | INDEL TP/FP/FN | INDEL F1 |\n|---|---|---|---|---|---|")
    for cov, name, res in rows:
        s, i = res.snp, res.indel
        print(f"| {cov} | {name} | {s.tp}/{s.fp}/{s.fn} | {s.f1:.4f} | {i.tp}/{i.fp}/{i.fn} | {i.f1:.4f} |")


if __name__ == "__main__":
    main()
