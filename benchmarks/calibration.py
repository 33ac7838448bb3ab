#!/usr/bin/env python3
"""Is GQ honest? Empirical genotype error per GQ bin, for each shipped model, with a plot.

Usage: python benchmarks/calibration.py [--shared ../shared/data] [--sim-sample work_sim/samples/test_hg001_30x ...]
                                        [--plot calibration.png] [--json calibration.json]

Each model calls the data of its technology (the real dev sets of the shared folder, scored inside their
confident BEDs, and any simulated held-out samples given; ONT has no real dev set). Every record dvcall writes
(PASS, RefCall, LowQual, NoCall) is a genotype with a GQ, i.e. a claimed error probability 10^(-GQ/10);
`evaluate.genotyped_sites` says whether the genotype matches the truth. Per GQ bin (0-10, 10-20, 20-30,
30-40, 40+) the table gives the calls, the errors, the errors GQ predicts (the sum of 10^(-GQ/10)) and their
ratio. A bin can only be judged when GQ predicts at least one error or one was seen: with 0 seen and 0.01
predicted both are consistent. "within 2x" is the ratio itself; with a handful of errors it is mostly chance
(0 seen where 1.1 are predicted happens a third of the time), so the last column also says whether the count
seen could come from an error rate within 2x of GQ's (exact 95% Poisson interval of the count).
A second table gives each set's GQ log-likelihood (calibration.log_likelihood: the sum of log P(what happened),
P(wrong) = 10^(-GQ/10); higher is better): one number that compares two GQ maps on the same calls without bins.
In the plot a dot is a bin with errors; a bin without any is an open triangle drawn where one more (correct)
call would put it: its true error phred is at least that, so a triangle below the diagonal is a sample too
small to judge, not a miscalibrated GQ.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from accuracy import Dataset, call_dvcall, check_run, datasets as accuracy_datasets, run_or_exit  # noqa: E402
from deepvariant_py.calibration import log_likelihood  # noqa: E402
from deepvariant_py.evaluate import genotyped_sites  # noqa: E402
from deepvariant_py.outputs import atomic_output, write_json  # noqa: E402

BINS = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 1000))
MODEL_TYPE = {"illumina": "illumina", "hifi": "pacbio", "ont": "ont", "hybrid": "hybrid"}


def bin_rows(sites) -> list[dict]:
    rows = []
    for lo, hi in BINS:
        inside = [s for s in sites if lo <= s.gq < hi]
        errors = sum(not s.correct for s in inside)
        predicted = sum(10 ** (-s.gq / 10) for s in inside)
        judged = len(inside) >= 30 and (predicted >= 1 or errors >= 1)
        ratio = errors / predicted if predicted else float("inf") if errors else 1.0
        low, high = poisson_interval(errors)
        rows.append({"bin": f"{lo}-{hi if hi < 1000 else ''}".rstrip("-") + ("+" if hi >= 1000 else ""),
                     "calls": len(inside), "errors": errors, "predicted_errors": round(predicted, 2),
                     "empirical_error": errors / len(inside) if inside else None,
                     "predicted_error": predicted / len(inside) if inside else None,
                     "ratio": round(ratio, 2), "judged": judged, "within_2x": (0.5 <= ratio <= 2) if judged else None,
                     # could the errors seen come from a rate within 2x of GQ's (exact 95% Poisson interval)?
                     "consistent_2x": (low <= 2 * predicted and high >= 0.5 * predicted) if judged else None})
    return rows


def gq_log_likelihood(sites) -> float:
    """How well the sites' GQs predict which calls are wrong (higher is better; 0 only if every claim is certain and right)."""
    return round(log_likelihood([s.gq for s in sites], [s.correct for s in sites]), 1)


