"""Per-sequencer defaults (`--model-type`, docs/design.md §10) and how they combine with a model and a user's flags.

A make_examples setting comes from, in order of precedence:
1. the user's flag, when given;
2. the model, for what decides how its examples must look: pileup width (its input shape), the HP channel
   and ALT-aligned channels (its channel list), realignment (recorded at training);
3. the preset of the model type: candidate thresholds, partitioning, read caps and filters, haplotype sorting.

Haplotype sorting is off in every preset: the read-set network pools over reads, so the order of the rows
cannot change a call (tests/test_model.py pins it; measured on whatshap-tagged HiFi and ONT: identical VCFs).
The HP tag reaches the model through the HP channel instead.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, replace
from typing import Sequence

from .alignment_files import shared_reads_warning
from .candidate_filter import FILE_NAME as CANDIDATE_FILTER_FILE, load_candidate_filter
from .damage import DamageFilter
from .error_model import GATE_MIN_ODDS
from .errors import InputError, ModelError
from .examples_io import read_sidecar, read_sidecars, settings_unlike_model as examples_unlike_model
from .identity import individuals_warning
from .make_examples import MakeExamplesOptions, calling_regions
from .model_info import INFO_FILE, ModelInfo, load_model_info, warn_if_unfinished
from .pileup import DIFF_CHANNEL_ENUMS, HP_CHANNEL_ENUM, TECHNOLOGY_CHANNEL_ENUM
from .read_events import LONG_READ_BASES
from .reads import (LongReadProfile, count_long, long_read_profile, open_reads, read_group_platforms, read_lengths,
                    unreferenced_reads_warning)
from .reference import Reference
from .regions import Region
from .settings import MODEL_TYPES, SETTING_KEYS, SETTINGS, UNRECORDED, preset_values

log = logging.getLogger("dvcall")


@dataclass(frozen=True)
class Preset:
    model: str  # shipped model directory under models/
    settings: dict


# The shipped model of each --model-type; the make_examples defaults come from the settings table. DeepVariant's
# PACBIO and ONT_R104 presets are the model: no short-read realigner (reads > 500 bp are skipped anyway), an HP
# channel (DeepVariant also sorts rows by HP; see above), wider partitions with fewer reads, stricter indel fraction.
SHIPPED_MODELS = {"illumina": "illumina-wgs", "pacbio": "pacbio-hifi", "ont": "ont", "hybrid": "hybrid-hifi-illumina"}
PRESETS = {mt: Preset(SHIPPED_MODELS[mt], preset_values(mt)) for mt in MODEL_TYPES}
# The reads each --model-type's model was trained on (the hybrid one: both kinds, one file of each).
READ_KINDS = {"illumina": "short", "pacbio": "long", "ont": "long", "hybrid": None}


def preset(model_type: str) -> Preset:
    try:
        return PRESETS[model_type]
    except KeyError:
        raise InputError(f"--model-type {model_type!r} is not known: use one of {', '.join(MODEL_TYPES)}") from None


def model_look(info: ModelInfo) -> dict:
    """Settings a model fixes: read off its input shape and channels, plus those recorded at training.
    Models from before settings were recorded were trained without realignment. Row order is not part of the
    look: the network pools over reads."""
    channels, recorded = list(info.channels), info.settings
    for setting in SETTINGS:
        if setting.key in recorded and not setting.accepts(recorded[setting.key]):
            raise ModelError(f"the model's model_info.json records {setting.key}={recorded[setting.key]!r}, which "
                             f"{setting.flag} cannot be: the file is damaged or was edited by hand; restore it")
    # Models recorded before long-read realignment existed leave it to the preset (the shipped hybrid model was
    # measured with and without it; its card has both).
    optional = {key: recorded[key] for key in ("realign_long_reads",) if key in recorded}
    return optional | {
        "pileup_width": info.shape[1],
        "hp_channel": HP_CHANNEL_ENUM in channels,
        "technology_channel": TECHNOLOGY_CHANNEL_ENUM in channels,
        "realign": bool(recorded.get("realign", False)),
        **{key: recorded.get(key, before) for key, before in UNRECORDED.items()},  # what models before the key had
        "alt_aligned_pileup": recorded.get("alt_aligned_pileup",
                                           "diff_channels" if set(DIFF_CHANNEL_ENUMS) <= set(channels) else "none"),
    }


def resolve_settings(model_type: str, info: ModelInfo | None, **flags) -> dict:
    """Every make_examples setting: the user's flags (None = not given) over the model over the preset."""
    unknown = set(flags) - set(SETTING_KEYS)
    if unknown:
        raise InputError(f"unknown make_examples settings {sorted(unknown)}: use some of {', '.join(SETTING_KEYS)}")
    settings = dict(preset(model_type).settings)
    if info is not None:
        settings.update(model_look(info))
    settings.update({k: v for k, v in flags.items() if v is not None})
    return settings


