#!/usr/bin/env python3
"""Speed table: wall time, CPU time and peak memory of each dvcall stage, of `dvcall run`, and of bcftools and
freebayes when installed, on a simulated 1 Mb 30x sample (made once, then reused), plus the ratios.

Usage: python benchmarks/speed.py [--work work_speed] [--shared ../shared/data] [--shards 2]
Making the sample needs art_illumina, bwa, samtools and bcftools
(`apt-get install art-nextgen-simulation-tools bwa samtools bcftools`); each command runs in its own process
and is measured with wait4(), so CPU time counts every process it starts and peak memory is the largest one.
`dvcall run`, bcftools and freebayes run --repeats times, interleaved (run, bcftools, freebayes, run, ...), and
each of their rows is the median; the stage rows run once. Below the table: the model's own rate inside
`dvcall run` (its workers call their examples as they make them; the run's log line).

--long-read-sample DIR (repeatable; e.g. work_lr/test_hifi_grch38_30x and work_lr/test_ont_r10_grch38_30x from
scripts/make_long_read_data.sh, held out and untagged, so `dvcall run` phases by itself) adds a table of
dvcall run against bcftools mpileup -X pacbio-ccs / -X ont on each (medians of --repeats interleaved runs),
with candidates per true variant.

--scale adds a second table: the same three callers once each on a 10 Mb sample (GRCh38 chr20:1-10 Mb, 30x,
the real HG002 variants of sim_sources/ planted), called outside the project's evaluation windows (7.65 Mb),
with seconds per Mb and peak memory beside the 1 Mb row's: whether time and memory stay flat in region size.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REGION = "chr20:2000001-3000000"
SCALE_REGION = "chr20:1-10000000"
EVAL_WINDOWS = [(4_000_000, 5_150_000), (7_000_000, 8_000_000), (8_950_000, 9_150_000)]
"""GRCh38 chr20 windows that hold the project's held-out evaluation data: never called here."""


@dataclass
class Measure:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    items: int | None = None  # examples, for a rate
    log: str = ""  # what the command wrote to stderr


def measure(name: str, cmd: str, items: int | None = None) -> Measure:
    """Run `cmd` in a shell and measure it (and everything it starts) with wait4."""
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty command cannot block on a full pipe
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err.seek(0)
        log = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"speed.py: `{cmd}` failed:\n{log[-2000:]}")
    return Measure(name, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, items, log)


def median_row(runs: list[Measure]) -> Measure:
    """The median of each number over repeated runs of one command (the last run's log)."""
    mid = lambda values: statistics.median(values)  # noqa: E731
    last = runs[-1]
    return Measure(last.name, mid([r.wall for r in runs]), mid([r.cpu for r in runs]), mid([r.peak_mb for r in runs]),
                   last.items, last.log)


