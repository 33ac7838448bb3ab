"""Long reads with today's error profiles: errors concentrated in homopolymers, which pbsim v1 cannot make.

Real PacBio HiFi reads are ~99.9% accurate and most of their residual errors are +-1 length errors in
homopolymers, more likely the longer the run; ONT R10.4.1 reads are ~99% accurate with the same
homopolymer weakness, more substitutions and a slight deletion bias. pbsim v1 spreads its errors uniformly
at >= 1% (HiFi) or ~6% (ONT R9-like), so a model trained on it never sees a real homopolymer error and
calls some as indels. This module draws fragments from a haplotype sequence and injects:

- homopolymer length errors: a run of length L >= 3 is read one base shorter or longer with probability
  min(cap, a * (L - 2)^2) (deletions `hp_deletion` of the time; 2 bases instead of 1 for L >= 8 in 15%);
- uniform substitutions, insertions of a random base and deletions at the given per-base rates;
- base qualities: `q_base` (with `q_sd` noise), lowered at injected errors and, for ONT only, in long
  homopolymers (real Revio HiFi reads keep their quality through runs of any length);
- ONT only, systematic errors: a share `systematic` of the 7-base contexts (read in the read's own
  direction, so they are strand-specific) is error-prone: every read through such a context shows the same
  substitution or deletion with a per-context probability in `systematic_p`. Unlike random errors these pile
  up at one position on one strand, as real nanopore errors do, and make false candidates with 5-30% support
  that only the strand channel and the other strand's reads expose. Which contexts are error-prone is drawn
  per sample (`Contexts`), so a model cannot memorise motifs.

`scale` multiplies every error rate (scale 3 ~ an older HiFi chemistry). Pure numpy, ~1 s per 10 Mb.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

BASES = np.frombuffer(b"ACGTN", np.uint8)
_CODE = np.full(256, 4, np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_COMPLEMENT = np.array([3, 2, 1, 0, 4], np.uint8)


@dataclass(frozen=True)
class ErrorProfile:
    name: str
    length: tuple[float, float, int, int]  # mean, sd, min, max (bp)
    hp_a: float  # homopolymer length-error probability: min(hp_cap, hp_a * (L - 2)^2) for L >= 3
    hp_cap: float
    hp_deletion: float  # share of homopolymer errors that shorten the run
    substitution: float  # per base
    insertion: float
    deletion: float
    q_base: int
    q_sd: float
    q_error: tuple[int, int]  # qualities of injected substitutions / insertions (uniform, inclusive)
    q_hp_step: float  # quality lost per base of homopolymer beyond 3
    systematic: float = 0.0  # share of 7-base read contexts that are error-prone (ONT: strand-specific)
    systematic_p: tuple[float, float] = (0.05, 0.35)  # how often a read shows the error at such a context


PROFILES = {
    # Revio / Sequel IIe HiFi: ~Q30 reads, homopolymer indels the main residual error. Homopolymers keep their
    # quality: in real Revio reads (320 reads of the HG002 dev BAM, qualities only) the mean QV of a run is 37-38
    # for every run length 1-20, and the bases of >= 5-bp insertions average QV 37. A step of 2.5 per base made a
    # 20-bp run Q2, so a long homopolymer insertion fell under the allele counter's mean-QV-10 floor: invisible.
    "hifi": ErrorProfile("hifi", (15000, 2500, 10000, 20000), hp_a=0.0012, hp_cap=0.2, hp_deletion=0.55,
                         substitution=1.5e-4, insertion=4e-5, deletion=6e-5, q_base=40, q_sd=0.0, q_error=(5, 20),
                         q_hp_step=0.0),
    # ONT R10.4.1 (sup basecalling): ~99% accurate, deletion-leaning, homopolymers the weak spot
    "ont-r10": ErrorProfile("ont-r10", (20000, 8000, 5000, 50000), hp_a=0.004, hp_cap=0.4, hp_deletion=0.65,
                            substitution=3e-3, insertion=1e-3, deletion=2e-3, q_base=24, q_sd=6.0, q_error=(3, 12),
                            q_hp_step=1.5, systematic=0.001),
}


def scaled(profile: ErrorProfile, scale: float) -> ErrorProfile:
    """Every error rate times `scale` (probabilities capped below 1)."""
    return replace(profile, hp_a=profile.hp_a * scale, hp_cap=min(0.6, profile.hp_cap * max(1.0, scale ** 0.5)),
                   substitution=profile.substitution * scale, insertion=profile.insertion * scale,
                   deletion=profile.deletion * scale)


def encode(seq: str) -> np.ndarray:
    return _CODE[np.frombuffer(seq.encode(), np.uint8)]


def runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of every run of one base."""
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    return starts, np.diff(np.append(starts, len(codes)))


def run_length_per_base(codes: np.ndarray) -> np.ndarray:
    starts, lengths = runs(codes)
    return np.repeat(lengths, lengths)


K = 7  # context length of systematic errors


@dataclass(frozen=True)
class Contexts:
    """Per-sample systematic error table over the 4^K read contexts: probability (0 = not error-prone),
    kind (True = deletion, else substitution) and the substitution's shift (1-3)."""
    p: np.ndarray
    deletion: np.ndarray
    shift: np.ndarray

    @staticmethod
    def draw(profile: ErrorProfile, rng: np.random.Generator) -> "Contexts":
        n = 4 ** K
        prone = rng.random(n) < profile.systematic
        p = np.where(prone, rng.uniform(*profile.systematic_p, n), 0.0)
        return Contexts(p, rng.random(n) < 0.5, rng.integers(1, 4, n))