def poisson_interval(k: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood) two-sided interval of a Poisson mean, given k events seen."""
    def cdf(n: int, mu: float) -> float:  # P(X <= n)
        term = total = math.exp(-mu)
        for i in range(1, n + 1):
            term *= mu / i
            total += term
        return total

    def solve(f) -> float:  # f rises with mu from <0 to >0
        a, b = 0.0, 10.0 + 10 * k
        for _ in range(100):
            mid = (a + b) / 2
            a, b = (mid, b) if f(mid) < 0 else (a, mid)
        return (a + b) / 2

    low = 0.0 if k == 0 else solve(lambda mu: (1 - cdf(k - 1, mu)) - alpha / 2)
    high = solve(lambda mu: alpha / 2 - cdf(k, mu))
    return low, high


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for model, rows in results.items():
        points = []  # (GQ's phred, empirical phred, errors seen)
        for r in rows:
            if r["calls"] and r["predicted_error"]:
                # a bin without errors is drawn at the bound one more call would give: its true error is at most
                # that, i.e. its phred at least that (an open upward triangle, not a measured point)
                points.append((-10 * math.log10(r["predicted_error"]),
                               -10 * math.log10(max(r["empirical_error"], 1 / (r["calls"] + 1))), r["errors"]))
        line, = ax.plot([p[0] for p in points], [p[1] for p in points], "-", lw=1, label=model)
        seen = [p for p in points if p[2]]
        ax.plot([p[0] for p in seen], [p[1] for p in seen], "o", color=line.get_color())
        bound = [p for p in points if not p[2]]
        ax.plot([p[0] for p in bound], [p[1] for p in bound], "^", mfc="none", color=line.get_color())
    ax.plot([], [], "^", mfc="none", color="grey", label="no error seen: at least this")
    ax.plot([0, 60], [0, 60], "k--", lw=1, label="GQ honest")
    ax.fill_between([0, 60], [-3, 57], [3, 63], color="grey", alpha=0.2, label="within 2x")
    ax.set_xlabel("GQ predicts (phred of the mean error it claims)")
    ax.set_ylabel("empirical genotype error (phred)")
    ax.set_xlim(0, 60)
    ax.set_ylim(0, 60)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_output(path, ".png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"),
                    help="the shared data folder (its real dev sets with a confident BED are called)")
    ap.add_argument("--sim-sample", action="append", default=[], help="simulated held-out sample folder (repeatable)")
    ap.add_argument("--hybrid-pair", action="append", default=[],
                    help="a HiFi + Illumina pair of scripts/make_hybrid_data.sh, by prefix: its both-technologies row is called "
                         "with --model-type hybrid (--model, or the shipped hybrid model); repeatable")
    ap.add_argument("--plot", default="calibration.png", help="reliability plot to write (PNG)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    ap.add_argument("--platform", choices=("illumina", "hifi", "ont", "hybrid"), default=None,
                    help="only the data of this platform (default: every platform's)")
    ap.add_argument("--model", default=None,
                    help="a model directory to measure instead of the shipped one, on --platform's data (default illumina)")
    args = ap.parse_args()
    prog = "calibration.py"
    check_run(args, prog, {"--plot": args.plot, "--json": args.json}, wants_shared=True)
    data: list[Dataset] = accuracy_datasets(args.sim_sample, shared=args.shared, hybrid_pairs=args.hybrid_pair)
    if args.hybrid_pair and not args.sim_sample:
        data = [d for d in data if d.platform == "hybrid" or d.bed]  # the pair's single-technology rows only with --sim-sample
    data = [d for d in data if d.bed or d.name.startswith("simulated")]  # real sets: complete truth (BED) only
    if args.platform:
        data = [d for d in data if d.platform == args.platform]
    model_platform = args.platform or "illumina"
    per_model: dict[str, list] = {}
    per_set: list[tuple[str, str, list]] = []
    with tempfile.TemporaryDirectory(prefix="dvcall-cal-") as tmp:
        for i, ds in enumerate(data):
            out = os.path.join(tmp, f"call-{i}.vcf.gz")
            run_or_exit(call_dvcall, ds, "dvcall", prog, out, args.model if ds.platform == model_platform else None)
            sites = genotyped_sites(ds.truth, out, ds.ref, regions=[ds.region0], bed=ds.bed)
            model = MODEL_TYPE[ds.platform]
            per_model.setdefault(model, []).extend(sites)
            per_set.append((model, ds.name, sites))
            print(f"  done {ds.name}: {len(sites)} sites, {sum(not s.correct for s in sites)} wrong", file=sys.stderr)
    if not per_set:
        sys.exit(f"{prog}: error: nothing was measured: no dataset found (see the notes above)")
    results = {m: bin_rows(s) for m, s in per_model.items()}
    print("| model | data | GQ | calls | errors | errors GQ predicts | ratio | within 2x | consistent with 2x (95%) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model, name, sites in per_set + [(m, "all of the above", s) for m, s in per_model.items()]:
        for r in bin_rows(sites):
            if r["calls"]:
                verdict = {True: "yes", False: "**no**", None: "(too few to judge)"}[r["within_2x"]]
                consistent = {True: "yes", False: "**no**", None: ""}[r["consistent_2x"]]
                print(f"| {model} | {name} | {r['bin']} | {r['calls']} | {r['errors']} | {r['predicted_errors']} | "
                      f"{r['ratio']} | {verdict} | {consistent} |")
    print("\n| model | data | calls | GQ log-likelihood (higher is better) |\n|---|---|---|---|")
    for model, name, sites in per_set + [(m, "all of the above", s) for m, s in per_model.items()]:
        print(f"| {model} | {name} | {len(sites)} | {gq_log_likelihood(sites)} |")
    plot(results, args.plot)
    print(f"plot -> {args.plot}", file=sys.stderr)
    if args.json:
        write_json(args.json, {"per_model": results, "per_set": [(m, n, bin_rows(s)) for m, n, s in per_set],
                               "log_likelihood": {"per_model": {m: gq_log_likelihood(s) for m, s in per_model.items()},
                                                  "per_set": [(m, n, gq_log_likelihood(s)) for m, n, s in per_set]}},
                   indent=2)


if __name__ == "__main__":
    main()