def make_sample(work: str, shared: str, name: str = "sample_1mb_30x", region: str = REGION,
                variants: list[str] | None = None, seed: int = 404) -> str:
    """A simulated 30x HS25 2x150 sample (default GRCh38 chr20:2-3 Mb with random SNPs and indels), made once."""
    sample = os.path.join(work, name)
    if os.path.exists(os.path.join(sample, "sample.json")):
        return sample
    missing = [t for t in ("art_illumina", "bwa", "samtools", "bcftools") if shutil.which(t) is None]
    if missing:
        sys.exit(f"speed.py: needs {', '.join(missing)} to simulate the sample: "
                 "apt-get install art-nextgen-simulation-tools bwa samtools bcftools")
    ref = os.path.join(shared, "sim_sources", "grch38.chr20_and_21_10M.fa.gz")
    variants = variants or ["--random-snps-per-kb", "1.0", "--random-indels-per-kb", "0.3"]
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "simulate_sample.py"), "--ref", ref, "--region", region,
                    *variants, "--coverage", "30", "--read-length", "150", "--profile", "HS25", "--seed", str(seed),
                    "--out", sample], check=True)
    return sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="work_speed", help="folder for the simulated sample and the outputs")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"), help="the shared data folder")
    ap.add_argument("--shards", type=int, default=os.cpu_count() or 1, help="processes for `dvcall run`")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--repeats", type=int, default=3, help="runs of dvcall run, bcftools and freebayes (median)")
    ap.add_argument("--long-read-sample", action="append", default=[],
                    help="a simulated long-read sample folder (sample.json says hifi or ont); repeatable")
    ap.add_argument("--scale", action="store_true", help="also the 10 Mb scale table (simulating it takes ~15 min once)")
    args = ap.parse_args()
    for sample in args.long_read_sample:  # checked before the long work starts
        if not os.path.exists(os.path.join(sample, "sample.json")):
            sys.exit(f"speed.py: {sample} is not a simulated sample (no sample.json): make one with "
                     "scripts/make_long_read_data.sh OUTDIR hifi|ont")

    os.makedirs(args.work, exist_ok=True)
    sample = make_sample(args.work, args.shared)
    meta = json.load(open(os.path.join(sample, "sample.json")))["parameters"]
    ref, bam, region = meta["ref"], os.path.join(sample, "reads.bam"), meta["region"]
    out = os.path.join(args.work, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    q = shlex.quote
    base = f"--ref {q(ref)} --reads {q(bam)} --regions {region}"
    examples, calls = os.path.join(out, "examples.tfrecord.gz"), os.path.join(out, "calls.jsonl.gz")

    rows = [measure("make_examples (1 process)", f"dvcall make-examples {base} --examples {q(examples)} --quiet")]
    rows.append(measure("call_variants", f"dvcall call-variants --examples {q(examples)} --output {q(calls)} --quiet"))
    with gzip.open(calls, "rt") as fh:  # one call record per example, after the format line
        n_examples = sum(1 for line in fh if not line.startswith('{"format"'))
    rows[0].items = rows[1].items = n_examples
    rows.append(measure("postprocess", f"dvcall postprocess --ref {q(ref)} --calls {q(calls)} "
                                       f"--output-vcf {q(os.path.join(out, 'stages.vcf.gz'))} --quiet"))
    plain_ref = plain_reference(ref, meta["contig"], out)
    compared = [(f"dvcall run --num-shards {args.shards}",
                 f"dvcall run {base} --output-vcf {q(os.path.join(out, 'run.vcf.gz'))} --num-shards {args.shards}", n_examples)]
    if shutil.which("bcftools"):
        compared.append(("bcftools mpileup + call", f"bcftools mpileup -f {q(plain_ref)} -r {region} {q(bam)} 2>/dev/null "
                                                    f"| bcftools call -mv -Oz -o {q(os.path.join(out, 'bcftools.vcf.gz'))}", None))
    if shutil.which("freebayes"):
        compared.append(("freebayes", f"freebayes -f {q(plain_ref)} -r {region} {q(bam)} > {q(os.path.join(out, 'freebayes.vcf'))}", None))
    runs: dict[str, list[Measure]] = {name: [] for name, _, _ in compared}
    for _ in range(max(1, args.repeats)):
        for name, cmd, items in compared:
            runs[name].append(measure(name, cmd, items))
    rows += [median_row(runs[name]) for name, _, _ in compared]
    accuracy = _accuracy(meta, sample, ref, {"dvcall run": os.path.join(out, "run.vcf.gz"),
                                              "bcftools": os.path.join(out, "bcftools.vcf.gz"),
                                              "freebayes": os.path.join(out, "freebayes.vcf")})
    dv = next(r for r in rows if r.name.startswith("dvcall run"))
    print(f"sample: {os.path.basename(sample)} ({region}, 30x HS25 2x150), {n_examples} examples; "
          f"{os.cpu_count()} cores\n")
    print("| step | wall s | CPU s | peak MB | examples/s (wall) | wall vs dvcall run | SNP F1 / INDEL F1 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        rate = f"{r.items / r.wall:.0f}" if r.items else ""
        f1 = next((v for k, v in accuracy.items() if r.name.startswith(k)), "")
        print(f"| {r.name} | {r.wall:.1f} | {r.cpu:.1f} | {r.peak_mb:.0f} | {rate} | {r.wall / dv.wall:.2f} | {f1} |")
    model = re.search(r"call_variants \(in the same processes\): (\d+) examples in ([\d.]+) s \((\d+)/s\)", dv.log)
    if model:
        print(f"\nThe model inside `dvcall run` (illumina-wgs, batches of 128 run in passes of 16, one BLAS thread per "
              f"worker, {args.shards} workers): {model.group(1)} examples in {model.group(2)} s of model time, "
              f"{model.group(3)} examples/s.")
    if args.long_read_sample:
        rows += long_read_table(args)
    if args.scale:
        rows += scale_table(args, dv, region)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{k: v for k, v in r.__dict__.items() if k != "log"} for r in rows], fh, indent=1)


