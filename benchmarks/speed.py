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


def make_sample(work: str, shared: str) -> str:
    """The simulated sample (GRCh38 chr20:2-3 Mb, 30x HS25 2x150, random SNPs and indels), made once."""
    sample = os.path.join(work, "sample_1mb_30x")
    if os.path.exists(os.path.join(sample, "sample.json")):
        return sample
    missing = [t for t in ("art_illumina", "bwa", "samtools", "bcftools") if shutil.which(t) is None]
    if missing:
        sys.exit(f"speed.py: needs {', '.join(missing)} to simulate the sample: "
                 "apt-get install art-nextgen-simulation-tools bwa samtools bcftools")
    ref = os.path.join(shared, "sim_sources", "grch38.chr20_and_21_10M.fa.gz")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "simulate_sample.py"), "--ref", ref, "--region", REGION,
                    "--random-snps-per-kb", "1.0", "--random-indels-per-kb", "0.3", "--coverage", "30", "--read-length", "150",
                    "--profile", "HS25", "--seed", "404", "--out", sample], check=True)
    return sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="work_speed", help="folder for the simulated sample and the outputs")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"), help="the shared data folder")
    ap.add_argument("--shards", type=int, default=os.cpu_count() or 1, help="processes for `dvcall run`")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--repeats", type=int, default=3, help="runs of dvcall run, bcftools and freebayes (median)")
    args = ap.parse_args()

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
    plain_ref = os.path.join(out, "ref.fa")
    subprocess.run(f"samtools faidx {q(ref)} {meta['contig']} > {q(plain_ref)} && samtools faidx {q(plain_ref)}", shell=True, check=True)
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
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{k: v for k, v in r.__dict__.items() if k != "log"} for r in rows], fh, indent=1)


def _accuracy(meta: dict, sample: str, ref: str, vcfs: dict[str, str]) -> dict[str, str]:
    """SNP / INDEL F1 of each caller's VCF against the sample's truth (records with QUAL >= 20, as
    benchmarks/accuracy.py scores them), inside the sample's confident span."""
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
        res = evaluate(os.path.join(sample, "truth.vcf.gz"), vcf, ref, regions=[(contig, lo - 1, hi)],
                       bed=os.path.join(sample, "confident.bed"))
        out[name] = f"{res.snp.f1:.4f} / {res.indel.f1:.4f}"
    return out


if __name__ == "__main__":
    main()
