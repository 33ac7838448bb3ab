"""`dvcall train`: fit the genotype CNN."""
import click

from deepvariant_py.model import COLUMN_FEATURES, COLUMN_FEATURES_RANGE
from deepvariant_py.train import QUALITY_BINNED_SHARE, QUALITY_SHIFTS, TRAINING_SEED, TrainOptions, train

from .common import FloatRange, files_option, stop, user_errors


def _shift_range(ctx, param, value: str) -> tuple[int, int]:
    """'LO,HI' -> (LO, HI): whole numbers, LO <= HI, within -40..40 (qualities are drawn capped at 40)."""
    try:
        lo, hi = (int(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not two whole numbers LO,HI (e.g. -8,8)") from None
    if not -40 <= lo <= hi <= 40:
        raise click.BadParameter(f"'{value}' must have -40 <= LO <= HI <= 40")
    return lo, hi


def _channel_list(value: str | None) -> list[int] | None:
    """--channels: distinct whole numbers, comma-separated (None: every channel of the examples)."""
    if value is None:
        return None
    try:
        channels = [int(c) for c in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of channel numbers (e.g. 1,2,3,4,5,6)") from None
    if len(set(channels)) != len(channels):
        raise click.BadParameter(f"'{value}' names a channel twice: give each once")
    return channels


def _check_install(ctx: click.Context, _param, value: bool) -> None:
    """--check-install: whether training can run in this install (TensorFlow and Keras import), and exit."""
    if not value or ctx.resilient_parsing:
        return
    from deepvariant_py.errors import DependencyError
    from deepvariant_py.tf_runtime import keras

    try:
        keras()
    except DependencyError as exc:
        stop(f"error: {exc}", 1)
    ctx.exit(0)


@click.command("train")
@click.option("--check-install", is_flag=True, is_eager=True, expose_value=False, callback=_check_install,
              help="Only check that training can run in this install (TensorFlow and Keras import): exit 0 if so, else "
                   "1 with one line saying what to install. The training recipes call it before their long steps.")
@files_option("--examples", required=True, help="Labelled training examples: a path, glob or comma-separated list.")
@click.option("--output", required=True, type=click.Path(), help="Model directory to write (best checkpoint, logs). Rerun to resume.")
@files_option("--tune-examples", help="Labelled examples for picking the best epoch (a path, glob or comma-separated list; default: every 10th training example is held out).")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True, help="Passes over the training data.")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True, help="Examples per step.")
@click.option("--learning-rate", type=FloatRange(min=0, min_open=True), default=1e-3, show_default=True, help="Initial Adam learning rate (cosine decay).")
@click.option("--init-model", type=click.Path(), default=None, help="Start from this model's weights (fine-tuning).")
@click.option("--augment-mapq", type=FloatRange(0, 1), default=0.3, show_default=True, help="Per example, up to this fraction of reads get a random MAPQ in [10,59] (0 = off): simulated reads are nearly all MAPQ 60, real ones are not.")
@click.option("--augment-qualities", type=FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of examples whose base qualities are redrawn as another instrument reports them: binned to NovaSeq's "
                   "4 levels or shifted (--augment-qualities-shifts, --augment-qualities-binned; 0 = off), so the model does not "
                   "learn one simulator's qualities.")
@click.option("--augment-qualities-shifts", default=",".join(map(str, QUALITY_SHIFTS)), show_default=True, callback=_shift_range, metavar="LO,HI",
              help="With --augment-qualities, the range (inclusive) of the one shift drawn for all of an example's qualities: "
                   "-10,3 suits short reads (instruments and recalibration report lower qualities than ART); long-read basecaller "
                   "versions differ both ways (e.g. -8,8; measured on the ont recipe, not shipped: models/ont/MODEL_CARD.md).")
@click.option("--augment-qualities-binned", type=FloatRange(0, 1), default=QUALITY_BINNED_SHARE, show_default=True,
              help="With --augment-qualities, the share of those examples binned to NovaSeq's four levels instead of shifted "
                   "(0 for long reads, which no instrument bins that way).")
@click.option("--augment-balance", type=FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of heterozygous examples that lose part of one allele's reads (0 = off): real hets are seen at "
                   "30-70% allele balance (and beyond, in imbalanced samples) where simulators draw 50%.")
@click.option("--augment-balance-max-drop", type=FloatRange(0, 0.95), default=0.6, show_default=True,
              help="With --augment-balance, the largest share of the allele's reads dropped (drawn uniformly up to it): 0.6 "
                   "reaches ~29% allele fraction, 0.8 ~17%.")
@click.option("--augment-balance-min-haplotype", type=FloatRange(0, 0.5), default=0.0, show_default=True,
              help="With --augment-balance, keep a thinning only if the allele's remaining reads are a count that a haplotype "
                   "at this share of the reads shows at least 5% of the time at that depth (0 = any count): 0.3 keeps "
                   "hets down to ~20% at 80x but never makes 13 alt reads and 1 other at 14x a het.")
@click.option("--augment-errors", type=FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of hom-alt SNP examples in which one alt read's base at the candidate becomes another base at "
                   "quality 5-20, as a sequencing error (0 = off), so one odd low-quality base at low depth does not read as a het.")
@click.option("--augment-contamination", type=FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of hom-alt SNP examples given reads of another sample (0 = off): each alt read shows the reference base "
                   "at its own quality with a rate drawn up to --augment-contamination-max-rate, as cross-sample contamination "
                   "and index hopping (HiSeq X, NovaSeq) make; simulated reads never do.")
@click.option("--augment-contamination-max-rate", type=FloatRange(0, 0.5, min_open=True), default=0.03, show_default=True,
              help="With --augment-contamination, the largest share of an example's alt reads turned (drawn uniformly up to it).")
@click.option("--augment-contamination-clean-only", is_flag=True,
              help="With --augment-contamination, turn reads only in hom-alt examples whose every read shows the alt at the "
                   "candidate; one that already holds other reads (errors, mis-mapping, an indel allele beside it) is left "
                   "as it is.")
@click.option("--augment-confident-errors", type=FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of hom-ref SNP examples whose alt reads are raised to a share of the reads drawn up to "
                   "--augment-confident-errors-max-fraction, every alt base at quality 25-40 or more (0 = off): recurrent errors "
                   "with good qualities (FFPE damage, bad cycles) that simulated reads never carry, so 3-5 clean-looking alt "
                   "reads of 25 are not read as a het for certain.")
@click.option("--augment-confident-errors-max-fraction", type=FloatRange(0.01, 0.5), default=0.2, show_default=True,
              help="With --augment-confident-errors, the largest share of the reads at the candidate that show the error "
                   "(drawn uniformly up to it; an example that already has more alt reads keeps its own).")
@click.option("--label-smoothing", type=FloatRange(0, 0.1), default=1e-3, show_default=True,
              help="Share of each label spread over the other genotypes. It caps the model's confidence (1e-3: GQ near 31 at most), "
                   "so GQ cannot tell easy calls from merely good ones; 0 lets GQ rise with the evidence (then calibrate it).")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=TRAINING_SEED, show_default=True,
              help="Random seed for the initial weights, the shuffling and the augmentations: the same examples and seed "
                   "give the same model on one machine; other seeds give replicate runs, to tell a recipe's effect from "
                   "run-to-run noise.")
