"""train: fit the genotype CNN on labelled examples, keep the best checkpoint on a tuning set, resume after a stop."""
from __future__ import annotations

import json
import math
import logging
import os
import re
import time
from dataclasses import dataclass, replace

from .errors import InputError
from .outputs import repeated_file, write_json
from .resume import LOCK_FILE, DirectoryLock
from .examples_io import (check_same_settings, example_dataset, examples_model_type, expand_paths, read_sidecars,
                          recorded_spans, spans_overlap)
from .tf_runtime import keras as tf_keras, tensorflow
from .tfrecord import parse_example, read_records
from .ensemble import is_ensemble_dir
from .model import COLUMN_FEATURES, ModelInfo, build_model, load_model, load_model_info, model_version, save_model
from .model_info import warn_if_unfinished
from .progress import Progress
from .regions import merge_spans
from .pileup import (BASE_PIXELS, DIFF_CHANNEL_ENUMS, DIFFERS_FROM_REF, HP_CHANNEL_ENUM, MATCHES_REF, SUPPORTS_ALT,
                     SUPPORTS_OTHER)

log = logging.getLogger("dvcall")
TRAINING_SEED = 400620758


CACHE_MEMORY_SHARE = 0.5
"""Decoded examples are held in memory (one pass of decompression, then epochs at full speed) only while they take
at most this share of the memory available when training starts: the model, the shuffle buffer and TensorFlow need
the rest. 108k Illumina examples (177 kB each) took 19 GB and drove a 24 GB machine into swap."""


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cache_fits(need_bytes: int, available_bytes: int | None, share: float = CACHE_MEMORY_SHARE) -> bool:
    """Whether `need_bytes` of decoded examples may be held in memory (unknown memory: yes, as asked)."""
    return available_bytes is None or need_bytes <= share * available_bytes


# Base quality pixel = min(q, 40) * 254 / 40 (pileup._QUAL_VALUE). Channel enums as DeepVariant numbers them.
READ_BASE_ENUM, BASE_QUALITY_ENUM, SUPPORTS_ENUM, DIFFERS_ENUM = 1, 2, 5, 6
NOVASEQ_BINS = ((3, 2), (15, 12), (31, 23), (1000, 37))  # (below this quality, becomes this): RTA3's 4 levels
QUALITY_SHIFTS = (-10, 3)  # a whole run's qualities moved by this many (uniform), as instruments and
                           # recalibration differ
QUALITY_BINNED_SHARE = 0.5  # share of quality-augmented examples binned rather than shifted


@dataclass
class TrainOptions:
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    tune_every: int = 10  # without --tune-examples, every 10th example is held out for tuning
    shuffle_buffer: int = 20000
    cache: bool = True
    init_model: str | None = None
    label_smoothing: float = 1e-3
    channels: list[int] | None = None  # train on these channel enums only (e.g. drop the ALT-aligned ones)
    augment_mapq: float = 0.3  # up to this fraction of reads per example get a random MAPQ in [10, 59]; 0 = off
    haplotype_pooling: bool = True  # with an HP channel in the examples, also pool reads per haplotype (model.py)
    max_pooling: bool = True  # pool each read feature by its maximum over the reads as well as its mean (model.py)
    column_features: int = COLUMN_FEATURES  # width of the network's column convolutions (model.py; 96 in every shipped model)
    augment_qualities: float = 0.0  # this share of examples gets its base qualities binned or shifted (quality_augment)
    quality_shifts: tuple[int, int] = QUALITY_SHIFTS  # ... shifted by a whole number drawn uniformly from this range
    quality_binned_share: float = QUALITY_BINNED_SHARE  # ... binned to NovaSeq's four levels this share of the time, else shifted
    augment_balance: float = 0.0  # this share of heterozygous examples loses part of one allele's reads (balance_augment)
    balance_max_drop: float = 0.6  # ... at most this share of them (0.6: down to ~29% allele fraction, 0.8: ~17%)
    balance_min_haplotype: float = 0.0  # ... and only to counts a haplotype at >= this fraction could show (0 = any)
    augment_errors: float = 0.0  # this share of SNP hom-alt examples gets one alt read's base turned into a low-quality error (error_augment)
    augment_contamination: float = 0.0  # this share of SNP hom-alt examples gets reads of another sample (contamination_augment)
    contamination_max_rate: float = 0.03  # ... each alt read turned to the reference with a rate drawn up to this
    contamination_clean_only: bool = False  # ... only hom-alts whose reads all show the alt at the candidate
    augment_confident_errors: float = 0.0  # this share of SNP hom-ref examples gets more alt reads, at high quality (confident_error_augment)
    confident_errors_max_fraction: float = 0.2  # ... up to this share of the reads at the candidate
    seed: int = TRAINING_SEED  # weights' initialisation, shuffling and augmentation draws (replicate runs differ here only)
    keep_epochs: bool = False  # also save every epoch's weights as a model of its own (output/epoch-N), to pick on other data
    eager: bool = False  # run the network's steps eagerly: no graph tracing (~4 s sooner to start, each step ~13% slower)


# The augmentations draw with stateful random ops: run in parallel, which example gets which draw depends on
# thread timing, and two runs of one seed differ. One at a time (None) they are bit-reproducible, at no
# measurable cost on 2 cores, where the network's steps dominate (`dvcall train`, version 6's flags, 1 epoch of
# 4,194 Illumina examples: 22.0 and 23.2 s one at a time, 22.2 and 23.3 s in parallel, runs interleaved).
AUGMENT_CALLS = None