def settings_unlike_model(info: ModelInfo | None, flags: dict) -> list[str]:
    """One warning line per flag (None = not given) that sets a make_examples setting otherwise than the model
    was trained with: such examples show the reads differently from every example the model learnt and was
    measured on, so its calls there are unmeasured."""
    if info is None:
        return []
    look = model_look(info)
    lines = []
    for setting in SETTINGS:
        value = flags.get(setting.key)
        if value is None or setting.key not in look or look[setting.key] == value:
            continue
        lines.append(f"{setting.flag_text(value)}: the model was trained on examples made with "
                     f"{setting.flag_text(look[setting.key])}, and its accuracy was measured only that way; "
                     "leave the flag out to use the model's setting")
    return lines


def warn_about_settings_unlike_model(info: ModelInfo | None, flags: dict) -> None:
    """Log settings_unlike_model's lines as warnings."""
    for line in settings_unlike_model(info, flags):
        log.warning("%s", line)


def make_examples_options(settings: dict, base: MakeExamplesOptions | None = None,
                          model_dir: str | None = None) -> MakeExamplesOptions:
    """`base` (default options) with every resolved setting applied: the one place settings become options.
    `model_dir`: the model the examples are for; its candidate pre-filter (candidate_filter.json, when it ships
    one) is loaded when the settings want it (training examples pass none: they cover every candidate)."""
    base = base or MakeExamplesOptions()
    path = os.path.join(model_dir, CANDIDATE_FILTER_FILE) if model_dir else None
    use_filter = bool(settings["candidate_filter"]) and path is not None and os.path.exists(path)
    return replace(
        base, candidate_filter=load_candidate_filter(path) if use_filter else None, realign=settings["realign"],
        damage_filter=DamageFilter() if settings["ffpe_filter"] else None,
        recurrent_error_gate=GATE_MIN_ODDS if settings["recurrent_error_gate"] else None,
        realigner=replace(base.realigner, long_reads=settings["realign_long_reads"]),
        partition_size=settings["partition_size"],
        read_filter=replace(base.read_filter, min_mapping_quality=settings["min_mapping_quality"],
                            max_reads_per_partition=settings["max_reads_per_partition"]),
        thresholds=replace(base.thresholds, min_fraction_snps=settings["vsc_min_fraction_snps"],
                           min_fraction_indels=settings["vsc_min_fraction_indels"],
                           min_base_quality=settings["min_base_quality"]),
        pileup=replace(base.pileup, width=settings["pileup_width"], min_mapping_quality=settings["min_mapping_quality"],
                       min_base_quality=settings["min_base_quality"],
                       alt_aligned_pileup=settings["alt_aligned_pileup"], indel_reads=settings["indel_reads"],
                       support_channel=settings["support_channel"],
                       sort_by_haplotypes=settings["sort_by_haplotypes"],
                       hp_channel=settings["hp_channel"], technology_channel=settings["technology_channel"]))


DEFAULT_MODEL_TYPE = "illumina"


def model_type_for(model_type: str | None, model_dir: str | None) -> str:
    """The --model-type a command runs under: the one given, else the one a --model records (the preset its
    training examples were made under: a retrained ONT model gets ONT's thresholds), else illumina."""
    try:
        recorded = _recorded_model_type(model_dir)
    except ModelError:
        recorded = None  # the command's own model check says what is wrong with it
    if model_type is not None and recorded is not None and model_type != recorded:
        log.warning("--model-type %s, but %s was trained on examples made under --model-type %s: its thresholds "
                    "(candidate fractions, MAPQ, partition size) are now %s's; leave --model-type out to use %s's",
                    model_type, model_dir, recorded, model_type, recorded)
    return model_type or recorded or DEFAULT_MODEL_TYPE


def model_type_defaulted(model_type: str | None, model_dir: str | None) -> bool:
    """Whether model_type_for falls back to the default: no --model-type given and no --model recording one."""
    if model_type is not None:
        return False
    try:
        return _recorded_model_type(model_dir) is None
    except ModelError:
        return False  # an unreadable model: its own check is the error, not the reads'


