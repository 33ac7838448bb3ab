#!/usr/bin/env python3
"""Pick a training run's epoch by its errors on whole calibration samples instead of a few tuning examples.

Usage: python scripts/pick_epoch.py --training-dir work_lr/model_ont_seed1 --tune-examples TUNE.tfrecord.gz \
           --sample work_lr/calib_ont_grch38_1_20x_e0.7_h0.5 --sample ... --output work_lr/model_ont_pick

`dvcall train --keep-epochs` leaves every epoch's model in TRAINING_DIR/epoch-N. Each one gets its own temperature
(`dvcall calibrate` on --tune-examples, as the recipes do for the model they ship; none under 100 examples), calls every --sample with
`dvcall run` as a user would (the sample's --model-type preset), and is scored over the sample's span
(deepvariant_py.evaluate: SNP and INDEL false positives + false negatives). The epoch with the fewest errors in all
is copied to --output (a model folder; fewer errors wins, a tie goes to the later epoch, trained at a lower learning
rate); a table of every epoch's errors by sample is printed, and written as JSON with --json. The samples must be
ones the network never trained on, and not the held-out test samples a model card reports.

Why: a long-read tuning set holds ~1,000 examples, and epochs differ there by one or two of them (the ONT recipe's
three epochs, trained twice with one seed, scored 0.9932 / 0.9864 / 0.9922 and picked epoch 1, which made 443
errors on the nine ONT calibration samples where epoch 3 made 326, and the held-out rows agreed:
models/ont/MODEL_CARD.md). It is no rule of nature: on HiFi the calibration samples chose an epoch that did worse
on held-out samples (models/pacbio-hifi/MODEL_CARD.md), so the HiFi recipe keeps the tuning pick.
"""
from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
sys.path.insert(0, os.path.dirname(HERE))

from accuracy import call_dvcall, datasets  # noqa: E402

from deepvariant_py.calibration import MIN_FIT_EXAMPLES  # noqa: E402
from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.examples_io import expand_paths  # noqa: E402
from deepvariant_py.evaluate import evaluate  # noqa: E402
from deepvariant_py.model_info import load_model_info, save_model_info  # noqa: E402
from deepvariant_py.model import shipped_model_problem  # noqa: E402
from deepvariant_py.outputs import write_json  # noqa: E402
from deepvariant_py.tfrecord import read_records  # noqa: E402
from deepvariant_py.train import epoch_dirs  # noqa: E402

def choose(errors: dict[int, int]) -> int:
    """The epoch with the fewest errors; a tie goes to the later epoch (trained longer, at a lower learning rate)."""
    return min(errors, key=lambda epoch: (errors[epoch], -epoch))


PICKED_FILES = {"model.keras", "model_info.json"}  # what an epoch-N folder holds, copied to --output


def output_problem(output: str, training_dir: str) -> str | None:
    """Why --output may not be replaced by the chosen model (None: it may): only a model folder is replaced, and
    never the training folder or a folder holding it."""
    out, train = os.path.realpath(output), os.path.realpath(training_dir)
    if out == train or train.startswith(out.rstrip(os.sep) + os.sep):
        return f"--output {output} holds the training folder: give a new folder for the chosen model"
    if os.path.exists(output) and not os.path.exists(os.path.join(output, "model_info.json")):
        return f"--output {output} exists and is not a model folder: give a new folder for the chosen model"
    if (problem := shipped_model_problem(output, "--output")):
        return problem
    if os.path.isdir(output) and (more := sorted(set(os.listdir(output)) - PICKED_FILES)):
        # an earlier pick holds only these; a finished model's card, merger or GQ-map notes would be deleted
        return (f"--output {output} holds a model with more than a pick writes ({', '.join(more[:4])}): give a new "
                "folder for the chosen model (scripts/model_install.sh installs it over that one)")
    return None