def _datasets(train_spec: str, tune_spec: str | None, opts: TrainOptions):
    tf = tensorflow()
    paths = expand_paths(train_spec)
    info = read_sidecars(paths, "train on each kind of examples")
    tune_paths = expand_paths(tune_spec) if tune_spec else []
    if tune_paths:
        both = repeated_file(paths + tune_paths)
        if both is not None:
            raise InputError(f"{both} is given as training and as tuning examples: tune on examples held out from "
                             "training (other regions), or leave out --tune-examples to hold out every 10th example")
        tune_info = read_sidecars(tune_paths, "tune on one kind of examples")
        if (overlap := spans_overlap(paths, tune_paths)):
            contig, start, end, bases = overlap
            log.warning("the tuning examples come from where training examples do (%s:%s-%s, %s bp in all, as their "
                        "sidecars record): the tuning accuracy that picks the epoch then flatters it; tune on other "
                        "regions (a contig name of another reference build is another place: then ignore this)",
                        contig, f"{start + 1:,}", f"{end:,}", f"{bases:,}")
        if (tune_info.shape, tune_info.channels) != (info.shape, info.channels):
            raise InputError(f"tuning examples {tune_paths[0]} (shape {list(tune_info.shape)}, channels "
                             f"{list(tune_info.channels)}) differ from the training examples {paths[0]} (shape "
                             f"{list(info.shape)}, channels {list(info.channels)}): make both with the same flags")
    check_same_settings(paths + tune_paths)
    check_first_records(paths + tune_paths, info.shape)
    shape = info.shape
    # tf.data traces each mapped function; AutoGraph's rewriting of it (for Python control flow on tensors, which
    # none of these use: their branches are tf.cond / tf.where) took ~2 s of every run's start (pyinstrument)
    plain = tf.autograph.experimental.do_not_convert

    def augment(ds, edit):
        """`ds` with each training image replaced by edit(image, label), the draws one example at a time (AUGMENT_CALLS)."""
        return ds.map(plain(lambda image, label: (edit(image, label), label)), num_parallel_calls=AUGMENT_CALLS)

    full = example_dataset(paths, shape, with_label=True)
    tune_full = example_dataset(tune_paths, shape, with_label=True) if tune_spec else None
    if opts.channels:
        missing = [c for c in opts.channels if c not in info.channels]
        if missing:
            raise InputError(f"channels {missing} are not in the examples (they have {list(info.channels)}): pick from those")
        keep = [info.channels.index(c) for c in opts.channels]
        select = plain(lambda image, label: (tf.gather(image, keep, axis=-1), label))
        full = full.map(select)
        tune_full = tune_full.map(select) if tune_full is not None else None
        info = info.with_channels(opts.channels)
    total = _count_records(paths)
    tune_count = _count_records(tune_paths) if tune_spec else (total + opts.tune_every - 1) // opts.tune_every
    train_count = total if tune_spec else total - tune_count
    if train_count == 0 or tune_count == 0:
        empty, where = ("training", train_spec) if train_count == 0 else ("tuning", tune_spec or train_spec)
        raise InputError(f"no {empty} examples in {where}: make-examples wrote none there (check its --regions and "
                         "--confident-bed), so there is nothing to train on")

    @plain
    def onehot(image, label):
        return image, tf.one_hot(label, 3)

    if tune_spec:
        train_ds, tune_ds = full, tune_full
    else:
        every = opts.tune_every

        @plain
        def is_tune(i, _):
            return i % every == 0

        @plain
        def drop_index(_, x):
            return x

        indexed = full.enumerate()
        train_ds = indexed.filter(plain(lambda i, x: tf.logical_not(is_tune(i, x)))).map(drop_index)
        tune_ds = indexed.filter(is_tune).map(drop_index)
    # Known sizes: Keras plans epochs from them (and says nothing about running out of data); a wrong count fails.
    train_ds = train_ds.apply(tf.data.experimental.assert_cardinality(train_count))
    tune_ds = tune_ds.apply(tf.data.experimental.assert_cardinality(tune_count))
    if opts.cache:
        need = (train_count + tune_count) * math.prod(info.shape)
        avail = available_memory()
        if cache_fits(need, avail):
            train_ds, tune_ds = train_ds.cache(), tune_ds.cache()
        else:
            log.warning("train: the %d decoded examples would take %.1f GB of the %.1f GB of memory available: "
                        "reading them from disk every epoch instead (slower; --no-cache says so up front)",
                        train_count + tune_count, need / 1e9, avail / 1e9)
    train_ds = train_ds.shuffle(opts.shuffle_buffer, seed=opts.seed, reshuffle_each_iteration=True)
    if opts.augment_mapq > 0:
        train_ds = augment(train_ds, lambda image, label: mapq_augment(image, opts.augment_mapq))
    channels = list(info.channels)
    needed = (READ_BASE_ENUM, BASE_QUALITY_ENUM, SUPPORTS_ENUM, DIFFERS_ENUM)
    alt_aligned = [channels.index(c) for c in DIFF_CHANNEL_ENUMS if c in channels]
    for flag, value in (("--augment-errors", opts.augment_errors), ("--augment-contamination", opts.augment_contamination),
                        ("--augment-confident-errors", opts.augment_confident_errors)):
        if value > 0 and not (alt_aligned and all(c in channels for c in needed)):
            raise InputError(f"{flag} needs examples with channels 1, 2, 5, 6 and the ALT-aligned ones (9, 10: they tell "
                             "SNP examples from indel ones): make them with --alt-aligned-pileup diff_channels, or drop the flag")
    if opts.augment_confident_errors > 0:  # before the quality augmentation: the errors' qualities are binned or shifted with the rest
        where = [channels.index(c) for c in needed]
        train_ds = augment(train_ds, lambda image, label: confident_error_augment(
            image, label, opts.augment_confident_errors, opts.confident_errors_max_fraction, *where, alt_aligned))
    if opts.augment_qualities > 0 and BASE_QUALITY_ENUM in channels:
        q = channels.index(BASE_QUALITY_ENUM)
        train_ds = augment(train_ds, lambda image, label: quality_augment(
            image, opts.augment_qualities, q, shifts=opts.quality_shifts, binned_share=opts.quality_binned_share))
    if opts.augment_balance > 0 and SUPPORTS_ENUM in channels:
        s = channels.index(SUPPORTS_ENUM)
        train_ds = augment(train_ds, lambda image, label: balance_augment(
            image, label, opts.augment_balance, s, max_drop=opts.balance_max_drop, min_haplotype=opts.balance_min_haplotype))
    if opts.augment_errors > 0:
        where = [channels.index(c) for c in needed]
        train_ds = augment(train_ds, lambda image, label: error_augment(image, label, opts.augment_errors, *where, alt_aligned))
    if opts.augment_contamination > 0:
        where = [channels.index(c) for c in (READ_BASE_ENUM, SUPPORTS_ENUM, DIFFERS_ENUM)]
        train_ds = augment(train_ds, lambda image, label: contamination_augment(
            image, label, opts.augment_contamination, opts.contamination_max_rate, *where, alt_aligned,
            clean_only=opts.contamination_clean_only))
    train_ds = train_ds.map(onehot).batch(opts.batch_size).prefetch(4)
    tune_ds = tune_ds.map(onehot).batch(512).prefetch(2)
    return train_ds, tune_ds, info, train_count


