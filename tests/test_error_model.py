"""--recurrent-error-gate (error_model.py): the sample's error rate per base quality, and the SNP candidates it
explains as coincident errors; hand-built pileups."""
from __future__ import annotations

import math

import numpy as np
import pytest

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.candidates import find_candidates
from deepvariant_py.error_model import ErrorTable, RecurrentErrorGate, tally
from deepvariant_py.make_examples import (MakeExamplesOptions, MakeExamplesStats, dropped_note, error_table_note,
                                         measure_error_table, overstated_quality_warning, process_partition)
from deepvariant_py.read_events import extract_events
from deepvariant_py.reads import open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region, partition, spread_partitions

#         0         1         2
#         012345678901234567890123456789
REF = "GATTACACGTTAGCCATGCAGTCAAGTCGA"
SITE = 13  # REF[13] == "C"


def _pileup(alt_reads: int, ref_reads: int, quality: int = 35, alt: str = "T"):
    """Events and the candidate of `alt_reads` reads showing `alt` at SITE among `ref_reads` reference reads."""
    seq = REF[:SITE] + alt + REF[SITE + 1:]
    reads = [make_read(f"a{i}", 0, f"{len(REF)}M", seq, quals=quality) for i in range(alt_reads)]
    reads += [make_read(f"r{i}", 0, f"{len(REF)}M", REF, quals=quality) for i in range(ref_reads)]
    events = extract_events(reads, REF, 0)
    return events, find_candidates(events, "chr1", REF, 0, 0, len(REF))


def _table(rate_at_35: float) -> ErrorTable:
    """Honest qualities except Q35, which errs at `rate_at_35`."""
    rates = [10.0 ** (-q / 10.0) for q in range(94)]
    rates[35] = rate_at_35
    return ErrorTable(tuple(rates))


def test_two_alt_reads_of_fourteen_are_a_het_where_qualities_are_honest_and_errors_where_they_are_not():
    events, (cand,) = _pileup(2, 12)
    assert cand.allele_depths == (12, 2)
    assert RecurrentErrorGate(_table(10 ** -3.5)).select(events, [cand], 10) == [cand]
    # every "Q35" base wrong 1% of the time (Q20): two coincident errors out of 14 reads are the likelier story
    assert RecurrentErrorGate(_table(0.01)).select(events, [cand], 10) == []
    # three alt reads are not, even then
    events, (cand,) = _pileup(3, 11)
    assert RecurrentErrorGate(_table(0.01)).select(events, [cand], 10) == [cand]


def test_the_odds_follow_the_module_formula():
    gate = RecurrentErrorGate(_table(0.005))
    expected = math.log10(1e-3) + 2 * math.log10(0.5 / (0.005 / 3)) + 12 * math.log10(0.5)
    assert gate.log10_odds(14, np.array([35, 35])) == pytest.approx(expected)


def test_indels_and_multi_allelic_sites_with_one_strong_alt_are_never_dropped():
    bad = RecurrentErrorGate(_table(0.3))  # Q35 bases nearly worthless
    seq = REF[:SITE + 1] + REF[SITE + 2:] + "A"  # a 1-bp deletion after SITE
    reads = [make_read(f"d{i}", 0, f"{SITE + 1}M1D{len(REF) - SITE - 2}M", seq[:len(REF) - 1], quals=35) for i in range(2)]
    reads += [make_read(f"r{i}", 0, f"{len(REF)}M", REF, quals=35) for i in range(12)]
    events = extract_events(reads, REF, 0)
    cands = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert cands and all(c.is_indel for c in cands)
    assert bad.select(events, cands, 10) == cands
    # two alts: T in 2 reads (errors), A in 8 (a clear het): the candidate stays
    reads = [make_read(f"t{i}", 0, f"{len(REF)}M", REF[:SITE] + "T" + REF[SITE + 1:], quals=35) for i in range(2)]
    reads += [make_read(f"a{i}", 0, f"{len(REF)}M", REF[:SITE] + "A" + REF[SITE + 1:], quals=35) for i in range(8)]
    reads += [make_read(f"r{i}", 0, f"{len(REF)}M", REF, quals=35) for i in range(6)]
    events = extract_events(reads, REF, 0)
    (cand,) = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert set(cand.alts) == {"T", "A"}
    assert RecurrentErrorGate(_table(0.005)).select(events, [cand], 10) == [cand]