def _recorded_model_type(model_dir: str | None) -> str | None:
    """The model_type a --model's model_info.json records (None: no --model, no such file, or none recorded); a
    ModelError when the file cannot be read."""
    if model_dir is None or not os.path.isfile(os.path.join(model_dir, INFO_FILE)):
        return None
    return load_model_info(model_dir).model_type


def resolve_model(model_type: str, model_dir: str | None, required: bool = True) -> tuple[str | None, ModelInfo | None]:
    """(model directory, its model_info): the user's --model, else the preset's shipped model. With
    `required=False` (making training examples for a new model) a missing shipped model gives (None, None)."""
    from .model import default_model_dir

    if model_dir is None:
        shipped = default_model_dir(preset(model_type).model)
        if not os.path.isdir(shipped):
            if required:
                raise ModelError(f"no shipped model for --model-type {model_type} ({shipped} is missing): "
                                 "train one (docs/retraining.md) and pass it with --model")
            return None, None
        model_dir = shipped
    info = load_model_info(model_dir)
    warn_if_unfinished(model_dir)
    return model_dir, info


def model_for_examples(paths: list[str]) -> tuple[str, str | None]:
    """(model directory, why it was chosen: None for the default) that call-variants runs when given no --model:
    the model make-examples recorded making them for (its sidecars; a pip-installed shipped one from where this dvcall has it; an
    error when a model of one's own is gone or no longer takes their tensor, as postprocess refuses calls whose model
    is gone); for examples that record none, the first shipped model (SHIPPED_MODELS' order, Illumina first) that reads their tensor and was trained on
    examples made with their settings (`make-examples --model-type ont` examples got the Illumina model and a shape
    error); else the Illumina model, which then says how they differ."""
    from .model import SHIPPED_MODEL_NAMES, default_model_dir

    info = read_sidecars(paths, "call each set of examples")
    made_for = {read_sidecar(p).model for p in paths} - {None}
    if len(made_for) > 1:
        raise InputError(f"the examples were made for different models ({', '.join(sorted(made_for))}): pass the one to "
                         "call them with as --model")
    if made_for:  # the model they were made for, or nothing: another model's calls would pass for that model's
        folder, how = made_for.pop(), "the model make-examples made them for"
        name = os.path.basename(folder.rstrip(os.sep))
        if (not os.path.isfile(os.path.join(folder, INFO_FILE)) and name in SHIPPED_MODEL_NAMES
                and os.path.basename(os.path.dirname(folder.rstrip(os.sep))) == "dvcall_models"):
            # a pip-installed shipped model whose install moved (another venv); a folder named models/NAME may be a
            # user's own model, so a moved checkout's examples still ask for --model
            folder, how = default_model_dir(name), f"the shipped model {name} they were made for, from this install"
        if not os.path.isfile(os.path.join(folder, INFO_FILE)):
            raise InputError(f"the examples were made for the model in {folder}, which is no longer there: pass that "
                             "model (moved, or on another machine) as --model")
        try:
            load_model_info(folder).input_channels(info.shape, info.channels)
        except ModelError:
            raise InputError(f"the examples were made for the model in {folder}, which now reads other tensors (retrained "
                             "in place?): remake the examples, or pass the model to call them with as --model") from None
        return folder, how
    for model_type, name in SHIPPED_MODELS.items():
        model_dir = default_model_dir(name)
        if not os.path.isdir(model_dir):
            continue
        model = load_model_info(model_dir)
        try:
            model.input_channels(info.shape, info.channels)
        except ModelError:
            continue
        if examples_unlike_model(paths, model.settings, model_dir) is None:
            return model_dir, f"the shipped --model-type {model_type} model, whose tensor and settings they have"
    return default_model_dir(SHIPPED_MODELS["illumina"]), None


def model_read_kind(info: ModelInfo) -> str | None:
    """The reads a model was trained on, from the channels it reads: the HP channel means long reads ("long"), the
    technology channel too both kinds (the hybrid model: None), neither short reads ("short")."""
    if TECHNOLOGY_CHANNEL_ENUM in info.channels:
        return None
    return "long" if HP_CHANNEL_ENUM in info.channels else "short"


MIXED_LEAST_LONG, MIXED_LONG_SHARE = 5, 0.005  # this many long reads among short ones: a second technology
MIXED_LONG_BASES = 1000  # ... counting reads over this: merged overlapping Illumina pairs reach ~590 bp