def _count_records(paths: list[str]) -> int:
    """Records in the files, every one read through TensorFlow before training starts: a truncated or corrupt file
    is one line here, not a DataLossError in the middle of an epoch."""
    tf = tensorflow()
    total = 0
    for path in paths:
        try:
            total += int(tf.data.TFRecordDataset([path], compression_type="GZIP").reduce(0, lambda n, _: n + 1))
        except tf.errors.OpError as exc:  # its message is a page of graph names; the kind is what matters
            raise InputError(f"{path}: the examples file is truncated or corrupt (TensorFlow: {type(exc).__name__}); "
                             "make the examples again") from None
    return total


def check_first_records(paths: list[str], shape: tuple[int, int, int]) -> None:
    """Refuse examples whose first record has no label (made without a truth set) or an image of another size than
    their sidecar's `shape` (a sidecar copied from other examples): training on them failed deep inside TensorFlow,
    as "a bug in dvcall", after the output folder was made."""
    pixels = math.prod(shape)
    for path in paths:
        first = next(read_records(path), None)
        if first is None:
            continue
        example = parse_example(first)
        if "label" not in example:
            raise InputError(f"the examples {path} carry no labels: make labelled examples with "
                             "`dvcall make-examples --truth-vcf T --confident-bed B`")
        if len(example["image/encoded"]) != pixels:
            raise InputError(f"the examples {path} hold images of {len(example['image/encoded']):,} values, but their "
                             f"sidecar ({os.path.basename(path)}.example_info.json) says shape {list(shape)} "
                             f"({pixels:,}): the sidecar belongs to other examples; make these examples again")


def mapq_augment(image, max_fraction: float, ref_rows: int = 5):
    """Give a random subset of read rows a random MAPQ in [10, 59].

    Simulated reads aligned with bwa mem are almost all MAPQ 60, so a model trained on them learns that
    any MAPQ below 60 means a mis-mapped read; real data (bwa aln/sampe, other aligners) has many
    well-placed reads at MAPQ 29 or 37. Perturbing the channel teaches that moderate MAPQ is ordinary.
    """
    tf = tensorflow()
    rows = image.shape[0] - ref_rows
    fraction = tf.random.uniform([], 0.0, max_fraction)
    pick = tf.random.uniform([rows, 1]) < fraction
    mapq = tf.random.uniform([rows, 1], 10, 60, dtype=tf.int32)
    value = tf.cast(tf.cast(mapq, tf.float32) * (254.0 / 60.0), tf.uint8)
    channel = image[ref_rows:, :, 2]
    new = tf.where(pick & (channel > 0), tf.broadcast_to(value, tf.shape(channel)), channel)
    return _with_channel(image, 2, new, ref_rows)


def _with_channel(image, index: int, channel, ref_rows: int):
    tf = tensorflow()
    reads = image[ref_rows:]
    reads = tf.concat([reads[..., :index], channel[..., None], reads[..., index + 1:]], axis=-1)
    return tf.concat([image[:ref_rows], reads], axis=0)


def quality_augment(image, probability: float, quality_index: int = 1, ref_rows: int = 5,
                    shifts: tuple[int, int] = QUALITY_SHIFTS, binned_share: float = QUALITY_BINNED_SHARE):
    """With `probability`, redraw the example's base qualities as another instrument would report them: binned to
    NovaSeq's four levels (2/12/23/37) `binned_share` of the time, else all shifted by one whole number drawn from
    `shifts` (inclusive; default -10..+3, short-read instruments; long-read basecallers differ both ways). The model
    must not learn the exact quality distribution of its simulator."""
    tf = tensorflow()
    image = tf.convert_to_tensor(image)
    pixels = tf.cast(image[ref_rows:, :, quality_index], tf.float32)
    drawn = pixels > 0
    qual = tf.round(pixels * 40.0 / 254.0)
    binned = tf.zeros_like(qual)
    for below, value in reversed(NOVASEQ_BINS):
        binned = tf.where(qual < below, float(value), binned)
    shift = tf.cast(tf.random.uniform([], shifts[0], shifts[1] + 1, dtype=tf.int32), tf.float32)
    shifted = qual + shift
    new = tf.where(tf.random.uniform([]) < binned_share, binned, shifted)
    new = tf.clip_by_value(new, 1.0, 40.0) * (254.0 / 40.0)
    new = tf.where(drawn, tf.cast(new, tf.uint8), tf.zeros_like(image[ref_rows:, :, quality_index]))
    keep = tf.random.uniform([]) >= probability
    return tf.cond(keep, lambda: image, lambda: _with_channel(image, quality_index, new, ref_rows))


