"""`dvcall calibrate`: fit a model's temperature on labelled tuning examples, so its GQ says what it means."""
import os
from dataclasses import replace

import click

from deepvariant_py.calibration import MIN_FIT_EXAMPLES, at_temperature, fit_temperature, negative_log_likelihood, temperature_at_bound
from deepvariant_py.call_variants import predict_labelled
from deepvariant_py.errors import InputError
from deepvariant_py.examples_io import expand_paths, recorded_spans
from deepvariant_py.model import shipped_model_problem
from deepvariant_py.model_info import INFO_FILE, load_model_info, save_model_info, warn_if_unfinished
from deepvariant_py.outputs import check_outputs

from .common import files_option, user_errors


FEW_EXAMPLES = 200  # below this many tuning examples a fitted temperature is mostly noise: a warning
TOO_FEW_EXAMPLES = MIN_FIT_EXAMPLES  # below this many, nothing is written


@click.command("calibrate")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Model directory to calibrate; its model_info.json gets the temperature.")
@files_option("--examples", required=True,
              help="Labelled examples the model did not train on (a simulated tuning set: path, glob or comma-separated list).")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def calibrate_cmd(model_dir, examples, quiet):
    """Fit the temperature that makes the model's genotype probabilities honest and store it with the model.

    Calls do not change; GQ, QUAL and PL do (postprocess applies it). Fit it on simulated tuning data, never on
    the data you will measure on.
    """
    if (problem := shipped_model_problem(model_dir)):
        raise InputError(problem)
    info = load_model_info(model_dir)
    warn_if_unfinished(model_dir)
    info_path = os.path.join(model_dir, INFO_FILE)
    paths = expand_paths(examples)
    check_outputs({"model_info.json": info_path}, {f"--examples {p}": p for p in paths})
    if (trained_there := info.trained_where(recorded_spans(paths))):  # before the prediction's minutes
        click.echo(f"dvcall: warning: the --examples {trained_there}", err=True)
    probs, labels = predict_labelled(model_dir, examples)
    if len(labels) < TOO_FEW_EXAMPLES:
        raise InputError(f"--examples hold only {len(labels):,} labelled example(s): a temperature fitted on so few is noise, "
                         f"and {info_path} is left as it was; fit on a few thousand labelled examples the model did not "
                         "train on (a simulated tuning set)")
    temperature = fit_temperature(probs, labels)
    before, after = negative_log_likelihood(probs, labels), negative_log_likelihood(probs, labels, temperature)
    fit = {"examples": int(len(labels)), "errors": int((probs.argmax(axis=1) != labels).sum()),
           "nll_before": round(before, 5), "nll_after": round(after, 5)}
    at_bound = temperature_at_bound(temperature)
    why = (f"the temperature fit stopped at its bound ({temperature:.2f}): the {len(labels):,} examples hold "
           f"{fit['errors']} wrong call(s), too few to fit on")
    if at_bound and (info.calibration.maps_gq or abs(info.calibration.temperature - 1.0) > 1e-6):
        # a bound is no fit: it must not replace a calibration (and with it the GQ map fitted at that temperature)
        raise InputError(f"{why}; {info_path} is left as it was (temperature {info.calibration.temperature:g}"
                         f"{' and its GQ map' if info.calibration.maps_gq else ''}): fit on labelled examples with errors "
                         "(noisier or lower-coverage reads)")
    calibration, map_dropped = at_temperature(info.calibration, round(temperature, 4))
    refit = info.refitted(calibration, temperature_fit=fit)  # the calibration replaced is kept in it, whole
    if map_dropped:  # the dropped map's fit notes go with it
        refit = replace(refit, notes={k: v for k, v in refit.notes.items() if k != "gq_calibration_fit"})
    save_model_info(model_dir, refit)
    if map_dropped:
        click.echo(f"dvcall: warning: the model's GQ map was fitted at temperature {info.calibration.temperature:g} and "
                   "no longer applies: it was removed; refit it on calibration samples (scripts/fit_gq_calibration.py)",
                   err=True)
    if len(labels) < FEW_EXAMPLES and not at_bound:
        click.echo(f"dvcall: warning: the temperature is fitted on only {len(labels):,} examples holding {fit['errors']} wrong "
                   f"call(s): it is uncertain; fit on a few thousand labelled examples", err=True)
    if at_bound:
        click.echo(f"dvcall: warning: {why}; it sharpens GQ, so fit the GQ map at this temperature next "
                   "(scripts/fit_gq_calibration.py on calibration samples), or fit on labelled examples with errors "
                   "(noisier or lower-coverage reads)", err=True)
    if not quiet:
        click.echo(f"dvcall: temperature {temperature:.3f} on {len(labels):,} examples: mean negative log-likelihood "
                   f"{before:.4f} -> {after:.4f} -> {info_path}", err=True)