def read_kind_warning(model_type: str, n_reads: int, n_long: int, model_dir: str | None = None,
                      kind: str | None = None, n_second: int | None = None) -> str | None:
    """What to tell a user whose reads (n_reads sampled, n_long of them long) are not the kind the model was trained
    on: short-read calls from a long-read model, or the reverse, are far less accurate. The model is the model type's,
    or, with `model_dir`, the one given with --model, whose read kind is `kind` (model_read_kind)."""
    expects = kind if model_dir else READ_KINDS.get(model_type)
    subject = f"--model {model_dir}" if model_dir else f"--model-type {model_type}"
    if expects is None or n_reads == 0:
        return None
    # Long reads among short ones: no Illumina read is that long, so a few are a second technology (HiFi beside
    # Illumina at equal depth are ~3% of the reads, half of the bases: hostile19 called them with the Illumina
    # model, 44 INDEL FPs, without a word)
    second = n_long if n_second is None else n_second  # reads over MIXED_LONG_BASES: no Illumina read, merged or not
    mixed = second >= max(MIXED_LEAST_LONG, MIXED_LONG_SHARE * n_reads)
    if expects == "short" and n_long > n_reads / 2:
        return (f"{n_long:,} of {n_reads:,} sampled reads are long (over {LONG_READ_BASES} bp: HiFi or ONT), but "
                f"{subject} is for short reads: "
                + ("call them with a long-read model (--model-type pacbio for HiFi, or ont, without --model)" if model_dir
                   else "use --model-type pacbio (HiFi) or ont"))
    if expects == "short" and mixed:
        return (f"{second:,} of {n_reads:,} sampled reads are long (over {MIXED_LONG_BASES:,} bp: HiFi or ONT) beside short "
                f"ones, but {subject} is for short reads alone: for one sample's HiFi and Illumina reads use "
                f"--model-type hybrid{' without --model' if model_dir else ''}, or call each kind with its own model type")
    if expects == "long" and n_long < n_reads / 2:
        advice = ("use --model-type hybrid for HiFi and Illumina reads of one sample, or call each kind with its own "
                  "model type" if mixed else
                  "call them with a short-read model (--model-type illumina without --model)" if model_dir else
                  "use --model-type illumina")
        return (f"{n_reads - n_long:,} of {n_reads:,} sampled reads are short ({LONG_READ_BASES} bp or less: Illumina), "
                f"but {subject} is for long reads: {advice}")
    return None


PLATFORM_MODEL_TYPES = {"PACBIO": "pacbio", "ONT": "ont", "ILLUMINA": "illumina"}  # @RG PL -> the model type for it


def platform_warning(model_type: str, platforms: set[str]) -> str | None:
    """One line when the reads' @RG PL names one long-read platform and --model-type is the other one (HiFi and
    ONT reads are both long: their lengths cannot tell them apart)."""
    if model_type not in ("pacbio", "ont") or len(platforms) != 1:
        return None
    (platform,) = platforms
    wanted = PLATFORM_MODEL_TYPES.get(platform)
    if wanted in ("pacbio", "ont") and wanted != model_type:
        return (f"the reads' @RG PL is {platform}, but --model-type {model_type} is for "
                f"{'PacBio HiFi' if model_type == 'pacbio' else 'Oxford Nanopore'} reads: use --model-type {wanted}")
    return None


HIFI_MOST_INDELS_PER_KB = 3.0  # sampled long reads above this are not HiFi-like (HiFi 0.8-1.8, ONT R10 ~4)
HIFI_LIKE_INDELS_PER_KB = 2.5  # below this a long-read BAM labelled ONT may well be HiFi


ONT_MOST_MEAN_QUALITY = 40.0  # the ont model trained on qualities 24 +- 6; ONT basecallers write mostly Q10-40


