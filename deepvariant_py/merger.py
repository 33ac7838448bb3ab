"""Multi-allelic merging by a small trained network instead of DeepVariant's min rule (docs/design.md §9.2).

At a site whose pruned alts are exactly two (a1 < a2), the CNN has scored three images: {a1}, {a2} and
{a1,a2}, each as P(0, 1, 2 copies of the image's alts). The min rule (`genotypes.merge_min_rule`) turns
those 9 numbers into the 6 genotypes 0/0, 0/1, 1/1, 0/2, 1/2, 2/2 by taking minima and throws away
information: 1/2 is scored by the pair image alone, so when that image says "2 copies" 1/2 scores at least
as high as 1/1 and 2/2 (a clear 2/2 ties with 1/2, and 1/2 comes first), and two confident het singles
next to a pair image unsure between 1 and 2 copies give 0/1 over 1/2. `MergerNetwork` learns the mapping
from truth-labelled sites instead, like upstream's optional `--use_multiallelic_model`.

Network (a Keras MLP, evaluated in NumPy at call time):

* inputs: the 9 probabilities and the min rule's 6 outputs, each raw and as log10 (floored at 1e-6, /6),
  30 features; no allele depths, because the postprocess hook sees only the images' probabilities;
* two ReLU layers of 32 units, then 6 logits that are ADDED to ln(min rule) (a fixed skip connection):
  the last layer is initialised to zero, so an untrained network *is* the min rule (same argmax; the only
  difference is the 1e-6 floor), and training learns corrections to it. With a few hundred training
  sites this prior matters more than capacity;
* softmax, computed in float64 and renormalised, so outputs sum to 1.

Symmetry: swapping a1 and a2 must swap 0/1<->0/2 and 1/1<->2/2. Training sees every site in both orders
and inference averages the network over both orders (output = (f(x) + P f(swap x)) / 2), which makes the
merger exactly equivariant whatever the weights are.

Sites with one kept alt use the image probabilities directly (postprocess never calls the merger then),
sites with three or more kept alts and sites missing one of the three images fall back to the min rule:
after pruning only 3 of the 1,878 multi-allelic sites in the training examples keep three alts, too few
to learn from, and the 2-alt network does not apply. A 3+-alt site pruned to two alts uses the network
on the three images of its two kept alts.

A model directory stores the merger as `merger.keras` + `merger_info.json` next to the CNN's files; the
info records the SHA-256 of the CNN it was trained on, and loading warns when the directory's CNN differs.
"""
from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import DependencyError, InputError, ModelError
from .genotypes import genotype_pairs, merge_min_rule, prune_alts, site_distribution
from .outputs import atomic_output, file_sha256, write_json

log = logging.getLogger("dvcall")

MERGER_FILE = "merger.keras"
MERGER_INFO_FILE = "merger_info.json"
MERGER_VERSION = "dvcall-merger-1"
MERGER_SEED = 400620759
MERGE_MODES = ("auto", "network", "min")  # auto: the network when the model directory ships one

N_GENOTYPES = 6  # 0/0, 0/1, 1/1, 0/2, 1/2, 2/2
# Genotype k of the swapped site (a1 <-> a2) is genotype SWAP[k] of the original one (an involution).
SWAP = np.array([0, 3, 5, 1, 4, 2])
PROB_FLOOR = 1e-6
N_FEATURES = 30
HIDDEN = (32, 32)

Images = Mapping[tuple[int, ...], Sequence[float]]


# --- truth genotypes from per-image labels ---

def genotype_from_labels(labels: Mapping[tuple[int, ...], int], n_alts: int) -> tuple[int, int] | None:
    """A site's diploid genotype (sorted allele indices, 0 = REF) from the labels of its images.

    Each label counts the genotype's alleles inside the image's alt subset (`labeler.label_for_alt_subset`),
    so the single-alt images give every alt's copy number and the other images must agree with their sum.
    Returns None when a single-alt image is missing or the labels contradict each other (impossible for
    examples written by make-examples; such sites are skipped).
    """
    copies = []
    for i in range(n_alts):
        c = labels.get((i,))
        if c not in (0, 1, 2):
            return None
        copies.append(c)
    if sum(copies) > 2:
        return None
    for subset, label in labels.items():
        if any(not 0 <= i < n_alts for i in subset) or label != sum(copies[i] for i in subset):
            return None
    alleles = [0] * (2 - sum(copies)) + [i + 1 for i, c in enumerate(copies) for _ in range(c)]
    return (alleles[0], alleles[1])


