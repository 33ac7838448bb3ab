#!/usr/bin/env python3
"""Regenerate the golden files that pin each stage's output on testdata/ (tests/test_golden.py checks them).

Usage: python scripts/regen_golden.py [--check]

Run it only on purpose, when a change is meant to move what a stage writes, and say why in the commit. It
writes testdata/golden/:
  golden.json        what was run: reference, reads, region, model type (the test reads it)
  examples.tsv       make_examples on that region with the model type's settings: one line per example
                     (locus, alt indices, label, SHA-256 prefixes of the image and of the whole record)
  calls.jsonl.gz     call_variants on those examples with the shipped model: the input of the postprocess
                     checks (the network's float numerics may differ across CPUs and BLAS builds, so calls are an
                     input of those checks, not a check)
  gvcf_blocks.tsv.gz the reference blocks make_examples wrote, for the gVCF
  expected.vcf       postprocess of calls.jsonl.gz: the exact VCF (header lines ##dvcall_* aside)
  expected.g.vcf     and the exact gVCF
--check compares instead of writing and exits 1 on a difference (what the tests do, as a script).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from deepvariant_py.examples_io import example_digests  # noqa: E402
from deepvariant_py.make_examples import make_examples  # noqa: E402
from deepvariant_py.merger import load_merger  # noqa: E402
from deepvariant_py.postprocess import postprocess  # noqa: E402
from deepvariant_py.presets import make_examples_options, resolve_model, resolve_settings  # noqa: E402
from deepvariant_py.reference import Reference  # noqa: E402
from deepvariant_py.regions import parse_regions  # noqa: E402

GOLDEN = os.path.join(ROOT, "testdata", "golden")
SETUP = {"ref": "ucsc.hg19.chr20.unittest.fasta.gz", "reads": "NA12878.chr20_10.00-10.02Mb.bam",
         "region": "chr20:10,002,001-10,006,000", "model_type": "illumina", "sample": "NA12878"}


def testdata(name: str) -> str:
    return os.path.join(ROOT, "testdata", name)


def run_make_examples(setup: dict, out_dir: str) -> tuple[str, str]:
    """make_examples as `dvcall run` would with the model type's shipped model; (examples, gVCF blocks)."""
    _, info = resolve_model(setup["model_type"], None)
    opts = make_examples_options(resolve_settings(setup["model_type"], info))
    examples, blocks = os.path.join(out_dir, "examples.tfrecord.gz"), os.path.join(out_dir, "gvcf_blocks.tsv.gz")
    regions = parse_regions([setup["region"]], Reference(testdata(setup["ref"])).lengths)
    make_examples(testdata(setup["ref"]), testdata(setup["reads"]), examples, regions, opts, gvcf_output=blocks)
    return examples, blocks


def run_postprocess(setup: dict, calls: str, blocks: str, out_dir: str) -> tuple[list[str], list[str]]:
    """postprocess as `dvcall run` would (the shipped model's merger and calibration); the VCF and gVCF lines."""
    model_dir, info = resolve_model(setup["model_type"], None)
    vcf, gvcf = os.path.join(out_dir, "out.vcf.gz"), os.path.join(out_dir, "out.g.vcf.gz")
    postprocess(calls, testdata(setup["ref"]), vcf, setup["sample"], merger=load_merger("auto", model_dir),
                gvcf_blocks=blocks, output_gvcf=gvcf, calibration=info.calibration)
    return vcf_lines(vcf), vcf_lines(gvcf)


def vcf_lines(path: str) -> list[str]:
    """A VCF's lines but the ##dvcall_* header lines (version, command), which change without the calls."""
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the golden files instead of writing them")
    args = ap.parse_args()
    from deepvariant_py.call_variants import call_variants

    with tempfile.TemporaryDirectory(prefix="dvcall-golden-") as tmp:
        setup = SETUP
        if args.check:
            if not os.path.exists(os.path.join(GOLDEN, "golden.json")):
                sys.exit(f"regen_golden: no golden files in {GOLDEN}: run python scripts/regen_golden.py first")
            with open(os.path.join(GOLDEN, "golden.json")) as fh:
                setup = json.load(fh)
        examples, blocks = run_make_examples(setup, tmp)
        digests = [line + "\n" for line in example_digests(examples)]
        if args.check:
            calls, blocks = os.path.join(GOLDEN, "calls.jsonl.gz"), os.path.join(GOLDEN, "gvcf_blocks.tsv.gz")
            vcf, gvcf = run_postprocess(setup, calls, blocks, tmp)
            bad = [name for name, got in (("examples.tsv", digests), ("expected.vcf", vcf), ("expected.g.vcf", gvcf))
                   if open(os.path.join(GOLDEN, name)).readlines() != got]
            print("differs: " + ", ".join(bad) if bad else "golden files match")
            sys.exit(1 if bad else 0)
        model_dir, _ = resolve_model(setup["model_type"], None)
        calls = os.path.join(tmp, "calls.jsonl.gz")
        call_variants(examples, model_dir, calls)
        vcf, gvcf = run_postprocess(setup, calls, blocks, tmp)
        os.makedirs(GOLDEN, exist_ok=True)
        shutil.copy(calls, os.path.join(GOLDEN, "calls.jsonl.gz"))
        shutil.copy(blocks, os.path.join(GOLDEN, "gvcf_blocks.tsv.gz"))
        for name, lines in (("examples.tsv", digests), ("expected.vcf", vcf), ("expected.g.vcf", gvcf)):
            with open(os.path.join(GOLDEN, name), "w") as fh:
                fh.writelines(lines)
        with open(os.path.join(GOLDEN, "golden.json"), "w") as fh:
            json.dump(setup, fh, indent=2)
            fh.write("\n")
    print(f"{len(digests)} examples, {sum(not line.startswith('#') for line in vcf)} VCF records, "
          f"{sum(not line.startswith('#') for line in gvcf)} gVCF records -> {GOLDEN}")


if __name__ == "__main__":
    main()