def test_tally_counts_mismatches_by_quality_and_leaves_variant_like_positions_out():
    reads = []
    for i in range(20):
        seq = list(REF)
        if i < 10:
            seq[SITE] = "T"  # a het: left out of the tally
        if i == 0:
            seq[3] = "G"  # one error at position 3 (1 of 20 reads: counted)
        reads.append(make_read(f"r{i}", 0, f"{len(REF)}M", "".join(seq), quals=30 if i % 2 else 20))
    events = extract_events(reads, REF, 0)
    bases, mismatches, changes, by_ref = tally(events, REF, 0, 0, len(REF), 10)
    assert bases[30] + bases[20] == 20 * (len(REF) - 1)  # every position but SITE
    assert mismatches.sum() == 1 and mismatches[20] == 1  # read 0 has quality 20
    # below the floor nothing is counted
    assert tally(events, REF, 0, 0, len(REF), 31)[0].sum() == 0


def test_the_spectrum_weighs_each_change_by_how_often_errors_make_it():
    bases, mismatches = np.zeros(94, np.int64), np.zeros(94, np.int64)
    bases[35], mismatches[35] = 400_000, 4_000
    changes = np.zeros((4, 4), np.int64)
    changes[1, 3] = 3_000  # C>T: three quarters of the errors
    changes[0, 1] = changes[2, 3] = changes[3, 0] = changes[1, 0] = 250
    table = ErrorTable.from_counts(bases, mismatches, changes, np.full(4, 100_000))
    assert table.change_share("C", "T") == pytest.approx(3_000 / 1_000, rel=0.05)  # 3x the average base's rate
    assert table.change_share("A", "G") < 0.05
    assert ErrorTable.from_counts(bases, mismatches).change_share("C", "T") == pytest.approx(1 / 3)
    gate = RecurrentErrorGate(table)
    assert gate.log10_odds(14, np.array([35, 35]), table.change_share("C", "T")) < \
        gate.log10_odds(14, np.array([35, 35]), table.change_share("A", "G"))


def test_a_quality_seldom_seen_keeps_its_own_word_and_one_seen_often_takes_the_measured_rate():
    bases, mismatches = np.zeros(94, np.int64), np.zeros(94, np.int64)
    bases[40], mismatches[40] = 1_000_000, 5_000  # "Q40" bases wrong 0.5% of the time
    table = ErrorTable.from_counts(bases, mismatches)
    assert table.phred(40) == pytest.approx(23.0, abs=0.1)
    assert table.phred(30) == pytest.approx(30.0, abs=0.01)  # never seen: as claimed
    assert table.phred_of_range(30, 41) == pytest.approx(23.0, abs=0.1)  # weighted by what was measured
    assert ErrorTable.unmeasured().phred(37) == pytest.approx(37.0)


def test_spread_partitions_are_evenly_spaced_the_same_for_any_shard_and_at_most_asked():
    regions = [Region("chr1", 0, 10_000), Region("chr2", 500, 20_500)]
    every = partition(regions, 1000)
    assert len(every) == 31
    picked = spread_partitions(regions, 1000, 5)
    assert len(picked) == 5 and all(p in every for p in picked)
    assert picked == sorted(picked, key=every.index)
    assert {p.contig for p in picked} == {"chr1", "chr2"}
    assert spread_partitions(regions, 1000, 100) == every
    assert spread_partitions([], 1000, 5) == []


