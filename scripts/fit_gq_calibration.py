#!/usr/bin/env python3
"""Fit a model's GQ map on the calls of simulated calibration samples and store it in its model_info.json.

Usage: python scripts/fit_gq_calibration.py --model work_lr/model_hifi --sample work_lr/calib_hifi_grch38_1_20x ...
       (a shipped model's folder is refused: fit a copy, then `bash scripts/model_install.sh COPY models/NAME`)
       python scripts/fit_gq_calibration.py --model MODEL --hybrid-pair work_hybrid/calib_hybrid_1 ...  (HiFi + Illumina)

Each sample (a folder from scripts/make_*_data.sh: reads.bam, truth.vcf.gz, sample.json) is called with
`dvcall run` as a user would (default flags; untagged long reads are phased) by the model with its temperature
but without any GQ map; every record's genotype is checked against the truth inside the sample's confident
span (evaluate.genotyped_sites), and calibration.fit_gq_map turns (GQ, right or wrong) into knots, written to
model_info.json as "gq_calibration" (what it was fitted on goes with it, as "gq_calibration_fit"). Calls do not change; only GQ does.
Calls with another non-reference call within a few bp (calibration.clustered_calls) err far more often at the same
raw GQ, so they may get a map of their own: the distance (0 = one map) is chosen by cross-validation over the
samples' positions (25 kb blocks dealt to 4 folds, so replicate samples of one region never put the same locus on
both sides), unless --cluster-distance says it. With it, the map's prior (pseudo-calls per raw-GQ level, as right
as that level claims: how far a level with one or two errors may fall below its raw GQ) is chosen the same way,
unless --prior-calls says it; one map at the default prior wins unless another fit beats it by more than a
standard error.
The samples must be ones the model never trained on, and not the held-out test samples the card reports.
"""
from __future__ import annotations

import argparse
import hashlib
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
import pysam  # noqa: E402
from accuracy import call_dvcall, datasets, hybrid_datasets  # noqa: E402
from calibration import bin_rows  # noqa: E402

from deepvariant_py.calibration import (PRIOR_CALLS, Calibration, choose_fit, clustered_calls,  # noqa: E402
                                         cross_validated_log_likelihood, fit_calibration)
from deepvariant_py.candidate_filter import FILE_NAME as CANDIDATE_FILTER_FILE  # noqa: E402
from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.evaluate import genotyped_sites  # noqa: E402
from deepvariant_py.model import shipped_model_problem  # noqa: E402
from deepvariant_py.model_info import INFO_FILE, ModelInfo, load_model_info, save_model_info  # noqa: E402
from deepvariant_py.regions import Region, RegionSet  # noqa: E402


def _table(title: str, gq: np.ndarray, correct: np.ndarray) -> None:
    print(f"\n{title}\n\n| GQ bin | calls | errors | errors GQ predicts | ratio |\n|---|---|---|---|---|")
    for r in bin_rows([SimpleNamespace(gq=int(g), correct=bool(c)) for g, c in zip(gq, correct)]):
        if r["calls"]:
            print(f"| {r['bin']} | {r['calls']} | {r['errors']} | {r['predicted_errors']} | {r['ratio']} |")


