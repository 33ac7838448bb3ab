"""scripts/long_read_errors.py: the error model behind the simulated HiFi and ONT R10 training reads."""
from __future__ import annotations

import importlib.util
import io
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("long_read_errors", Path(__file__).resolve().parent.parent / "scripts" / "long_read_errors.py")
lre = importlib.util.module_from_spec(_spec)
sys.modules["long_read_errors"] = lre  # dataclasses look the module up while the class is made
_spec.loader.exec_module(lre)


def _random_genome(n: int, seed: int = 3) -> str:
    rng = np.random.default_rng(seed)
    seq = rng.choice(list("ACGT"), n)
    for start in rng.integers(0, n - 20, n // 400):  # homopolymers of 6-14 bp, as a genome has
        seq[start:start + rng.integers(6, 15)] = seq[start]
    return "".join(seq)


def test_runs_and_encoding():
    starts, lengths = lre.runs(lre.encode("AAACGGGGT"))
    assert starts.tolist() == [0, 3, 4, 8] and lengths.tolist() == [3, 1, 4, 1]
    assert lre.run_length_per_base(lre.encode("AAAC")).tolist() == [3, 3, 3, 1]
    assert lre.encode("acgtN").tolist() == [0, 1, 2, 3, 4]


def test_no_errors_gives_the_fragment_back():
    quiet = lre.scaled(lre.PROFILES["hifi"], 0.0)
    codes = lre.encode(_random_genome(5000))
    read, qual, tally = lre.mutate(codes, quiet, np.random.default_rng(1))
    assert np.array_equal(read, codes) and len(qual) == len(read)
    assert tally["bases"] == 5000 and sum(v for k, v in tally.items() if k != "bases") == 0


def test_hifi_homopolymers_keep_their_quality_ont_ones_lose_it():
    """Real Revio reads keep QV 37-38 through runs of any length, so a long homopolymer insertion stays above the
    allele counter's mean-QV-10 floor; ONT basecallers lower it with the run length."""
    codes = lre.encode("ACGTTGCA" * 5 + "T" * 20 + "ACGTTGCA" * 5)
    run = slice(40, 60)
    hifi = lre.mutate(codes, lre.scaled(lre.PROFILES["hifi"], 0.0), np.random.default_rng(1))[1]
    assert hifi[run].min() == hifi.max() == lre.PROFILES["hifi"].q_base
    ont = lre.scaled(lre.PROFILES["ont-r10"], 0.0)
    ont_q = lre.mutate(codes, replace(ont, q_sd=0.0, systematic=0.0), np.random.default_rng(1))[1]
    assert ont_q[run].mean() < ont_q[:40].mean() - 10


def test_a_long_homopolymer_changes_length_by_one_far_more_often_than_a_short_one():
    p = lre.PROFILES["hifi"]
    rng = np.random.default_rng(2)
    lengths = {}
    for n in (4, 12):
        frag = lre.encode("ACGT" * 5 + "A" * n + "CGTC" * 5)
        reads = [lre.mutate(frag, p, rng)[0] for _ in range(3000)]
        lengths[n] = np.array([len(r) for r in reads]) - len(frag)
    assert (lengths[12] != 0).mean() > 10 * (lengths[4] != 0).mean()
    assert (lengths[12] < 0).sum() > (lengths[12] > 0).sum()  # deletion-leaning


@pytest.mark.parametrize("profile, lo, hi", [("hifi", 0.999, 0.9998), ("ont-r10", 0.985, 0.995)])
def test_read_accuracy_is_that_of_the_instrument(profile, lo, hi):
    out = io.StringIO()
    tally = lre.simulate(_random_genome(200_000), 5, lre.PROFILES[profile], np.random.default_rng(4), "h1", out)
    assert lo < lre.accuracy(tally) < hi
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 * tally["reads"] and lines[0] == "@h1-1"
    assert all(len(lines[i + 1]) == len(lines[i + 3]) for i in range(0, len(lines), 4))
    homopolymer = tally["hp_insertions"] + tally["hp_deletions"]
    assert homopolymer > 0.2 * (tally["insertions"] + tally["deletions"] + homopolymer)


def test_error_scale_multiplies_the_error_rates():
    genome = _random_genome(100_000)
    acc = [lre.accuracy(lre.simulate(genome, 5, lre.scaled(lre.PROFILES["hifi"], s), np.random.default_rng(5), "h", io.StringIO()))
           for s in (1, 4)]
    assert 3 < (1 - acc[1]) / (1 - acc[0]) < 5


def test_systematic_errors_recur_at_one_context_on_one_strand_only():
    quiet = lre.scaled(lre.PROFILES["ont-r10"], 0.0)
    genome = lre.encode("ACGTTGCA" * 4 + "GATTACA" + "TGCAACGT" * 4)
    target = int(lre.context_index(genome)[32 + 6])  # the 7-mer GATTACA, ending at its last base
    n = 4 ** lre.K
    table = lre.Contexts(np.zeros(n), np.zeros(n, bool), np.ones(n, np.int64))
    table.p[target] = 0.5
    rng = np.random.default_rng(6)
    forward = np.array([lre.mutate(genome, quiet, rng, table)[0][38] for _ in range(400)])
    assert 0.4 < (forward != genome[38]).mean() < 0.6 and set(forward) == {genome[38], (genome[38] + 1) % 4}
    reverse = lre._COMPLEMENT[genome[::-1]]
    changed = [np.array_equal(lre.mutate(reverse, quiet, rng, table)[0], reverse) for _ in range(100)]
    assert all(changed)  # read from the other strand, the context is another one: no error
    drawn = lre.Contexts.draw(lre.PROFILES["ont-r10"], np.random.default_rng(7))
    assert 0.0005 < (drawn.p > 0).mean() < 0.002 and drawn.p.max() <= 0.35
