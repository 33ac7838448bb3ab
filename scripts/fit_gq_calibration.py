#!/usr/bin/env python3
"""Fit a model's GQ map on the calls of simulated calibration samples and store it in its model_info.json.

Usage: python scripts/fit_gq_calibration.py --model models/pacbio-hifi --sample work_lr/calib_hifi_grch38_1_20x ...

Each sample (a folder from scripts/make_*_data.sh: reads.bam, truth.vcf.gz, sample.json) is called with
`dvcall run` as a user would (default flags; untagged long reads are phased) by the model with its temperature
but without any GQ map; every record's genotype is checked against the truth inside the sample's confident
span (evaluate.genotyped_sites), and calibration.fit_gq_map turns (GQ, right or wrong) into knots, written to
model_info.json as "gq_calibration" (what it was fitted on goes with it, as "gq_calibration_fit"). Calls do not change; only GQ does.
The samples must be ones the model never trained on, and not the held-out test samples the card reports.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
from accuracy import call_dvcall, datasets  # noqa: E402
from calibration import bin_rows  # noqa: E402

from deepvariant_py.calibration import Calibration, fit_gq_map  # noqa: E402
from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.evaluate import genotyped_sites  # noqa: E402
from deepvariant_py.model_info import INFO_FILE, ModelInfo, load_model_info, save_model_info  # noqa: E402
from deepvariant_py.outputs import write_json  # noqa: E402


def _table(title: str, gq: np.ndarray, correct: np.ndarray) -> None:
    print(f"\n{title}\n\n| GQ bin | calls | errors | errors GQ predicts | ratio |\n|---|---|---|---|---|")
    for r in bin_rows([SimpleNamespace(gq=int(g), correct=bool(c)) for g, c in zip(gq, correct)]):
        if r["calls"]:
            print(f"| {r['bin']} | {r['calls']} | {r['errors']} | {r['predicted_errors']} | {r['ratio']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory; its model_info.json gets the map")
    ap.add_argument("--sample", action="append", required=True, help="simulated calibration sample folder (repeatable)")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, leave model_info.json as it is")
    ap.add_argument("--cache", default=None,
                    help="folder for each sample's (GQ, right or wrong) of its calls: a sample found there is not called again")
    args = ap.parse_args()
    info = load_model_info(args.model)
    gq, correct = _called_sites(args, info)
    raw, calibrated = fit_gq_map(gq, correct)
    _table("Before (raw GQ, temperature only):", gq, correct)
    cal = Calibration(info.calibration.temperature, tuple(raw), tuple(calibrated))
    _table("After the map (on the same calls: a fit, not a measurement):", np.array([cal.gq(int(g)) for g in gq]), correct)
    print("\nknots (raw -> calibrated):", ", ".join(f"{r:g}->{c:.1f}" for r, c in zip(raw, calibrated)))
    if args.dry_run:
        return
    fit = {"calls": int(len(gq)), "errors": int((~correct).sum()), "samples": [os.path.basename(s.rstrip("/")) for s in args.sample]}
    save_model_info(args.model, info.with_calibration(cal, gq_calibration_fit=fit))
    print(f"-> {os.path.join(args.model, INFO_FILE)}", file=sys.stderr)


def _called_sites(args, info: ModelInfo) -> tuple[np.ndarray, np.ndarray]:
    """Call every sample with the model less its GQ map; (GQ, right?) of every record."""
    data = datasets(argparse.Namespace(sim_sample=args.sample, no_real=True, robustness=False, real_platform=None,
                                       shared=None))
    if len(data) != len(args.sample):
        sys.exit("fit_gq_calibration: some --sample folders hold no simulated sample (see the notes above)")
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
    gq, correct = [], []
    with tempfile.TemporaryDirectory(prefix="dvcall-gqfit-") as tmp:
        raw_model = os.path.join(tmp, "model")  # the model as it is, less any GQ map: raw GQ is what gets mapped
        shutil.copytree(args.model, raw_model)
        save_model_info(raw_model, info.with_calibration(Calibration(info.calibration.temperature)))
        for i, (ds, sample) in enumerate(zip(data, args.sample)):
            cached = os.path.join(args.cache, os.path.basename(sample.rstrip("/")) + ".json") if args.cache else None
            if cached and os.path.exists(cached):
                with open(cached) as fh:
                    found = json.load(fh)
            else:
                out = os.path.join(tmp, f"calls-{i}.vcf.gz")
                call_dvcall(ds, out, raw_model)
                sites = genotyped_sites(ds.truth, out, ds.ref, regions=[ds.region0], bed=ds.bed)
                found = [[s.gq for s in sites], [s.correct for s in sites]]
                if cached:
                    write_json(cached, found)
            print(f"  {ds.name}: {len(found[0])} calls, {found[1].count(False)} wrong", file=sys.stderr)
            gq += found[0]
            correct += found[1]
    return np.array(gq), np.array(correct, dtype=bool)

if __name__ == "__main__":
    try:
        main()
    except DvcallError as exc:  # a bad --model or sample: one line, as dvcall itself says it
        sys.exit(f"fit_gq_calibration: error: {exc}")
