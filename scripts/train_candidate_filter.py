#!/usr/bin/env python3
"""Train the candidate pre-filter of a long-read model (deepvariant_py/candidate_filter.py) and write it into
the model directory as candidate_filter.json.

Each sample folder (scripts/make_long_read_data.sh: reads.bam, truth.vcf.gz, confident.bed, sample.json) is
read with the model type's make_examples settings, its reads phased in make_examples as `dvcall run` does
(--phase-reads), and every candidate inside the confident BED gets its features and a label (a true
variant: the truth genotype carries one of its alts, by the training labeler). The regression is fitted on
the --train samples, one row per alt allele (labelled by whether the truth genotype carries it); a candidate
is kept when one of its alleles passes, and the threshold is the highest that keeps at least --recall of the
true candidates of the --tune samples (never the held-out ones). Features are cached per sample (--cache) so a refit is fast.

Usage:
  python scripts/train_candidate_filter.py --model models/ont --model-type ont \
      --train work_lr/train_ont_r9_hg001_b37_35x --train work_lr/train_ont_r10_hg002_a_30x ... \
      --tune work_lr/calib_ont-r9_grch38_1_30x ... [--recall 0.999] [--cache work_lr/filter_cache]
  python scripts/train_candidate_filter.py --model models/ont --evaluate work_lr/test_ont_r9_grch38_30x ...
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from deepvariant_py.candidate_filter import (FEATURES, FILE_NAME, CandidateFilter, allele_features,  # noqa: E402
                                             expand, fit_logistic, load_candidate_filter)
from deepvariant_py.make_examples import TrainingInputs, _Labeler, calling_partitions, process_partition  # noqa: E402
from deepvariant_py.outputs import atomic_output  # noqa: E402
from deepvariant_py.presets import make_examples_options, resolve_model, resolve_settings  # noqa: E402
from deepvariant_py.reads import open_reads  # noqa: E402
from deepvariant_py.reference import Reference  # noqa: E402
from deepvariant_py.regions import parse_regions  # noqa: E402


def sample_features(sample: str, model_type: str, model_dir: str, cache: str | None) -> dict:
    """Every confident candidate of one sample: {"x": allele rows, "y": allele labels (the truth genotype carries
    that alt), "owner": candidate of each row, "true": per candidate, a true variant (any alt carried)}."""
    meta = json.load(open(os.path.join(sample, "sample.json")))["parameters"]
    _, info = resolve_model(model_type, model_dir)
    settings = resolve_settings(model_type, info)  # in the key: features made at another floor are other features
    key = hashlib.sha256(json.dumps([os.path.abspath(sample), model_type, FEATURES, os.path.getmtime(os.path.join(sample, "reads.bam")),
                                     sorted(settings.items())], default=str).encode()).hexdigest()[:16]
    path = os.path.join(cache, f"{os.path.basename(sample.rstrip('/'))}.alleles.{key}.npz") if cache else None
    if path and os.path.exists(path):
        return dict(np.load(path))
    opts = replace(make_examples_options(settings), phase_reads=True)
    reference = Reference(meta["ref"])
    labeler = _Labeler(TrainingInputs(os.path.join(sample, "truth.vcf.gz"), os.path.join(sample, "confident.bed")), reference)
    regions = parse_regions([meta["region"]], reference.lengths)
    xs, ys, owners, trues = [], [], [], []
    n = 0
    with open_reads(os.path.join(sample, "reads.bam"), reference) as handle:
        for region in calling_partitions(reference, set(handle.references), regions, opts.partition_size):
            part = process_partition(handle, reference, region, opts)
            if not part.candidates:
                continue
            genotypes = labeler.genotypes(region, part.candidates)
            keep = [i for i, gt in enumerate(genotypes) if gt is not None]
            if not keep:
                continue
            canvas = part.canvas
            cands = [part.candidates[i] for i in keep]
            x, owner = allele_features(canvas.events, cands, canvas.ref_seq, canvas.ref_offset)
            gts = [genotypes[i] for i in keep]
            alt_of_row = np.concatenate([np.arange(len(c.alts)) + 1 for c in cands])
            xs.append(x)
            ys.append(np.array([float(alt in gts[o]) for o, alt in zip(owner.tolist(), alt_of_row.tolist())]))
            owners.append(owner + n)
            trues.append(np.array([float(any(a > 0 for a in gt)) for gt in gts]))
            n += len(cands)
    data = {"x": np.vstack(xs) if xs else np.zeros((0, len(FEATURES))), "y": np.concatenate(ys) if ys else np.zeros(0),
            "owner": np.concatenate(owners) if owners else np.zeros(0, np.int64),
            "true": np.concatenate(trues) if trues else np.zeros(0)}
    if path:
        os.makedirs(cache, exist_ok=True)
        np.savez(path, **data)
    return data


def gather(samples: list[str], args) -> dict:
    parts = [sample_features(s, args.model_type, args.model, args.cache) for s in samples]
    for s, d in zip(samples, parts):
        print(f"  {s}: {len(d['true'])} candidates, {int(d['true'].sum())} true", file=sys.stderr)
    offsets = np.cumsum([0] + [len(d["true"]) for d in parts])
    return {"x": np.vstack([d["x"] for d in parts]), "y": np.concatenate([d["y"] for d in parts]),
            "owner": np.concatenate([d["owner"] + o for d, o in zip(parts, offsets)]),
            "true": np.concatenate([d["true"] for d in parts])}


def report(name: str, filt: CandidateFilter, d: dict) -> None:
    keep = filt.keep(d["x"], d["owner"], len(d["true"]))
    true = d["true"] > 0
    lost = int(np.count_nonzero(true & ~keep))
    print(f"{name}: {len(true)} candidates ({int(true.sum())} true, {len(true) / max(true.sum(), 1):.2f} per true) -> kept "
          f"{int(keep.sum())} ({keep.sum() / max(true.sum(), 1):.2f} per true); true dropped {lost} "
          f"(recall {1 - lost / max(true.sum(), 1):.5f}); false kept {int(np.count_nonzero(~true & keep))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory: its settings make the candidates, and the filter is written there")
    ap.add_argument("--model-type", default="ont", help="the --model-type preset of the model (default ont)")
    ap.add_argument("--train", action="append", default=[], help="training sample folder (repeatable)")
    ap.add_argument("--tune", action="append", default=[], help="tuning sample folder for the threshold (repeatable)")
    ap.add_argument("--evaluate", action="append", default=[], help="only report the model's shipped filter on these samples")
    ap.add_argument("--recall", type=float, default=0.999, help="true candidates of the tuning samples kept, at least")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--linear", action="store_true",
                    help="features only (default: also every product of two features, which kept 40%% fewer false "
                         "candidates than the linear fit at the same recall on the ONT tuning samples)")
    ap.add_argument("--cache", default=None, help="keep each sample's features here")
    args = ap.parse_args()
    if args.evaluate:
        filt = load_candidate_filter(os.path.join(args.model, FILE_NAME))
        for s in args.evaluate:
            report(s, filt, sample_features(s, args.model_type, args.model, args.cache))
        return
    if not args.train or not args.tune:
        sys.exit("train_candidate_filter.py: give --train and --tune samples (or --evaluate)")
    train = gather(args.train, args)
    quadratic = not args.linear
    w, b, mean, scale = fit_logistic(expand(train["x"], quadratic), train["y"], args.l2)
    tune = gather(args.tune, args)
    probe = CandidateFilter(tuple(w), b, tuple(mean), tuple(scale), 0.0, quadratic=quadratic)
    true_scores = np.sort(probe.candidate_scores(tune["x"], tune["owner"], len(tune["true"]))[tune["true"] > 0])
    allowed = int(np.floor((1 - args.recall) * len(true_scores)))
    threshold = float(true_scores[allowed]) * (1 - 1e-9) if len(true_scores) else 0.5
    note = (f"{'quadratic' if quadratic else 'linear'} logistic regression on {len(train['y'])} alleles ({int(train['y'].sum())} true) of {len(train['true'])} candidates "
            f"of {len(args.train)} training samples; threshold {threshold:.4g}: the highest keeping >= {args.recall} of the "
            f"{len(true_scores)} true candidates of {len(args.tune)} tuning samples")
    filt = CandidateFilter(tuple(float(v) for v in w), float(b), tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                           threshold, note=note, quadratic=quadratic)
    print(note)
    print("weights (standardised features" + (", then their products" if quadratic else "") + "): "
          + ", ".join(f"{n} {v:+.2f}" for n, v in zip(FEATURES, w)))
    report("train", filt, train)
    report("tune", filt, tune)
    with atomic_output(os.path.join(args.model, FILE_NAME), ".json") as partial:
        with open(partial, "w") as fh:
            json.dump(filt.to_json(), fh, indent=1)
    print(f"-> {os.path.join(args.model, FILE_NAME)}")


if __name__ == "__main__":
    main()