def balance_augment(image, label, probability: float, supports_index: int = 4, max_drop: float = 0.6, ref_rows: int = 5,
                    min_haplotype: float = 0.0):
    """With `probability`, a heterozygous example (label 1) loses a random share (up to `max_drop`) of the reads
    of one allele, its alt supporters or the others, picked at random: real hets are seen at 30-70% (and
    beyond) where a simulator draws 50%. Rows of dropped reads become empty (the network pools over reads).

    `min_haplotype` > 0 makes the thinning depth-aware: it is kept only if the thinned allele's remaining reads
    are a count that a haplotype at `min_haplotype` of the reads shows at least 5% of the time at the example's
    new depth (binomial lower tail). At 80x an allele may still drop to ~20%; at 14x, 13 alt reads and 1 other
    are not turned into a het, so the network does not learn that a low-depth hom-alt with one odd read is one."""
    tf = tensorflow()
    image = tf.convert_to_tensor(image)
    supports = image[ref_rows:, :, supports_index]
    # SUPPORTS_ALT, SUPPORTS_OTHER (another allele), SUPPORTS_OTHER_ALT (--support-channel other_alts) or 0 (no read)
    row_value = tf.reduce_max(supports, axis=1)
    is_alt = row_value == SUPPORTS_ALT
    in_group = tf.where(tf.random.uniform([]) < 0.5, is_alt, (row_value > 0) & ~is_alt)
    drop_share = tf.random.uniform([], 0.0, max_drop)
    dropped = in_group & (tf.random.uniform(tf.shape(row_value)) < drop_share)
    reads = tf.where(dropped[:, None, None], tf.zeros_like(image[ref_rows:]), image[ref_rows:])
    thinned = tf.concat([image[:ref_rows], reads], axis=0)
    apply = tf.logical_and(tf.equal(label, 1), tf.random.uniform([]) < probability)
    if min_haplotype > 0:
        kept = tf.reduce_sum(tf.cast(in_group & ~dropped, tf.float32))
        rest = tf.reduce_sum(tf.cast((row_value > 0) & ~in_group, tf.float32))
        apply = tf.logical_and(apply, binomial_cdf(kept, kept + rest, min_haplotype) >= BALANCE_TAIL)
    return tf.cond(apply, lambda: thinned, lambda: image)


CONFIDENT_ERROR_QUALITIES = (25, 40)  # confident_error_augment: an injected error's quality is at least one drawn here


def confident_error_augment(image, label, probability: float, max_fraction: float, base_index: int, quality_index: int,
                            supports_index: int, differs_index: int, alt_aligned: tuple, ref_rows: int = 5):
    """With `probability`, a hom-ref SNP example (label 0) whose candidate has alt reads gets more of them, at high
    quality: the alt reads' share is raised to a fraction drawn uniformly up to `max_fraction` of the reads there
    (reference reads picked at random show the alt base instead) and every alt base gets a quality of at least
    25-40. Real runs hold recurrent errors that carry good qualities (FFPE and oxidative damage, bad cycles,
    systematic context errors: 3-5 alt reads of 25 at Q30-40); simulated errors come at low quality, so a network
    trained on them reads any such site as a het. SNP examples only (the ALT-aligned channels are empty); the label
    is kept."""
    tf = tensorflow()
    image = tf.convert_to_tensor(image)
    reads = image[ref_rows:]
    col = image.shape[1] // 2
    at = reads[:, col, :]
    drawn = at[:, quality_index] > 0
    alt_rows = (at[:, supports_index] == SUPPORTS_ALT) & drawn
    ref_base = image[0, col, base_index]
    ref_like = drawn & (at[:, base_index] == ref_base) & (at[:, supports_index] == SUPPORTS_OTHER)
    alt_base = at[tf.argmax(tf.cast(alt_rows, tf.int32)), base_index]
    depth = tf.reduce_sum(tf.cast(drawn, tf.float32))
    target = tf.floor(tf.random.uniform([], 0.0, max_fraction) * depth)
    extra = tf.cast(tf.maximum(target - tf.reduce_sum(tf.cast(alt_rows, tf.float32)), 0.0), tf.int32)
    scores = tf.where(ref_like, tf.random.uniform(tf.shape(ref_like)), -1.0)
    rank = tf.argsort(tf.argsort(-scores))  # 0 = the highest score: reference reads first, in random order
    flip = ref_like & (rank < extra)
    column = tf.one_hot(col, image.shape[1], on_value=True, off_value=False)[None, :]
    flip_here = flip[:, None] & column
    low, high = CONFIDENT_ERROR_QUALITIES
    floor_q = tf.cast(tf.round(tf.cast(tf.random.uniform(tf.shape(drawn), low, high + 1, dtype=tf.int32), tf.float32)
                               * 254.0 / 40.0), tf.uint8)
    raised = tf.where((alt_rows | flip)[:, None] & column, tf.maximum(reads[..., quality_index], floor_q[:, None]),
                      reads[..., quality_index])
    channel = {base_index: tf.where(flip_here, alt_base, reads[..., base_index]),
               quality_index: raised,
               supports_index: tf.where(flip[:, None] & (reads[..., supports_index] > 0), tf.constant(SUPPORTS_ALT, tf.uint8),
                                        reads[..., supports_index]),
               differs_index: tf.where(flip_here, tf.constant(DIFFERS_FROM_REF, tf.uint8), reads[..., differs_index])}
    ready = tf.reduce_any(alt_rows) & tf.not_equal(alt_base, ref_base)
    return _edit_snp(image, label, 0, probability, channel, alt_aligned, ref_rows, ready)