def plain_reference(ref: str, contig: str, out: str) -> str:
    """`contig` of the bgzipped reference as plain, indexed FASTA in `out` (what bcftools and freebayes read)."""
    plain, q = os.path.join(out, "ref.fa"), shlex.quote
    subprocess.run(f"samtools faidx {q(ref)} {q(contig)} > {q(plain)} && samtools faidx {q(plain)}", shell=True, check=True)
    return plain


def long_read_table(args) -> list[Measure]:
    """dvcall run (phasing by itself when the reads are untagged) and bcftools with its long-read preset, on
    each long-read sample; prints the table."""
    presets = {"hifi": ("pacbio", "pacbio-ccs"), "ont": ("ont", "ont"), "ont-r9": ("ont", "ont")}
    q = shlex.quote
    out_rows, lines = [], []
    for sample in args.long_read_sample:
        meta = json.load(open(os.path.join(sample, "sample.json")))["parameters"]
        platform = meta.get("platform", "hifi")
        if platform not in presets:
            sys.exit(f"speed.py: {sample} holds {platform} reads; --long-read-sample takes hifi, ont or ont-r9 samples")
        model_type, bcf_preset = presets[platform]
        ref, bam, region = meta["ref"], os.path.join(sample, "reads.bam"), meta["region"]
        out = os.path.join(args.work, "out_" + os.path.basename(sample.rstrip("/")))
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        plain_ref = plain_reference(ref, meta["contig"], out)
        vcfs = {"dvcall run": os.path.join(out, "run.vcf.gz"), "bcftools": os.path.join(out, "bcftools.vcf.gz")}
        compared = [(f"dvcall run --model-type {model_type}", f"dvcall run --model-type {model_type} --ref {q(ref)} "
                     f"--reads {q(bam)} --regions {region} --output-vcf {q(vcfs['dvcall run'])} --num-shards {args.shards}"),
                    (f"bcftools mpileup -X {bcf_preset} + call", f"bcftools mpileup -X {bcf_preset} -f {q(plain_ref)} "
                     f"-r {region} {q(bam)} 2>/dev/null | bcftools call -mv -Oz -o {q(vcfs['bcftools'])}")]
        runs: list[list[Measure]] = [[], []]
        for _ in range(max(1, args.repeats)):  # interleaved, as the short-read table's
            for done, (name, cmd) in zip(runs, compared):
                done.append(measure(name, cmd))
        dv, bcf = (median_row(r) for r in runs)
        accuracy = _accuracy(meta, sample, ref, vcfs)
        found = re.findall(r"make_examples: (\d+) candidates", dv.log)  # the last pass's, when it phased
        with gzip.open(os.path.join(sample, "truth.vcf.gz"), "rt") as fh:
            truth = sum(1 for line in fh if not line.startswith("#"))
        per_variant = f"{int(found[-1]) / truth:.2f}" if found and truth else ""
        name = os.path.basename(sample.rstrip("/"))
        lines.append(f"| {name} | {dv.name} | {dv.wall:.1f} | {dv.cpu:.1f} | {dv.peak_mb:.0f} | {per_variant} | "
                     f"{dv.wall / bcf.wall:.2f} | {accuracy.get('dvcall run', '')} |")
        lines.append(f"| {name} | {bcf.name} | {bcf.wall:.1f} | {bcf.cpu:.1f} | {bcf.peak_mb:.0f} |  | 1.00 | "
                     f"{accuracy.get('bcftools', '')} |")
        out_rows += [dv, bcf]
    print(f"\nLong reads (medians of {max(1, args.repeats)} interleaved runs; dvcall phases untagged reads itself, "
          "in make_examples):\n")
    print("| sample | caller | wall s | CPU s | peak MB | candidates per true variant | wall vs bcftools | SNP F1 / INDEL F1 |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    return out_rows


def make_scale_sample(work: str, shared: str, pieces: list[tuple[int, int]]) -> str:
    """GRCh38 chr20:1-10 Mb at 30x with the real HG002 variants, made once: simulate_sample.py refuses regions
    that touch the evaluation windows, so each stretch between them is simulated alone and the pieces merged."""
    sample = os.path.join(work, "sample_10mb_30x")
    if os.path.exists(os.path.join(sample, "sample.json")):
        return sample
    truth = os.path.join(shared, "sim_sources", "HG002_GIAB_v4.2.1.grch38.chr20_1-10Mb_minus_eval.vcf.gz")
    parts = [make_sample(work, shared, f"scale_piece_{i}", f"chr20:{a + 1}-{b}", ["--truth-source", truth], seed=405 + i)
             for i, (a, b) in enumerate(pieces)]
    os.makedirs(sample, exist_ok=True)
    q = shlex.quote
    bams = " ".join(q(os.path.join(p, "reads.bam")) for p in parts)
    truths = " ".join(q(os.path.join(p, "truth.vcf.gz")) for p in parts)
    beds = " ".join(q(os.path.join(p, "confident.bed")) for p in parts)
    subprocess.run(f"samtools merge -f -@ 2 -o {q(sample)}/reads.bam {bams} && samtools index {q(sample)}/reads.bam && "
                   f"bcftools concat -Oz -o {q(sample)}/truth.vcf.gz {truths} && bcftools index -t {q(sample)}/truth.vcf.gz && "
                   f"cat {beds} | sort -k1,1 -k2,2n > {q(sample)}/confident.bed", shell=True, check=True)
    meta = json.load(open(os.path.join(parts[0], "sample.json")))
    meta["parameters"].update(region=SCALE_REGION, pieces=[f"chr20:{a + 1}-{b}" for a, b in pieces], out=sample)
    with open(os.path.join(sample, "sample.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    return sample


def _span_mb(region: str) -> float:
    lo, hi = (int(x) for x in region.split(":")[1].replace(",", "").split("-"))
    return (hi - lo + 1) / 1e6


def scale_table(args, one_mb: Measure, one_mb_region: str) -> list[Measure]:
    """The three callers once each on the 10 Mb sample, outside the evaluation windows; prints its table."""
    lo, hi = 0, 10_000_000
    kept, start = [], lo
    for a, b in EVAL_WINDOWS:
        kept.append((start, a))
        start = b
    kept.append((start, hi))
    sample = make_scale_sample(args.work, args.shared, kept)
    ref, bam = json.load(open(os.path.join(sample, "sample.json")))["parameters"]["ref"], os.path.join(sample, "reads.bam")
    out = os.path.join(args.work, "out_10mb")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    bed = os.path.join(out, "called.bed")
    with open(bed, "w") as fh:
        fh.writelines(f"chr20\t{a}\t{b}\n" for a, b in kept)
    called_mb = sum(b - a for a, b in kept) / 1e6
    plain_ref = plain_reference(ref, "chr20", out)
    q = shlex.quote
    vcfs = {"dvcall run": os.path.join(out, "run.vcf.gz"), "bcftools": os.path.join(out, "bcftools.vcf.gz"),
            "freebayes": os.path.join(out, "freebayes.vcf")}
    rows = [measure(f"dvcall run --num-shards {args.shards} (10 Mb)",
                    f"dvcall run --ref {q(ref)} --reads {q(bam)} --regions {q(bed)} --output-vcf {q(vcfs['dvcall run'])} "
                    f"--num-shards {args.shards}")]
    if shutil.which("bcftools"):
        rows.append(measure("bcftools mpileup + call (10 Mb)", f"bcftools mpileup -f {q(plain_ref)} -R {q(bed)} {q(bam)} "
                                                               f"2>/dev/null | bcftools call -mv -Oz -o {q(vcfs['bcftools'])}"))
    if shutil.which("freebayes"):
        rows.append(measure("freebayes (10 Mb)", f"freebayes -f {q(plain_ref)} -t {q(bed)} {q(bam)} > {q(vcfs['freebayes'])}"))
    meta = {"contig": "chr20", "region": f"chr20:{lo + 1}-{hi}"}
    accuracy = _accuracy(meta, sample, ref, vcfs, [("chr20", a, b) for a, b in kept])
    per_mb_1 = one_mb.wall / _span_mb(one_mb_region)
    print(f"\n10 Mb scale: {os.path.basename(sample)} ({SCALE_REGION}, real HG002 variants), called on {called_mb:.2f} Mb "
          f"outside the evaluation windows; each command once\n")
    print("| step | wall s | CPU s | peak MB | wall s per Mb | vs the 1 Mb row (s per Mb / peak MB) | SNP F1 / INDEL F1 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        f1 = next((v for k, v in accuracy.items() if r.name.startswith(k)), "")
        ratio = (f"{r.wall / called_mb / per_mb_1:.2f} / {r.peak_mb / one_mb.peak_mb:.2f}"
                 if r.name.startswith("dvcall run") else "")
        print(f"| {r.name} | {r.wall:.1f} | {r.cpu:.1f} | {r.peak_mb:.0f} | {r.wall / called_mb:.2f} | {ratio} | {f1} |")
    return rows


def _accuracy(meta: dict, sample: str, ref: str, vcfs: dict[str, str],
              regions: list[tuple[str, int, int]] | None = None) -> dict[str, str]:
    """SNP / INDEL F1 of each caller's VCF against the sample's truth (records with QUAL >= 20, as
    benchmarks/accuracy.py scores them), inside the sample's confident span (and `regions`, when given)."""
    sys.path.insert(0, ROOT)
    from deepvariant_py.evaluate import evaluate

    contig, lo, hi = meta["contig"], *(int(x) for x in meta["region"].split(":")[1].replace(",", "").split("-"))
    out = {}
    for name, vcf in vcfs.items():
        if not os.path.exists(vcf):
            continue
        if name != "dvcall run":  # QUAL >= 20, bgzipped and indexed for the evaluator
            filtered = vcf.replace(".vcf.gz", "").replace(".vcf", "") + ".q20.vcf.gz"
            subprocess.run(f"bcftools view -i 'QUAL>=20' -Oz -o {shlex.quote(filtered)} {shlex.quote(vcf)} && "
                           f"bcftools index -f -t {shlex.quote(filtered)}", shell=True, check=True)
            vcf = filtered
        res = evaluate(os.path.join(sample, "truth.vcf.gz"), vcf, ref, regions=regions or [(contig, lo - 1, hi)],
                       bed=os.path.join(sample, "confident.bed"))
        out[name] = f"{res.snp.f1:.4f} / {res.indel.f1:.4f}"
    return out


if __name__ == "__main__":
    main()