CLUSTER_DISTANCES = (0, 5, 10, 20, 30, 50)  # bp; 0 = one map for every call
PRIOR_CHOICES = (PRIOR_CALLS, 20.0, 50.0, 200.0)  # pseudo-calls per raw-GQ level at the rate it claims (fit_gq_map)
FOLD_BLOCK = 25_000  # cross-validation folds: positions in 25 kb blocks dealt to FOLDS folds, so the same locus of
FOLDS = 4            # replicate calibration samples is never on both sides of a fold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory; its model_info.json gets the map")
    ap.add_argument("--sample", action="append", default=[], help="simulated calibration sample folder (repeatable)")
    ap.add_argument("--hybrid-pair", action="append", default=[],
                    help="a HiFi + Illumina calibration pair of scripts/make_hybrid_data.sh, by prefix (e.g. "
                         "work_hybrid/calib_hybrid_1), called with --model-type hybrid (repeatable)")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, leave model_info.json as it is")
    ap.add_argument("--cluster-distance", type=int, default=None,
                    help="bp within which another non-reference call makes a call 'clustered' (its own map); 0: one map; "
                         f"default: chosen among {', '.join(map(str, CLUSTER_DISTANCES))} by cross-validation on the samples")
    ap.add_argument("--prior-calls", type=float, default=None,
                    help="pseudo-calls per raw-GQ level, as right as the level claims (more: the map stays nearer raw GQ "
                         f"where calls are few); default: chosen among {', '.join(f'{p:g}' for p in PRIOR_CHOICES)} "
                         "by cross-validation on the samples")
    ap.add_argument("--cache", default=None,
                    help="folder for each sample's calls (VCF), kept per model (a subfolder named by a hash of its weights "
                         "and temperature): a sample this model already called there is not called again")
    args = ap.parse_args()
    if not args.sample and not args.hybrid_pair:
        ap.error("give the calibration samples: --sample DIR or --hybrid-pair PREFIX (repeatable)")
    if args.cluster_distance is not None and args.cluster_distance < 0:
        ap.error(f"--cluster-distance {args.cluster_distance}: give 0 (one map) or more bp")
    if args.prior_calls is not None and not (0 <= args.prior_calls < float("inf")):
        ap.error(f"--prior-calls {args.prior_calls:g}: give 0 (the calls alone) or more pseudo-calls")
    named = [os.path.realpath(s) for s in args.sample + args.hybrid_pair]
    if len(set(named)) < len(named):  # its calls would count twice
        ap.error("a calibration sample is given twice: give each --sample / --hybrid-pair once")
    if not args.dry_run and (problem := shipped_model_problem(args.model)):
        ap.error(problem + " (or look with --dry-run)")
    info = load_model_info(args.model)
    calls = _called_sites(args, info)
    gq = np.concatenate([c["gq"] for c in calls])
    correct = np.concatenate([c["correct"] for c in calls])
    folds = np.concatenate([(c["pos"] // FOLD_BLOCK) % FOLDS for c in calls])
    print("\ncross-validated log-likelihood of the calls' GQ (higher is better), by cluster distance and prior:")
    distances = (args.cluster_distance,) if args.cluster_distance is not None else CLUSTER_DISTANCES
    priors = (args.prior_calls,) if args.prior_calls is not None else PRIOR_CHOICES
    baseline = (distances[0], priors[0])  # one map (0 bp) at the default prior unless the flags fix them
    per_fold, flags_at = {}, {}
    for distance in distances:
        flags = flags_at[distance] = np.concatenate([_flags(c, distance) for c in calls])
        for prior in priors:
            per_fold[(distance, prior)] = cross_validated_log_likelihood(gq, correct, flags, distance, folds, prior)
            gain = per_fold[(distance, prior)] - per_fold[baseline]
            print(f"  {distance:>3} bp, prior {prior:g}: {per_fold[(distance, prior)].sum():.1f} (gain {gain.sum():+.1f}, "
                  f"standard error {np.std(gain, ddof=1) * np.sqrt(len(gain)):.1f}; {int(flags.sum())} clustered calls, "
                  f"{int((~correct[flags]).sum())} wrong)")
    scores = {f"{d}" if p == PRIOR_CALLS else f"{d}/{p:g}": round(float(v.sum()), 2) for (d, p), v in per_fold.items()}
    distance, prior = choose_fit(per_fold, baseline)
    flags = flags_at[distance]
    cal = fit_calibration(info.calibration.temperature, gq, correct, flags, distance, prior)
    print(f"chosen: {distance} bp, prior {prior:g}")
    _table("Before (raw GQ, temperature only):", gq, correct)
    mapped = cal.gqs(gq, flags)
    _table("After the map(s) (on the same calls: a fit, not a measurement):", mapped, correct)
    print("\nknots (raw -> calibrated):", ", ".join(f"{r:g}->{c:.1f}" for r, c in zip(cal.gq_raw, cal.gq_calibrated)))
    if cal.cluster_distance:
        print("clustered knots:", ", ".join(f"{r:g}->{c:.1f}" for r, c in zip(cal.clustered_raw, cal.clustered_calibrated)))
    if args.dry_run:
        return
    fit = {"calls": int(len(gq)), "errors": int((~correct).sum()), "clustered_calls": int(flags.sum()),
           "cluster_distance_scores": scores, "prior_calls": prior,
           "samples": [os.path.basename(s.rstrip("/")) for s in args.sample + args.hybrid_pair]}
    save_model_info(args.model, info.refitted(cal, gq_calibration_fit=fit))
    print(f"-> {os.path.join(args.model, INFO_FILE)}", file=sys.stderr)


def _flags(calls: dict, distance: int) -> np.ndarray:
    """Whether each scored call of one sample is clustered, as postprocess.mapped_gq decides it (over every record of its VCF)."""
    near = {(contig, int(p)): bool(f) for contig, (starts, ends, non_ref, positions) in calls["records"].items()
            for p, f in zip(positions, clustered_calls(starts, ends, non_ref, distance))}
    return np.array([near[(c, int(p))] for c, p in zip(calls["contig"], calls["pos"])], dtype=bool)


def _records(vcf: str) -> dict:
    """Per contig: (starts, ends, non-reference, VCF positions) of every record, in file order."""
    out: dict[str, list] = {}
    with pysam.VariantFile(vcf) as fh:
        for rec in fh:
            gt = rec.samples[0].get("GT") or ()
            out.setdefault(rec.contig, []).append((rec.start, rec.start + len(rec.ref), any(a not in (None, 0) for a in gt), rec.pos))
    return {c: tuple(np.array(col) for col in zip(*rows)) for c, rows in out.items()}


def _model_key(model_dir: str, info: ModelInfo) -> str:
    """A cache subfolder per model: its weights, candidate pre-filter, temperature, ensemble cascade and example
    settings (a retrained model in the same folder, a filter added or retrained, or another model given the same
    --cache, must not reuse the calls of the one before)."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".keras") or name == CANDIDATE_FILTER_FILE:  # the filter drops candidates: other calls
            with open(os.path.join(model_dir, name), "rb") as fh:
                digest.update(fh.read())
    digest.update(json.dumps([info.calibration.temperature, info.settings, info.channels], sort_keys=True).encode())
    if info.cascade:  # only then: the caches of models from before cascades keep their keys
        digest.update(json.dumps(info.cascade).encode())
    return "model-" + digest.hexdigest()[:12]


def _called_sites(args, info: ModelInfo) -> list[dict]:
    """Call every sample with the model less its GQ map; per sample, every scored record (GQ, right?, position)
    and every record of its VCF (for the clustered flags)."""
    data = datasets(args.sample)
    data += [d for prefix in args.hybrid_pair for d in hybrid_datasets(prefix) if d.platform == "hybrid"]
    names = args.sample + args.hybrid_pair
    if len(data) != len(names):
        sys.exit("fit_gq_calibration: some --sample / --hybrid-pair names hold no simulated sample (see the notes above)")
    if (trained_there := info.trained_where(RegionSet(Region(*d.region0) for d in data))):
        print(f"fit_gq_calibration: warning: the calibration samples {trained_there}", file=sys.stderr)
    cache = os.path.join(args.cache, _model_key(args.model, info)) if args.cache else None
    if cache:
        os.makedirs(cache, exist_ok=True)
    out = []
    with tempfile.TemporaryDirectory(prefix="dvcall-gqfit-") as tmp:
        raw_model = os.path.join(tmp, "model")  # the model as it is, less any GQ map: raw GQ is what gets mapped
        shutil.copytree(args.model, raw_model)
        save_model_info(raw_model, info.with_calibration(Calibration(info.calibration.temperature)))
        for i, (ds, sample) in enumerate(zip(data, names)):
            vcf = os.path.join(cache or tmp, os.path.basename(sample.rstrip("/")) + ".vcf.gz")
            if not (cache and os.path.exists(vcf)):
                call_dvcall(ds, vcf, raw_model)
            sites = genotyped_sites(ds.truth, vcf, ds.ref, regions=[ds.region0], bed=ds.bed)
            out.append({"gq": np.array([s.gq for s in sites]), "correct": np.array([s.correct for s in sites], dtype=bool),
                        "contig": [s.contig for s in sites], "pos": np.array([s.pos for s in sites]), "records": _records(vcf)})
            print(f"  {ds.name}: {len(sites)} calls, {int((~out[-1]['correct']).sum())} wrong", file=sys.stderr)
    return out

if __name__ == "__main__":
    try:
        main()
    except DvcallError as exc:  # a bad --model or sample: one line, as dvcall itself says it
        sys.exit(f"fit_gq_calibration: error: {exc}")