ERROR_QUALITIES = (5, 20)  # error_augment: the quality an injected error is reported at (uniform, inclusive)


def error_augment(image, label, probability: float, base_index: int, quality_index: int, supports_index: int,
                  differs_index: int, alt_aligned: tuple, ref_rows: int = 5):
    """With `probability`, a hom-alt SNP example (label 2) gets one of its alt reads' bases at the candidate turned
    into another base at quality 5-20, as a sequencing error would: that read no longer supports the alt.
    Simulated hom-alts rarely show such a read (~4% of them), while the other alt's reads at a 1/2 site do, with
    label 1; without this the network reads one low-quality odd base at ~15x as a het. SNP examples only (the
    ALT-aligned channels are empty); the label is kept."""
    tf = tensorflow()
    image = tf.convert_to_tensor(image)
    reads = image[ref_rows:]
    col = image.shape[1] // 2
    at = reads[:, col, :]
    alt_rows = (at[:, supports_index] == SUPPORTS_ALT) & (at[:, quality_index] > 0)
    pick = tf.argmax(tf.random.uniform(tf.shape(alt_rows)) * tf.cast(alt_rows, tf.float32))
    row = tf.one_hot(pick, tf.shape(reads)[0], on_value=True, off_value=False)[:, None]
    column = tf.one_hot(col, image.shape[1], on_value=True, off_value=False)[None, :]
    here = row & column
    bases = tf.constant(BASE_PIXELS, tf.uint8)
    others = tf.boolean_mask(bases, bases != at[pick, base_index])
    new_base = others[tf.random.uniform([], 0, 3, dtype=tf.int32)]
    quality = tf.random.uniform([], ERROR_QUALITIES[0], ERROR_QUALITIES[1] + 1, dtype=tf.int32)
    new_quality = tf.cast(tf.round(tf.cast(quality, tf.float32) * 254.0 / 40.0), tf.uint8)
    differs = tf.where(new_base == image[0, col, base_index], tf.constant(MATCHES_REF, tf.uint8), tf.constant(DIFFERS_FROM_REF, tf.uint8))
    channel = {base_index: tf.where(here, new_base, reads[..., base_index]),
               quality_index: tf.where(here, new_quality, reads[..., quality_index]),
               supports_index: tf.where(row & (reads[..., supports_index] > 0), tf.constant(SUPPORTS_OTHER, tf.uint8),
                                        reads[..., supports_index]),
               differs_index: tf.where(here, differs, reads[..., differs_index])}
    return _edit_snp(image, label, 2, probability, channel, alt_aligned, ref_rows, tf.reduce_any(alt_rows))


def contamination_augment(image, label, probability: float, max_rate: float, base_index: int, supports_index: int,
                          differs_index: int, alt_aligned: tuple, ref_rows: int = 5, clean_only: bool = False):
    """With `probability`, a hom-alt SNP example (label 2) gets reads of another sample: each alt read, with a rate
    drawn uniformly up to `max_rate`, shows the reference base at the candidate instead, at its own quality, and no
    longer supports the alt. Real runs hold such reads (cross-sample contamination, index hopping on patterned flow
    cells: HiSeq X, NovaSeq); simulated hom-alts never do, so a network learns "one clean reference read" as a het.
    SNP examples only (the ALT-aligned channels are empty); the label is kept. `clean_only`: only examples whose
    every read at the candidate shows the alt (a hom-alt that already holds other reads, from errors, mis-mapping or
    an indel allele next to it, is left as it is)."""
    tf = tensorflow()
    image = tf.convert_to_tensor(image)
    reads = image[ref_rows:]
    col = image.shape[1] // 2
    alt_rows = reads[:, col, supports_index] == SUPPORTS_ALT
    other = (reads[:, col, supports_index] > 0) & ~alt_rows  # SUPPORTS_OTHER or SUPPORTS_OTHER_ALT
    clean = tf.logical_not(tf.reduce_any(other)) if clean_only else True
    rate = tf.random.uniform([], 0.0, max_rate)
    flip = alt_rows & (tf.random.uniform(tf.shape(alt_rows)) < rate)  # [R]
    here = flip[:, None] & tf.one_hot(col, image.shape[1], on_value=True, off_value=False)[None, :]
    channel = {base_index: tf.where(here, image[0, col, base_index], reads[..., base_index]),
               supports_index: tf.where(flip[:, None] & (reads[..., supports_index] > 0), tf.constant(SUPPORTS_OTHER, tf.uint8),
                                        reads[..., supports_index]),
               differs_index: tf.where(here, tf.constant(MATCHES_REF, tf.uint8), reads[..., differs_index])}
    return _edit_snp(image, label, 2, probability, channel, alt_aligned, ref_rows, ready=clean)


def _edit_snp(image, label, edited_label: int, probability: float, channel: dict, alt_aligned: tuple, ref_rows: int,
              ready=True):
    """The SNP augmentations' common end: with `probability`, if the example's label is `edited_label`, it is a SNP
    (its ALT-aligned channels empty) and `ready`, the image with its read rows' channels replaced by `channel`
    (index -> new [R, W] values; the others kept); else the image as it was."""
    tf = tensorflow()
    reads = image[ref_rows:]
    changed = tf.stack([channel.get(i, reads[..., i]) for i in range(image.shape[2])], axis=-1)
    snp = tf.reduce_max(tf.gather(reads, list(alt_aligned), axis=2)) == 0
    apply = tf.equal(label, edited_label) & snp & ready & (tf.random.uniform([]) < probability)
    return tf.cond(apply, lambda: tf.concat([image[:ref_rows], changed], axis=0), lambda: image)