def errors_of(result) -> int:
    return result.snp.fp + result.snp.fn + result.indel.fp + result.indel.fn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--training-dir", required=True, help="a `dvcall train --keep-epochs` output folder (holds epoch-N/)")
    ap.add_argument("--tune-examples", required=True, help="labelled examples to fit each epoch's temperature on")
    ap.add_argument("--sample", action="append", default=[], help="simulated calibration sample folder (repeatable)")
    ap.add_argument("--output", required=True, help="model folder to write the chosen epoch's model to (replaced)")
    ap.add_argument("--json", default=None, help="also write every epoch's errors by sample here")
    args = ap.parse_args()
    prog = os.path.basename(sys.argv[0])
    if not args.sample:
        sys.exit(f"{prog}: error: give at least one --sample (a calibration sample folder)")
    if not os.path.isdir(args.training_dir):
        sys.exit(f"{prog}: error: --training-dir {args.training_dir} is not a folder")
    problem = output_problem(args.output, args.training_dir)
    if problem:
        sys.exit(f"{prog}: error: {problem}")
    epochs = epoch_dirs(args.training_dir)
    if not epochs:
        sys.exit(f"{prog}: error: {args.training_dir} holds no epoch-N folder: train with `dvcall train --keep-epochs`")
    samples = datasets(args.sample)
    if len(samples) != len(args.sample):
        sys.exit(f"{prog}: error: some --sample folders hold no sample.json (see the notes above)")

    table: dict[int, dict[str, int]] = {}
    counted = sum(1 for p in expand_paths(args.tune_examples) for _ in itertools.islice(read_records(p), MIN_FIT_EXAMPLES))
    calibrate = counted >= MIN_FIT_EXAMPLES
    if not calibrate:  # dvcall calibrate refuses so few: compare the epochs as they are
        print(f"{prog}: --tune-examples hold {counted} labelled examples, under the {MIN_FIT_EXAMPLES} a temperature needs: "
              "each epoch is called at temperature 1", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="pick_epoch_") as tmp:
        for epoch, folder in epochs.items():
            model = os.path.join(tmp, f"epoch-{epoch}")
            shutil.copytree(folder, model)
            try:
                if calibrate:
                    subprocess.run([sys.executable, "-m", "deepvariant_py.cli", "calibrate", "--model", model,
                                    "--examples", args.tune_examples, "--quiet"], check=True)
                table[epoch] = {}
                for i, ds in enumerate(samples):
                    vcf = os.path.join(tmp, f"e{epoch}.{i}.vcf.gz")
                    call_dvcall(ds, vcf, model)
                    table[epoch][ds.name] = errors_of(evaluate(ds.truth, vcf, ds.ref, regions=[ds.region0], bed=ds.bed))
            except subprocess.CalledProcessError as exc:
                sys.exit(f"{prog}: error: epoch {epoch}: a dvcall step failed (exit {exc.returncode}; its message is above)")
            except DvcallError as exc:
                sys.exit(f"{prog}: error: epoch {epoch}: {exc}")
            print(f"epoch {epoch}: {sum(table[epoch].values())} errors", file=sys.stderr, flush=True)
        totals = {epoch: sum(by_sample.values()) for epoch, by_sample in table.items()}
        best = choose(totals)
        names = [ds.name for ds in samples]
        print("| sample | " + " | ".join(f"epoch {e}" for e in table) + " |")
        print("|---|" + "---|" * len(table))
        for name in names:
            print(f"| {name} | " + " | ".join(str(table[e][name]) for e in table) + " |")
        print("| **SNP + INDEL FP + FN** | " + " | ".join(f"**{totals[e]}**" if e == best else str(totals[e]) for e in table) + " |")
        chosen = os.path.join(tmp, f"epoch-{best}")  # with its temperature
        info = load_model_info(chosen)
        notes = dict(info.notes, epoch_pick={"epoch": best, "errors_by_epoch": {str(e): t for e, t in totals.items()},
                                             "samples": [os.path.basename(s.rstrip("/")) for s in args.sample]})
        save_model_info(chosen, replace(info, notes=notes))
        if os.path.exists(args.output):
            shutil.rmtree(args.output)
        shutil.copytree(chosen, args.output)
    if args.json:
        write_json(args.json, {"chosen_epoch": best, "errors": {str(e): v for e, v in table.items()}}, indent=2)
    print(f"{prog}: epoch {best} ({totals[best]} errors) -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