def long_read_kind_warning(model_type: str, profile: LongReadProfile | None, platforms: set[str]) -> str | None:
    """One line when the sampled long reads (reads.long_read_profile) are not the kind --model-type is for: ONT
    reads called as HiFi (no @RG PL, or PL:PACBIO) went from 1 to 12 INDEL false positives on a simulated R10 sample,
    and a PL tag alone had told nothing (or the wrong thing); ONT reads with qualities on a Q50+ scale lost a
    seventh of their indels under the ont model, which never saw such qualities."""
    if profile is None:
        return None
    rate = profile.indels_per_kb
    if model_type == "pacbio" and rate > HIFI_MOST_INDELS_PER_KB:
        return (f"the long reads show {rate:.1f} indels per 1,000 aligned bases, more than PacBio HiFi reads do (about "
                "1-2; ONT R10 about 4, R9 far more): if these are Oxford Nanopore reads, use --model-type ont")
    if model_type == "ont" and rate < HIFI_LIKE_INDELS_PER_KB and "ONT" not in platforms:
        return (f"the long reads show {rate:.1f} indels per 1,000 aligned bases, as PacBio HiFi reads do (about 1-2; ONT "
                "R10 about 4): if these are HiFi reads, use --model-type pacbio")
    if model_type == "ont" and profile.mean_quality > ONT_MOST_MEAN_QUALITY:
        return (f"the long reads' mean base quality is {profile.mean_quality:.0f}, above what ONT basecallers write "
                "(mostly 10-40) and what the ont model was trained on (24 +- 6), so its indel calls suffer: if the "
                "qualities were rescaled, call the basecaller's own")
    return None


def warn_about_read_kind(model_type: str, sources, regions: list[Region], model_dir: str | None = None,
                         defaulted: bool = False) -> None:
    """Log read_kind_warning's line (the run goes on) for the first reads of `regions` (reads.long_read_count),
    else what the long reads' indel rate and qualities say (long_read_kind_warning), else platform_warning's from the reads' @RG PL
    unless the indel rate contradicts it. `model_dir`: the model the user gave with --model, if any, checked too
    (the model type still sets make_examples' defaults). `defaulted` (model_type_defaulted): nobody chose the
    model type; long reads under it are then an InputError, not a warning (hostile18: a HiFi BAM called with the
    default Illumina model, exit 0, a worse VCF that looks normal; DeepVariant asks for --model_type every time)."""
    lengths = read_lengths(sources, regions)
    counts, second = count_long(lengths), count_long(lengths, MIXED_LONG_BASES)[1]
    by_type = read_kind_warning(model_type, *counts, n_second=second)
    if defaulted and model_dir is None and by_type and READ_KINDS.get(model_type) == "short":
        raise InputError(f"{by_type} (no --model-type was given: {model_type} is only the default)")
    # the --model's own kind first: its --model-type may only be the one it records (verify41: "--model-type ont is
    # for long reads: use --model-type illumina" for `run --model ont-model`, advice that keeps the ONT network)
    text = (model_dir and read_kind_warning(model_type, *counts, model_dir, model_read_kind(load_model_info(model_dir)),
                                            n_second=second)) or by_type
    if not text and model_type in ("pacbio", "ont"):
        platforms = read_group_platforms(sources)
        profile = long_read_profile(sources, regions)
        text = long_read_kind_warning(model_type, profile, platforms)
        if not text and not (model_type == "pacbio" and profile is not None and profile.indels_per_kb < HIFI_LIKE_INDELS_PER_KB):
            text = platform_warning(model_type, platforms)  # (a HiFi-like rate outweighs a PL:ONT label)
        if text and model_dir:  # the --model's network is for the other long-read kind: a --model-type alone keeps it
            text = re.sub(r"use --model-type (\w+)$", r"call them with the \1 model (--model-type \1 without --model) or "
                          "a model trained on such reads", text)
    if text:
        log.warning("%s", text)


def warn_about_reads_of_files(model_type: str, ref: str, reads: list[str], regions: list[Region],
                              model_dir: str | None = None, defaulted: bool = False, individuals: bool = True,
                              exclude: Sequence[Region] = ()) -> None:
    """warn_about_read_kind, and for a run over the whole genome (no `regions`) reads on contigs the reference
    lacks, for reads files not yet open (make-examples; `dvcall run` has them open already). With `individuals`,
    also whether several files look like one individual's (identity.individuals_warning over the calling regions,
    `regions` less `exclude`: one shard says it)."""
    reference = Reference(ref)
    try:
        with open_reads(reads, reference) as sources:
            warn_about_read_kind(model_type, sources, regions, model_dir, defaulted)
            if (shared := shared_reads_warning(sources)):
                log.warning("%s", shared)
            if individuals and (other := individuals_warning(
                    sources, reference, calling_regions(reference, set(sources.references), regions or None, exclude))):
                log.warning("%s", other)
            if not regions and (unreferenced := unreferenced_reads_warning(sources, reference)):
                log.warning("%s", unreferenced)
    finally:
        reference.close()