BALANCE_TAIL = 0.05  # balance_augment's depth-aware rule: the thinned count's binomial lower tail must be >= this


def binomial_cdf(k, n, p: float):
    """P(X <= k) for X ~ Binomial(n, p), k and n float scalar tensors (whole numbers, 0 <= k <= n), in TensorFlow."""
    tf = tensorflow()
    j = tf.range(0.0, k + 1.0)
    log_pmf = (tf.math.lgamma(n + 1.0) - tf.math.lgamma(j + 1.0) - tf.math.lgamma(n - j + 1.0)
               + j * math.log(p) + (n - j) * math.log1p(-p))
    return tf.reduce_sum(tf.exp(log_pmf))


def train(train_examples: str, output_dir: str, opts: TrainOptions, tune_examples: str | None = None,
          callbacks: list | None = None) -> dict:
    """Train and write the best model (by tuning accuracy) to output_dir; rerunning the same command after a
    stop resumes from the last finished epoch. `callbacks`: extra Keras callbacks, run after dvcall's own."""
    if opts.init_model and is_ensemble_dir(opts.init_model):
        raise InputError(f"--init-model {opts.init_model} is an ensemble of several networks: fine-tune one network (a "
                         "single-network model such as models/illumina-wgs-realign, one of your own, or a member of the "
                         "ensemble where you have its folder: its model_info.json lists them) and combine again with "
                         "`dvcall ensemble`, or train from scratch")
    keras = tf_keras()
    keras.utils.set_random_seed(opts.seed)
    if opts.keep_epochs:
        _refuse_stale_epochs(output_dir, opts.epochs)
    run_key = _run_key(train_examples, tune_examples, opts)
    record = _run_record(train_examples, tune_examples, opts)
    finished = _check_output_folder(output_dir, run_key, record)
    if finished is not None:
        log.info("%s already holds this training run (same examples and options), finished: nothing to do", output_dir)
        return finished
    train_ds, tune_ds, info, train_count = _datasets(train_examples, tune_examples, opts)
    init_info = load_model_info(opts.init_model) if opts.init_model else None
    if opts.init_model:
        warn_if_unfinished(opts.init_model)
        if tuple(init_info.shape) != tuple(info.shape):
            raise InputError(f"--init-model {opts.init_model} reads pileups of shape {list(init_info.shape)}, the examples are "
                             f"{list(info.shape)}: fine-tune a model of these examples' kind, or train from scratch")
        if list(init_info.channels) != list(info.channels):
            subset = set(init_info.channels) <= set(info.channels)
            raise InputError(f"--init-model {opts.init_model} reads channels {list(init_info.channels)}, the examples hold "
                             f"{list(info.channels)}: its weights would read other data in those places; "
                             + (f"train on its channels (--channels {','.join(map(str, init_info.channels))})"
                                if subset else "fine-tune a model of these examples' channels")
                             + ", or train from scratch")
        ignored = [flag for flag, given, default in (
            ("--no-haplotype-pooling", opts.haplotype_pooling, True), ("--no-max-pooling", opts.max_pooling, True),
            (f"--column-features {opts.column_features}", opts.column_features, COLUMN_FEATURES)) if given != default]
        if ignored:
            log.warning("%s: ignored with --init-model, whose network (and architecture) is fine-tuned as it is",
                        ", ".join(ignored))
    os.makedirs(output_dir, exist_ok=True)
    write_json(os.path.join(output_dir, RUN_FILE), {"key": run_key, **record})
    hp_index = info.channels.index(HP_CHANNEL_ENUM) if opts.haplotype_pooling and HP_CHANNEL_ENUM in info.channels else None
    model = load_model(opts.init_model) if opts.init_model else build_model(info.shape, hp_index=hp_index, max_pooling=opts.max_pooling,
                                                                                      column_features=opts.column_features)
    model_info = ModelInfo(shape=info.shape, channels=info.channels, settings=dict(info.settings), version=model_version(model),
                           model_type=examples_model_type(expand_paths(train_examples))
                           or (init_info.model_type if init_info else None),
                           training_spans=_training_spans(expand_paths(train_examples), init_info))
    steps = -(-train_count // opts.batch_size) * opts.epochs
    schedule = keras.optimizers.schedules.CosineDecay(opts.learning_rate, decay_steps=max(1, steps), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=opts.label_smoothing),
                  metrics=["accuracy"], run_eagerly=opts.eager)
    history_path = os.path.join(output_dir, "training_log.csv")
    best = _best_checkpoint(output_dir, model_info, opts.label_smoothing, opts.seed)
    clock = _training_clock(os.path.join(output_dir, "resume"))
    # The resume backup comes last: an epoch counts as done for a rerun only once its model (and, with
    # --keep-epochs, its own folder) is saved; a stop in between redoes the epoch instead of skipping its save.
    callbacks = [
        _progress_log(opts.epochs, -(-train_count // opts.batch_size), train_count),
        keras.callbacks.CSVLogger(history_path, append=True),
        best,
        *([_epoch_checkpoints(output_dir, model_info, opts.label_smoothing, opts.seed)] if opts.keep_epochs else []),
        *(callbacks or []),
        clock,
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "resume"), delete_checkpoint=True),
    ]
    with DirectoryLock(output_dir, f"dvcall train --output {output_dir}", flag="--output") as lock:  # a second train into it fails at once
        model.fit(train_ds, validation_data=tune_ds, epochs=opts.epochs, callbacks=callbacks, verbose=0, shuffle=False)  # tf.data shuffles
        os.remove(lock.path)  # finished: the model folder keeps no lock file (a copy of it would carry one); still held here
    summary = {"best_tune_accuracy": best.best, "best_epoch": best.best_epoch, "epochs": opts.epochs,
               "seconds": round(clock.seconds(), 1)}
    write_json(os.path.join(output_dir, "training_summary.json"), summary, indent=2)
    return summary