def test_a_run_measures_its_reads_and_the_gate_drops_what_they_explain(tmp_path):
    """End to end through make_examples' functions: a 6 kb sample whose reads are 0.6% wrong at "Q40" everywhere
    (one error per read of 150 bp, a different position each) and one site where two reads share an error."""
    rng = np.random.default_rng(5)
    ref = "".join(rng.choice(list("ACGT"), 6000))
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": ref})
    header = header_for("chr1", len(ref))
    reads = []
    for i, start in enumerate(range(0, len(ref) - 150, 12)):  # ~12x of 150 bp reads
        seq = list(ref[start:start + 150])
        k = int(rng.integers(0, 150))
        seq[k] = "ACGT"[("ACGT".index(seq[k]) + 1) % 4]
        reads.append(make_read(f"r{i}", start, "150M", "".join(seq), quals=40, header=header))
    site = 3000  # two reads, the same wrong base, of the change every error makes (A>C, C>G, G>T, T>A)
    shared = "ACGT"[("ACGT".index(ref[site]) + 1) % 4]
    for j in range(2):
        seq = list(ref[site - 50:site + 100])
        seq[50] = shared
        reads.append(make_read(f"s{j}", site - 50, "150M", "".join(seq), quals=40, header=header))
    reads.sort(key=lambda r: r.reference_start)
    bam = write_bam(tmp_path / "reads.bam", reads, header)
    reference = Reference(fasta)
    sources = open_reads(str(bam), reference)
    try:
        opts = MakeExamplesOptions(realign=False)
        table = measure_error_table(sources, reference, [Region("chr1", 0, len(ref))], opts)
        assert table.bases > 50_000 and 20 < table.phred(40) < 25  # 1 error in 150 bases: Q22
        region = Region("chr1", 2500, 3500)
        plain = process_partition(sources, reference, region, opts)
        assert site in [c.start for c in plain.candidates]
        trusting = RecurrentErrorGate(ErrorTable.unmeasured())  # Q40 taken at its word
        assert site in [c.start for c in process_partition(sources, reference, region, opts, error_gate=trusting).candidates]
        gated = process_partition(sources, reference, region, opts, error_gate=RecurrentErrorGate(table))
        assert site not in [c.start for c in gated.candidates] and gated.n_recurrent_errors >= 1
        assert gated.n_damaged == 0  # each filter's count is its own (--ffpe-filter's is not the gate's)
        # the errors' spectrum was measured too: a change they never make is no such error
        assert table.change_share(ref[site], shared) > 0.6  # ~100 errors per base, 50 of prior at 1/3
        other = "ACGT"[("ACGT".index(ref[site]) + 2) % 4]
        assert table.change_share(ref[site], other) < 0.15
    finally:
        sources.close()


def test_the_run_says_what_the_gate_dropped():
    assert dropped_note(0, 0, MakeExamplesOptions(recurrent_error_gate=0.03), 12) == " (the recurrent-error gate dropped 12)"
    assert dropped_note(0, 0, MakeExamplesOptions(), 12) == ""


def test_the_run_says_what_was_measured_or_that_nothing_was():
    gate = MakeExamplesOptions(recurrent_error_gate=0.01)
    measured = MakeExamplesStats(partitions=3, error_table_bases=1_234_567, error_table_q30=23.4)
    assert "1,234,567 bases" in error_table_note([measured], gate) and "Q23 bases" in error_table_note([measured], gate)
    assert "dropped nothing" in error_table_note([MakeExamplesStats(partitions=3)], gate)  # long reads only
    assert error_table_note([measured], MakeExamplesOptions()) is None  # the gate off
    assert error_table_note([MakeExamplesStats()], gate) is None  # nothing to call


def test_a_warning_when_the_reads_qualities_overstate_them():
    honest = MakeExamplesStats(partitions=60, error_table_bases=1_500_000, error_table_q30=35.2)
    overstated = MakeExamplesStats(partitions=60, error_table_bases=1_500_000, error_table_q30=23.4)
    assert overstated_quality_warning([honest]) is None
    line = overstated_quality_warning([overstated])
    assert "err as Q23 bases would" in line and "1,500,000 bases" in line and "\n" not in line
    few = MakeExamplesStats(partitions=2, error_table_bases=5_000, error_table_q30=20.0)  # too few bases to say
    assert overstated_quality_warning([few]) is None and overstated_quality_warning([MakeExamplesStats()]) is None