def genotype_from_pair_labels(label_a1: int, label_a2: int, label_a1a2: int) -> tuple[int, int] | None:
    """Genotype of a 2-alt site from the labels of images {a1}, {a2}, {a1,a2}: (1,1,2) -> (1,2), (1,0,1) -> (0,1)."""
    return genotype_from_labels({(0,): label_a1, (1,): label_a2, (0, 1): label_a1a2}, 2)


# --- features ---

def pair_features(p1: np.ndarray, p2: np.ndarray, p12: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs for N sites from images {a1}, {a2}, {a1,a2} ([N,3] each): (features [N,30], ln min rule [N,6])."""
    p1, p2, p12 = (np.asarray(p, np.float64).reshape(-1, 3) for p in (p1, p2, p12))
    mins = np.stack([merge_min_rule({(0,): a, (1,): b, (0, 1): c}, [0, 1]) for a, b, c in zip(p1, p2, p12)]) if len(p1) \
        else np.zeros((0, N_GENOTYPES))
    raw = np.concatenate([p1, p2, p12, mins], axis=1)
    feats = np.concatenate([raw, np.log10(np.maximum(raw, PROB_FLOOR)) / 6.0], axis=1)
    return feats.astype(np.float32), np.log(np.maximum(mins, PROB_FLOOR)).astype(np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _build_keras(seed: int, l2: float):
    from .tf_runtime import keras as tf_keras

    keras = tf_keras()
    keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2)
    feats = keras.Input((N_FEATURES,), name="features")
    log_min = keras.Input((N_GENOTYPES,), name="log_min_rule")
    h = feats
    for i, units in enumerate(HIDDEN):
        h = keras.layers.Dense(units, activation="relu", kernel_regularizer=reg, name=f"hidden{i}")(h)
    corr = keras.layers.Dense(N_GENOTYPES, kernel_initializer="zeros", bias_initializer="zeros", kernel_regularizer=reg,
                              name="correction")(h)
    out = keras.layers.Activation("softmax", name="genotypes")(keras.layers.Add(name="logits")([corr, log_min]))
    return keras.Model([feats, log_min], out, name="dvcall_multiallelic_merger")


class MergerNetwork:
    """Postprocess hook: `merger(images, kept, n_alts)` -> genotype probabilities over [ref] + kept (VCF order)."""

    def __init__(self, keras_model, info: dict | None = None, weights: list | None = None):
        self.keras_model = keras_model  # None when loaded for inference from the weights in merger_info.json
        self.info = dict(info or {})
        self._weights: list[tuple[np.ndarray, np.ndarray]] = []
        if weights is not None:
            self._weights = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in weights]
        else:
            self.refresh()

    @classmethod
    def untrained(cls, seed: int = MERGER_SEED, l2: float = 1e-3) -> "MergerNetwork":
        """A fresh network; its zero-initialised last layer makes it the min rule until trained."""
        return cls(_build_keras(seed, l2), {"version": MERGER_VERSION, "trained": False})

    def refresh(self) -> None:
        """Copy the Keras weights into the NumPy forward pass (call after training)."""
        if self.keras_model is None:
            return
        names = [f"hidden{i}" for i in range(len(HIDDEN))] + ["correction"]
        self._weights = [tuple(np.asarray(w, np.float64) for w in self.keras_model.get_layer(n).get_weights()) for n in names]

    def _forward(self, feats: np.ndarray, log_min: np.ndarray) -> np.ndarray:
        h = np.asarray(feats, np.float64)
        for w, b in self._weights[:-1]:
            h = np.maximum(h @ w + b, 0.0)
        w, b = self._weights[-1]
        return _softmax(h @ w + b + log_min)

    def predict_pairs(self, p1: np.ndarray, p2: np.ndarray, p12: np.ndarray) -> np.ndarray:
        """[N,6] genotype probabilities for N 2-alt sites, averaged over both alt orders; rows sum to 1."""
        fwd = self._forward(*pair_features(p1, p2, p12))
        rev = self._forward(*pair_features(p2, p1, p12))[:, SWAP]
        probs = 0.5 * (fwd + rev)
        return probs / probs.sum(axis=1, keepdims=True)

    def __call__(self, images: Images, kept: Sequence[int], n_alts: int) -> np.ndarray:
        kept = list(kept)
        if len(kept) == 2:
            trio = [images.get(s) for s in ((kept[0],), (kept[1],), tuple(sorted(kept)))]
            if all(p is not None for p in trio):
                return self.predict_pairs(*(np.asarray(p, np.float64)[None] for p in trio))[0]
        return merge_min_rule(images, kept)

    def save(self, directory: str) -> None:
        """merger.keras (to train on from) and merger_info.json, which also holds the weights so that postprocess
        runs the network with NumPy alone, without importing TensorFlow."""
        os.makedirs(directory, exist_ok=True)
        with atomic_output(os.path.join(directory, MERGER_FILE), ".keras") as tmp:
            self.keras_model.save(tmp)
        self.info["weights"] = [[w.tolist(), b.tolist()] for w, b in self._weights]
        write_json(os.path.join(directory, MERGER_INFO_FILE), self.info)

    @classmethod
    def load(cls, directory: str, check_model: bool = True) -> "MergerNetwork":
        """The merger in `directory`; `check_model`: warn when it was trained on another model.keras's outputs
        (load_merger's auto mode has checked that already)."""
        path, info_path = os.path.join(directory, MERGER_FILE), os.path.join(directory, MERGER_INFO_FILE)
        if not (os.path.exists(path) and os.path.exists(info_path)):
            have = [f for f in (MERGER_FILE, MERGER_INFO_FILE) if os.path.exists(os.path.join(directory, f))]
            what = (f"half a multi-allelic merger ({have[0]} without {({MERGER_FILE, MERGER_INFO_FILE} - set(have)).pop()})"
                    if have else f"no multi-allelic merger ({MERGER_FILE} + {MERGER_INFO_FILE})")
            raise ModelError(f"{directory} has {what}: train one with `dvcall train-merger --model {directory}` or use "
                             "--multiallelic-merge min")
        from .tf_runtime import INSTALL_HINT, keras as tf_keras

        try:
            with open(info_path) as fh:
                info = json.load(fh)
            if "weights" in info:
                merger = cls(None, info, info["weights"])
            else:  # saved before the weights went into merger_info.json
                merger = cls(tf_keras().models.load_model(path, compile=False), info)
        except DependencyError:
            raise DependencyError(f"the merger in {directory} is in an older format (its weights outside "
                                  f"{MERGER_INFO_FILE}) that only Keras loads, and Keras cannot be imported: "
                                  f"{INSTALL_HINT}; or retrain it (`dvcall train-merger`), or use --multiallelic-merge "
                                  "min") from None
        except Exception as exc:  # keras raises many types for a damaged file
            raise ModelError(f"cannot load the merger in {directory} ({type(exc).__name__}): retrain it or use "
                             "--multiallelic-merge min") from None
        if check_model and not merger_fits_model(directory, info):
            log.warning("the merger in %s was trained on another CNN's outputs; retrain it for this model.keras", directory)
        return merger


def merger_fits_model(directory: str, info: dict | None = None) -> bool:
    """Whether the merger in `directory` was trained on the outputs of the model.keras beside it (as far as its
    merger_info.json records: one saved before it did fits by assumption)."""
    if info is None:
        try:
            with open(os.path.join(directory, MERGER_INFO_FILE)) as fh:
                info = json.load(fh)
        except (OSError, ValueError):
            return True  # MergerNetwork.load says what is wrong with it
    cnn = os.path.join(directory, "model.keras")
    return not (info.get("cnn_sha256") and os.path.exists(cnn) and file_sha256(cnn) != info["cnn_sha256"])


def _merger_training_sites(model_dir: str) -> int | None:
    """The two-alt sites the merger in `model_dir` was trained on, as its merger_info.json records (None: unknown)."""
    try:
        with open(os.path.join(model_dir, MERGER_INFO_FILE)) as fh:
            sites = json.load(fh).get("training_sites")
        return int(sites) if sites is not None else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None  # MergerNetwork.load says what is wrong with it


def load_merger(mode: str, model_dir: str) -> Callable | None:
    """The `merger` argument for postprocess: None for the min rule, the trained network from model_dir otherwise."""
    if mode == "auto":
        if not os.path.exists(os.path.join(model_dir, MERGER_FILE)):
            if os.path.exists(os.path.join(model_dir, MERGER_INFO_FILE)):
                log.warning("%s holds %s without %s: multi-allelic sites are merged by the min rule; restore %s, retrain "
                            "the merger (`dvcall train-merger`) or delete %s", model_dir, MERGER_INFO_FILE, MERGER_FILE,
                            MERGER_FILE, MERGER_INFO_FILE)
            return None
        sites = _merger_training_sites(model_dir)
        if sites is not None and sites < FEW_MERGER_SITES:
            log.warning("the merger in %s was trained on only %d two-alt sites (a few hundred are needed): multi-allelic "
                        "sites are merged by the min rule; --multiallelic-merge network uses it anyway", model_dir, sites)
            return None
        if not merger_fits_model(model_dir):
            log.warning("the merger in %s was trained on another CNN's outputs: multi-allelic sites are merged by the min "
                        "rule instead; retrain it for this model.keras (`dvcall train-merger`)", model_dir)
            return None
        return MergerNetwork.load(model_dir, check_model=False)
    if mode == "min":
        return None
    if mode == "network":
        return MergerNetwork.load(model_dir)
    raise InputError(f"unknown multi-allelic merge {mode!r}: use one of {', '.join(MERGE_MODES)}")


# --- sites from labelled examples ---

@dataclass
class LabelledSite:
    """All images of one multi-allelic candidate with the CNN's probabilities and the examples' labels."""

    source: str
    contig: str
    start: int
    n_alts: int
    images: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    labels: dict[tuple[int, ...], int] = field(default_factory=dict)

    @property
    def truth(self) -> tuple[int, int] | None:
        return genotype_from_labels(self.labels, self.n_alts)

    @property
    def kept(self) -> list[int]:
        return prune_alts({s[0]: tuple(p) for s, p in self.images.items() if len(s) == 1}, self.n_alts)


def collect_multiallelic_sites(examples: Sequence[str], model_dir: str, batch_size: int = 256,
                               progress: Callable[[int, int], None] | None = None) -> list[LabelledSite]:
    """Run the CNN over the examples of candidates with >= 2 alts only (others are skipped before inference)."""
    from .call_variants import _normalise  # the exact rounding call_variants applies to its outputs
    from .examples_io import VariantInfo, image_of, read_sidecars
    from .model import load_model, load_model_info
    from .tf_runtime import tensorflow

    tf = tensorflow()
    paths = list(examples)
    info = read_sidecars(paths, "train a merger on each kind of examples")
    keep = load_model_info(model_dir).input_channels(info.shape, info.channels)
    model = load_model(model_dir)
    shape = info.shape
    spec = {"image/encoded": tf.io.FixedLenFeature([], tf.string), "variant/encoded": tf.io.FixedLenFeature([], tf.string),
            "alt_allele_indices/encoded": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    sites: dict[tuple[str, str, int], LabelledSite] = {}
    pending: list[tuple[LabelledSite, tuple[int, ...], np.ndarray]] = []
    scanned = 0

    def flush():
        if not pending:
            return
        batch = np.stack([img for _, _, img in pending])
        probs = _normalise(model(batch, training=False).numpy().astype(np.float64))
        for (site, subset, _), p in zip(pending, probs):
            site.images[subset] = p
        pending.clear()

    for path in paths:
        n_alts_of: dict[bytes, int] = {}
        ds = tf.data.TFRecordDataset([path], compression_type="GZIP").batch(256).map(
            lambda r: tf.io.parse_example(r, spec), num_parallel_calls=2)
        for batch in _labelled_batches(tf, ds, path):
            variants = batch["variant/encoded"].numpy()
            scanned += len(variants)
            for j, vb in enumerate(variants):
                if vb not in n_alts_of:
                    n_alts_of[vb] = len(VariantInfo.from_bytes(vb).alts)
                if n_alts_of[vb] < 2:
                    continue
                v = VariantInfo.from_bytes(vb)
                site = sites.setdefault((path, v.contig, v.start), LabelledSite(path, v.contig, v.start, len(v.alts)))
                subset = tuple(int(x) for x in batch["alt_allele_indices/encoded"][j].numpy().decode().split(","))
                site.labels[subset] = int(batch["label"][j])
                image = image_of(batch["image/encoded"][j].numpy(), shape, path)[..., keep]
                pending.append((site, subset, image))
                if len(pending) >= batch_size:
                    flush()
            if progress:
                progress(scanned, len(sites))
        flush()
        log.info("merger data: %s scanned, %d multi-allelic sites so far", os.path.basename(path), len(sites))
    return list(sites.values())


def _labelled_batches(tf, ds, path: str):
    try:
        yield from ds
    except tf.errors.InvalidArgumentError:
        raise InputError(f"{path} has examples without labels: make training examples with --truth-vcf and "
                         "--confident-bed") from None
    except tf.errors.DataLossError:
        raise InputError(f"{path}: the examples file is truncated or corrupt; make the examples again") from None


def holdout_site(site: LabelledSite, fraction: float) -> bool:
    """Deterministic split by position only, so one locus at several coverages or builds stays on one side."""
    return zlib.crc32(str(site.start).encode()) % 10_000 < fraction * 10_000


def pair_training_rows(sites: Sequence[LabelledSite]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(p1, p2, p12, genotype index) for sites where pruning keeps exactly two alts and the truth uses only those."""
    rows, ys = [], []
    pairs = genotype_pairs(3)
    for site in sites:
        truth, kept = site.truth, site.kept
        if truth is None or len(kept) != 2:
            continue
        a1, a2 = kept
        local = {0: 0, a1 + 1: 1, a2 + 1: 2}
        if any(g not in local for g in truth) or any(s not in site.images for s in ((a1,), (a2,), (a1, a2))):
            continue  # a pruned alt is in the truth: no 2-alt genotype is right
        rows.append((site.images[(a1,)], site.images[(a2,)], site.images[(a1, a2)]))
        ys.append(pairs.index(tuple(sorted(local[g] for g in truth))))
    if not rows:
        return (np.zeros((0, 3)),) * 3 + (np.zeros(0, int),)
    p = np.asarray(rows, np.float64)
    return p[:, 0], p[:, 1], p[:, 2], np.asarray(ys, int)


def called_genotype(site: LabelledSite, merger: Callable | None) -> tuple[int, int]:
    """The genotype postprocess would write (allele indices into the site's full alt list): site_distribution."""
    kept, probs = site_distribution({s: tuple(p) for s, p in site.images.items()}, site.n_alts, merger)
    a, b = genotype_pairs(len(kept) + 1)[int(np.argmax(probs))]
    to_full = [0] + [k + 1 for k in kept]
    return tuple(sorted((to_full[a], to_full[b])))  # type: ignore[return-value]


def concordance(sites: Sequence[LabelledSite], merger: Callable | None) -> dict:
    """Genotype concordance of the min rule and of `merger` at multi-allelic sites with a known truth genotype."""
    out = {"sites": 0, "min_rule_correct": 0, "merger_correct": 0, "two_kept_sites": 0, "two_kept_min_rule_correct": 0,
           "two_kept_merger_correct": 0, "only_merger_correct": 0, "only_min_rule_correct": 0}
    for site in sites:
        truth = site.truth
        if truth is None or site.n_alts < 2:
            continue
        m_ok = called_genotype(site, None) == truth
        n_ok = called_genotype(site, merger) == truth
        out["sites"] += 1
        out["min_rule_correct"] += m_ok
        out["merger_correct"] += n_ok
        out["only_merger_correct"] += n_ok and not m_ok
        out["only_min_rule_correct"] += m_ok and not n_ok
        if len(site.kept) == 2:
            out["two_kept_sites"] += 1
            out["two_kept_min_rule_correct"] += m_ok
            out["two_kept_merger_correct"] += n_ok
    for k in ("min_rule", "merger"):
        out[f"{k}_concordance"] = out[f"{k}_correct"] / out["sites"] if out["sites"] else None
        out[f"two_kept_{k}_concordance"] = out[f"two_kept_{k}_correct"] / out["two_kept_sites"] if out["two_kept_sites"] else None
    return out


# --- training ---

def fit_merger(p1: np.ndarray, p2: np.ndarray, p12: np.ndarray, y: np.ndarray, epochs: int = 300, batch_size: int = 64,
               learning_rate: float = 3e-3, l2: float = 1e-3, seed: int = MERGER_SEED) -> MergerNetwork:
    """Train a MergerNetwork on 2-alt sites ([N,3] probabilities of images {a1}, {a2}, {a1,a2}; y = genotype index).

    Every site is also shown with its alts swapped. Adam with cosine decay, L2 on all weights; deterministic
    for a given seed on one machine.
    """
    from .tf_runtime import keras as tf_keras

    keras = tf_keras()
    merger = MergerNetwork.untrained(seed, l2)
    y = np.asarray(y, int)
    fx, fm = pair_features(p1, p2, p12)
    rx, rm = pair_features(p2, p1, p12)
    x, m = np.concatenate([fx, rx]), np.concatenate([fm, rm])
    t = keras.utils.to_categorical(np.concatenate([y, SWAP[y]]), N_GENOTYPES)  # SWAP is its own inverse
    model = merger.keras_model
    steps = max(1, epochs * int(np.ceil(len(x) / batch_size)))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy")
    model.fit([x, m], t, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    merger.refresh()
    merger.info.update({"trained": True, "training_sites": int(len(y)), "epochs": epochs, "l2": l2})
    return merger


FEW_MERGER_SITES = 200  # two-alt training sites below which a trained merger is flagged and `auto` keeps the min rule


def _check_merger_output(model_dir: str, output_dir: str) -> None:
    """Before any training: the output must be a folder, and not another model's (its merger would then merge
    probabilities of a network it never saw)."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InputError(f"--output {output_dir} is a file: give a folder for {MERGER_FILE} and {MERGER_INFO_FILE}")
    other = os.path.join(output_dir, "model.keras")
    if os.path.realpath(output_dir) != os.path.realpath(model_dir) and os.path.exists(other):
        mine = os.path.join(model_dir, "model.keras")
        if not os.path.exists(mine) or file_sha256(other) != file_sha256(mine):
            raise InputError(f"--output {output_dir} holds another model (its model.keras is not --model's): a merger only "
                             "fits the network it was trained on; write it into --model's folder or a new one")


def train_merger(examples: Sequence[str], model_dir: str, output_dir: str, epochs: int = 300, batch_size: int = 64,
                 learning_rate: float = 3e-3, l2: float = 1e-3, holdout_fraction: float = 0.2, seed: int = MERGER_SEED,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    """Train the merger on the CNN's outputs at labelled multi-allelic sites; report held-out concordance; save it.

    `examples`: labelled example files (globs allowed); `model_dir`: the CNN whose outputs the merger will see;
    `output_dir`: where merger.keras + merger_info.json go (copy them into the CNN's model directory to ship).
    """
    from .examples_io import expand_paths

    _check_merger_output(model_dir, output_dir)
    paths = [p for spec in examples for p in expand_paths(spec)]
    sites = collect_multiallelic_sites(paths, model_dir, progress=progress)
    held = [s for s in sites if holdout_site(s, holdout_fraction)]
    train_sites = [s for s in sites if not holdout_site(s, holdout_fraction)]
    p1, p2, p12, y = pair_training_rows(train_sites)
    if len(y) == 0:
        raise InputError("no labelled multi-allelic sites with two kept alts in the examples: nothing to train the merger on")
    log.info("merger: %d multi-allelic sites (%d held out), %d two-alt training sites", len(sites), len(held), len(y))
    if len(y) < FEW_MERGER_SITES:
        log.warning("the merger is trained on only %d two-alt sites (a few hundred are needed): its held-out concordance "
                    "says little, and `dvcall run` (--multiallelic-merge auto) will merge by the min rule instead of it "
                    "(--multiallelic-merge network uses it); make more labelled examples of multi-allelic sites", len(y))
    merger = fit_merger(p1, p2, p12, y, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, l2=l2, seed=seed)
    report = {
        "multiallelic_sites": len(sites),
        "heldout_sites": len(held),
        "training_two_alt_sites": int(len(y)),
        "training_class_counts": {f"{a}/{b}": int((y == k).sum()) for k, (a, b) in enumerate(genotype_pairs(3))},
        "train": concordance(train_sites, merger),
        "heldout": concordance(held, merger),
    }
    cnn = os.path.join(model_dir, "model.keras")
    merger.info.update({"version": MERGER_VERSION, "features": "p{a1}, p{a2}, p{a1,a2}, min rule; raw and log10",
                        "symmetry": "mean over both alt orders", "fallback": "min rule unless exactly 2 kept alts",
                        "cnn_sha256": file_sha256(cnn) if os.path.exists(cnn) else None,
                        "examples": [os.path.basename(p) for p in paths], "holdout_fraction": holdout_fraction,
                        "heldout": report["heldout"], "seed": seed})
    merger.save(output_dir)
    return report