def _training_spans(paths: list[str], init_info: ModelInfo | None) -> tuple[tuple[str, int, int], ...] | None:
    """Where the training examples were made (their sidecars' spans) and where an init model learned, merged; None
    when nothing records it (examples made before sidecars did)."""
    learned = (init_info.training_spans if init_info else None) or ()
    return merge_spans((*learned, *recorded_spans(paths).triples())) or None


RUN_FILE = "training_run.json"  # what a training folder was started with (train's examples and options, as a digest)


def _run_key(train_examples: str, tune_examples: str | None, opts: TrainOptions) -> str:
    """A digest of what a training run is: its example files (path, size, time) and every option."""
    from dataclasses import asdict

    from .resume import file_identity, fingerprint

    files = {spec: [file_identity(p) for p in expand_paths(spec)] for spec in filter(None, (train_examples, tune_examples))}
    return fingerprint(files=files, tune=tune_examples, opts=asdict(opts))


def _run_record(train_examples: str, tune_examples: str | None, opts: TrainOptions) -> dict:
    """What training_run.json says beside its key, readable: the examples asked for and every option (a refused
    rerun names what differs)."""
    from dataclasses import asdict

    return json.loads(json.dumps({"examples": train_examples, "tune_examples": tune_examples, "options": asdict(opts)}))


def _run_difference(recorded: dict, current: dict) -> str:
    """Which of a training run's examples or options differ from the run in the folder, as flags-ish text."""
    diffs = [f"{name.replace('_', '-')} {recorded.get(name)!r} there, {current[name]!r} now"
             for name in ("examples", "tune_examples") if recorded.get(name) != current[name]]
    before, now = recorded.get("options") or {}, current["options"]
    diffs += [f"{key.replace('_', '-')} {before.get(key)!r} there, {now[key]!r} now" for key in now if before.get(key) != now[key]]
    if not recorded.get("options"):
        return "the run there predates this record"
    return "; ".join(diffs) or "the same names and options, but the example files changed (remade?)"


def _check_output_folder(output_dir: str, run_key: str, record: dict | None = None) -> dict | None:
    """May `train` write into `output_dir`? Yes when it is new or empty, or holds an interrupted run of the same
    examples and options (resumed); the saved summary when that run already finished (nothing to do). A model
    folder (a shipped or installed model) or another run's folder is refused: training there would mix the old
    files (merger, card, best.json) with the new network, or keep the old network because it scored better."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InputError(f"--output {output_dir} is an existing file: give a folder for the model (it is created if missing)")
    if not os.path.isdir(output_dir) or not [name for name in os.listdir(output_dir) if name != LOCK_FILE]:
        return None
    try:
        with open(os.path.join(output_dir, RUN_FILE)) as fh:
            saved = json.load(fh)
        recorded = saved.get("key")
    except (OSError, ValueError, AttributeError):
        saved, recorded = {}, None
    if recorded is None:
        raise InputError(f"--output {output_dir} is not empty and holds no training run of dvcall train (a model folder?): "
                         "train into a new folder; install the result with scripts/model_install.sh")
    if recorded != run_key:
        differs = f" ({_run_difference(saved, record)})" if record is not None else ""
        raise InputError(f"--output {output_dir} holds a training run with other examples or options{differs}: train into "
                         "a new folder (or delete that one); a finished run is not extended: fine-tune from it with "
                         "--init-model instead")
    summary = os.path.join(output_dir, "training_summary.json")
    if os.path.exists(summary) and not os.path.isdir(os.path.join(output_dir, "resume")):
        missing = [name for name in ("model.keras", "model_info.json") if not os.path.isfile(os.path.join(output_dir, name))]
        if missing:
            raise InputError(f"--output {output_dir} holds this training run, finished, but its {' and '.join(missing)} "
                             "is gone: delete the folder and train again (or restore the file)")
        with open(summary) as fh:
            return json.load(fh)
    return None


EPOCH_DIR = "epoch-{}"  # train(keep_epochs=True): epoch N's model, beside the best one
_EPOCH_DIR_RE = re.compile("^" + EPOCH_DIR.format(r"(\d+)") + "$")


def epoch_model_dir(output_dir: str, epoch: int) -> str:
    """Where train(keep_epochs=True) saves epoch `epoch`'s (1-based) model: a model directory of its own."""
    return os.path.join(output_dir, EPOCH_DIR.format(epoch))


def epoch_dirs(output_dir: str) -> dict[int, str]:
    """{epoch: folder} of the epoch-N model folders train(keep_epochs=True) left in output_dir, in epoch order."""
    if not os.path.isdir(output_dir):
        return {}
    found = {int(m.group(1)): os.path.join(output_dir, name) for name in os.listdir(output_dir)
             if (m := _EPOCH_DIR_RE.match(name)) and os.path.isdir(os.path.join(output_dir, name))}
    return dict(sorted(found.items()))


def _refuse_stale_epochs(output_dir: str, epochs: int) -> None:
    """An earlier run's epoch models beyond this run's last epoch would pass for this run's: refuse them."""
    stale = [folder for epoch, folder in epoch_dirs(output_dir).items() if epoch > epochs]
    if stale:
        raise InputError(f"{stale[0]} is from an earlier run with more epochs than --epochs {epochs}: remove it "
                         "(and any later epoch-N folder) or train into a new --output folder")


def _checkpoint_notes(tune_accuracy: float, epoch: int, label_smoothing: float, seed: int) -> dict:
    """What a saved checkpoint's model_info.json says about how it was trained."""
    return {"tune_accuracy": tune_accuracy, "epoch": epoch, "label_smoothing": label_smoothing, "seed": seed}