@click.option("--channels", default=None, callback=lambda ctx, param, value: _channel_list(value), help="Comma-separated channel enums to train on (default: all in the examples), e.g. 1,2,3,4,5,6 to drop ALT-aligned channels 9,10.")
@click.option("--haplotype-pooling/--no-haplotype-pooling", default=True, show_default=True, help="When the examples have an HP channel, also average reads over each haplotype (HP=1, HP=2) so the network compares the two; ignored with --init-model (the architecture comes from that model).")
@click.option("--max-pooling/--no-max-pooling", default=True, show_default=True,
              help="Pool each read feature by its maximum over the reads as well as its mean. With the maximum one read alone "
                   "can move a call (one clean reference read among 20 alt reads reads as a het); without it reads count by "
                   "their share. Ignored with --init-model (the architecture comes from that model).")
@click.option("--column-features", type=click.IntRange(*COLUMN_FEATURES_RANGE), default=COLUMN_FEATURES, show_default=True,
              help="Width of the network's four column convolutions (its capacity: 96 is ~200k parameters, 192 ~600k). "
                   "At 192 an epoch takes ~30% longer on 2 cores and a network calls ~1.6x slower (still well over 300 examples/s). "
                   "Ignored with --init-model.")
@click.option("--no-cache", is_flag=True, help="Read the examples from disk every epoch instead of holding them decoded in memory (~177 kB an Illumina example). Without it they are held only while they take at most half the memory available at the start.")
@click.option("--keep-epochs", is_flag=True,
              help="Also save every epoch's model, best or not, as a model folder of its own (OUTPUT/epoch-1, epoch-2, ...), "
                   "to compare epochs on more data than the tuning examples (e.g. with `dvcall run` on calibration samples).")
@click.option("--eager", is_flag=True,
              help="Run the network's steps one operation at a time instead of compiling them into a graph first: "
                   "starts ~4 s sooner, each step is ~13% slower (measured on 2 cores, batch 128); for runs of a few dozen steps "
                   "and for debugging. The model is the same network, not bit-identical to a graph run's.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def train_cmd(examples, output, tune_examples, epochs, batch_size, learning_rate, init_model, augment_mapq, augment_qualities,
              augment_qualities_shifts, augment_qualities_binned,
              augment_balance, augment_balance_max_drop, augment_balance_min_haplotype, augment_errors, augment_contamination, augment_contamination_max_rate, augment_contamination_clean_only, augment_confident_errors, augment_confident_errors_max_fraction, label_smoothing, seed, channels, haplotype_pooling, max_pooling, column_features, no_cache, keep_epochs, eager, quiet):
    """Train a model; logs loss and accuracy per epoch and keeps the best one.

    Needs TensorFlow and Keras: pip install 'dvcall[train]'."""
    summary = train(examples, output, TrainOptions(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                                   init_model=init_model, cache=not no_cache, augment_mapq=augment_mapq,
                                                   haplotype_pooling=haplotype_pooling, max_pooling=max_pooling,
                                                   column_features=column_features, augment_qualities=augment_qualities,
                                                   quality_shifts=augment_qualities_shifts,
                                                   quality_binned_share=augment_qualities_binned,
                                                   augment_balance=augment_balance, balance_max_drop=augment_balance_max_drop,
                                                   balance_min_haplotype=augment_balance_min_haplotype, augment_errors=augment_errors,
                                                   augment_contamination=augment_contamination,
                                                   contamination_max_rate=augment_contamination_max_rate,
                                                   contamination_clean_only=augment_contamination_clean_only,
                                                   augment_confident_errors=augment_confident_errors,
                                                   confident_errors_max_fraction=augment_confident_errors_max_fraction,
                                                   label_smoothing=label_smoothing, seed=seed, keep_epochs=keep_epochs, eager=eager,
                                                   channels=channels), tune_examples)
    if not quiet:
        click.echo(f"dvcall: best tuning accuracy {summary['best_tune_accuracy']:.4f} at epoch {summary['best_epoch']} -> {output}", err=True)