def context_index(codes: np.ndarray) -> np.ndarray:
    """The K-mer ending at each base, as an integer (bases before the start count as A; N as A)."""
    c = np.minimum(codes, 3).astype(np.int64)
    index = np.zeros(len(c), np.int64)
    for k in range(K):
        index += np.concatenate([np.zeros(k, np.int64), c[:len(c) - k]]) << (2 * k)
    return index


def mutate(codes: np.ndarray, p: ErrorProfile, rng: np.random.Generator,
           contexts: Contexts | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The read of one fragment: (base codes, qualities, counts of injected errors)."""
    n = len(codes)
    counts = np.ones(n, np.int64)
    systematic_subs = systematic_dels = 0
    if contexts is not None:
        ctx = context_index(codes)
        hit = (rng.random(n) < contexts.p[ctx]) & (codes < 4)
        dels = hit & contexts.deletion[ctx]
        subs = hit & ~dels
        codes = codes.copy()
        codes[subs] = (codes[subs] + contexts.shift[ctx[subs]]) % 4
        counts[dels] = 0
        systematic_subs, systematic_dels = int(subs.sum()), int(dels.sum())
    starts, lengths = runs(codes)
    long = lengths >= 3
    prob = np.where(long, np.minimum(p.hp_cap, p.hp_a * (lengths - 2.0) ** 2), 0.0)
    hit = (rng.random(len(starts)) < prob) & (codes[starts] < 4)
    shorten = hit & (rng.random(len(starts)) < p.hp_deletion)
    grow = hit & ~shorten
    size = 1 + ((lengths >= 8) & (rng.random(len(starts)) < 0.15))
    last = starts + lengths - 1
    counts[last[grow]] += size[grow]
    counts[last[shorten]] = 0
    two = shorten & (size == 2)
    counts[last[two] - 1] = 0
    free = counts == 1
    deleted = free & (rng.random(n) < p.deletion)
    counts[deleted] = 0
    inserted = free & ~deleted & (rng.random(n) < p.insertion)
    counts[inserted] = 2
    out = np.repeat(codes, counts)
    ends = np.cumsum(counts) - 1
    ins_at = ends[inserted]
    out[ins_at] = rng.integers(0, 4, len(ins_at))
    sub_at = np.flatnonzero((rng.random(len(out)) < p.substitution) & (out < 4))
    out[sub_at] = (out[sub_at] + rng.integers(1, 4, len(sub_at))) % 4
    qual = np.full(len(out), float(p.q_base))
    if p.q_sd:
        qual += rng.normal(0, p.q_sd, len(out))
    qual -= p.q_hp_step * np.maximum(0, run_length_per_base(out) - 3)
    noisy = np.concatenate([ins_at, sub_at])
    qual[noisy] = rng.integers(p.q_error[0], p.q_error[1] + 1, len(noisy))
    qual = np.clip(np.rint(qual), 2, 60).astype(np.uint8)
    tally = {"bases": n, "hp_insertions": int(grow.sum()), "hp_deletions": int(shorten.sum()),
             "insertions": int(inserted.sum()), "deletions": int(deleted.sum()), "substitutions": len(sub_at),
             "systematic_substitutions": systematic_subs, "systematic_deletions": systematic_dels}
    return out, qual, tally


def fragment_lengths(p: ErrorProfile, count: int, rng: np.random.Generator) -> np.ndarray:
    mean, sd, lo, hi = p.length
    if p.name.startswith("ont"):  # ONT lengths are skewed: gamma with the given mean and sd
        shape = (mean / sd) ** 2
        drawn = rng.gamma(shape, mean / shape, count)
    else:
        drawn = rng.normal(mean, sd, count)
    return np.clip(np.rint(drawn), lo, hi).astype(np.int64)


def simulate(seq: str, coverage: float, p: ErrorProfile, rng: np.random.Generator, name: str, fastq,
             contexts: Contexts | None = None) -> dict:
    """Reads of `seq` at `coverage`, written to the open text file `fastq` as NAME-1, NAME-2, ...; half of
    them from the reverse strand. `contexts`: the sample's systematic errors (one table for both
    haplotypes). Returns the summed error tally."""
    codes = encode(seq)
    total = {"reads": 0, "bases": 0, "hp_insertions": 0, "hp_deletions": 0, "insertions": 0, "deletions": 0,
             "substitutions": 0, "systematic_substitutions": 0, "systematic_deletions": 0}
    count = int(round(coverage * len(codes) / p.length[0]))
    lengths = np.minimum(fragment_lengths(p, count, rng), len(codes))
    starts = rng.integers(0, len(codes) - lengths + 1)
    reverse = rng.random(count) < 0.5
    for k in range(count):
        frag = codes[starts[k]:starts[k] + lengths[k]]
        if reverse[k]:
            frag = _COMPLEMENT[frag[::-1]]
        read, qual, tally = mutate(frag, p, rng, contexts)
        fastq.write(f"@{name}-{k + 1}\n{BASES[read].tobytes().decode()}\n+\n{(qual + 33).tobytes().decode()}\n")
        total["reads"] += 1
        for key, value in tally.items():
            total[key] += value
    return total


def accuracy(tally: dict) -> float:
    """1 - injected errors per simulated base (a homopolymer error of 2 bases counts once)."""
    errors = sum(tally.get(k, 0) for k in ("hp_insertions", "hp_deletions", "insertions", "deletions", "substitutions",
                                           "systematic_substitutions", "systematic_deletions"))
    return 1 - errors / max(1, tally["bases"])