def _epoch_checkpoints(output_dir: str, info: ModelInfo, label_smoothing: float, seed: int):
    """A Keras callback that saves every epoch's model, best or not, to epoch_model_dir(output_dir, N)."""
    keras = tf_keras()

    class EpochCheckpoints(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            notes = _checkpoint_notes(float((logs or {}).get("val_accuracy", 0.0)), epoch + 1, label_smoothing, seed)
            save_model(self.model, epoch_model_dir(output_dir, epoch + 1), replace(info, notes=notes))

    return EpochCheckpoints()


def _progress_log(epochs: int, steps: int, examples: int):
    """A Keras callback that logs what training does (through dvcall's log, so --quiet silences it, where Keras's
    own lines were printed regardless): the examples at the start, a resumed run's first epoch, batches with an
    ETA inside each epoch (an epoch of a million examples is an hour on 2 cores), and each epoch's losses.

    The ETA is timed from the end of each epoch's first batch: that batch also compiles the network's graph (a
    first ETA of "5h02m" for an epoch that took 17 minutes, ONT, 860 batches) and fills the input pipeline."""
    keras = tf_keras()

    class ProgressLog(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.first, self.epoch, self.report, self.started = True, 0, None, time.time()

        def on_epoch_begin(self, epoch, logs=None):
            if self.first:
                log.info("train: %s training examples, %d epoch%s of %s batches%s", f"{examples:,}", epochs,
                         "" if epochs == 1 else "s", f"{steps:,}",
                         f"; going on from epoch {epoch + 1} (a stopped run's backup in resume/)" if epoch else "")
                self.first = False
            self.epoch, self.report, self.started = epoch, None, time.time()

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self.report = Progress(f"train: epoch {self.epoch + 1}/{epochs}", unit="batches", start=1)
            elif self.report is not None and batch + 1 < steps:  # the epoch's own line says it ended
                self.report(batch + 1, steps)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            tune = (f", tuning loss {logs['val_loss']:.4f}, accuracy {logs['val_accuracy']:.4f}"
                    if "val_loss" in logs and "val_accuracy" in logs else "")
            log.info("epoch %d/%d: loss %.4f, accuracy %.4f%s (%.0f s)", epoch + 1, epochs, float(logs.get("loss", float("nan"))),
                     float(logs.get("accuracy", float("nan"))), tune, time.time() - self.started)

    return ProgressLog()


CLOCK_FILE = "seconds.json"  # in resume/: the training seconds of the epochs a stopped run kept


def _training_clock(resume_dir: str):
    """A Keras callback that keeps the seconds spent training across stops and resumes: the seconds up to each
    finished epoch are written beside the resume backup (and go with it when training ends); a rerun starts from
    them, so training_summary.json's "seconds" is the whole training's, not only its last run's (an epoch a stop
    cut short is counted once, when it is trained again). Runs just before the resume backup is taken."""
    keras = tf_keras()
    path = os.path.join(resume_dir, CLOCK_FILE)
    try:
        with open(path) as fh:
            before = float(json.load(fh)["seconds"])
    except (OSError, ValueError, TypeError, KeyError):
        before = 0.0  # a fresh run (or a lost clock file: the resumed part is still counted)

    class TrainingClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.started = time.time()

        def seconds(self) -> float:
            return before + time.time() - self.started

        def on_train_begin(self, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            os.makedirs(resume_dir, exist_ok=True)
            write_json(path, {"seconds": round(self.seconds(), 1)})

    return TrainingClock()


def _best_checkpoint(output_dir: str, info: ModelInfo, label_smoothing: float, seed: int):
    """A Keras callback that saves the model whenever tuning accuracy improves (ties go to the lower loss)."""
    keras = tf_keras()
    state_path = os.path.join(output_dir, "best.json")

    # Cross-entropy of probabilities clipped at Keras's epsilon cannot exceed -ln(epsilon) (16.1); a mean loss above
    # it (seen: 7e11 at learning rate 1e12 on AMD EPYC, where other CPUs give nan) means the arithmetic broke.
    ceiling = -math.log(keras.config.epsilon()) + 1.0

    class BestCheckpoint(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            saved = {}
            if os.path.exists(state_path):
                try:
                    with open(state_path) as fh:
                        saved = dict(json.load(fh))
                except (OSError, ValueError, TypeError) as exc:
                    raise InputError(f"{state_path} is damaged ({exc}): delete it (the best model so far is "
                                     "forgotten) or train into a new --output folder") from None
            self.best, self.best_loss, self.best_epoch = saved.get("accuracy", -1.0), saved.get("loss", 1e9), saved.get("epoch", -1)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            acc, loss = float(logs.get("val_accuracy", 0.0)), float(logs.get("val_loss", 1e9))
            if not all(math.isfinite(x) and x <= ceiling for x in (loss, float(logs.get("loss", 0.0)))):
                raise InputError(f"training diverged at epoch {epoch + 1} (the loss is not a number, or beyond what "
                                 f"cross-entropy can reach, {ceiling:.1f}): lower --learning-rate "
                                 "or check the examples; remove the folder before training into it with other options"
                                 f"{'' if self.best_epoch < 1 else f' (its best model so far, epoch {self.best_epoch}, is kept)'}")
            if acc > self.best or (acc == self.best and loss < self.best_loss):
                self.best, self.best_loss, self.best_epoch = acc, loss, epoch + 1
                save_model(self.model, output_dir, replace(info, notes=_checkpoint_notes(acc, epoch + 1, label_smoothing, seed)))
                write_json(state_path, {"accuracy": acc, "loss": loss, "epoch": epoch + 1})
                log.info("epoch %d: tuning accuracy %.4f (best so far), model saved", epoch + 1, acc)

    return BestCheckpoint()
