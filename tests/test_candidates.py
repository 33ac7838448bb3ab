"""Allele counting and candidate selection (docs/design.md §2) on hand-drawn pileups with hand-counted answers."""
from __future__ import annotations

import numpy as np
import pytest

from builders import make_read, parse_row, pileup_reads
from deepvariant_py.candidates import NO_ALT, UNCALLED, CandidateThresholds, count_alleles, find_candidates
from deepvariant_py.read_events import encode_bases, extract_events

#         0         1         2
#         012345678901234567890123456789
REF = "GATTACACGTTAGCCATGCAGTCAAGTCGA"
MATCH = "." * len(REF)


def call(rows, start=0, end=len(REF), thresholds=CandidateThresholds(), **defaults):
    reads = pileup_reads(REF, rows, **defaults)
    events = extract_events(reads, REF, 0)
    return find_candidates(events, "chr1", REF, 0, start, end, thresholds)


def depth_at(rows, pos, **defaults):
    """DP at one position (TotalAlleleCounts), whether or not it is a candidate."""
    events = extract_events(pileup_reads(REF, rows, **defaults), REF, 0)
    return int(count_alleles(events, encode_bases(REF), 0, len(REF)).depth[pos])


def test_reference_layout():
    assert REF[10] == "T" and REF[9] == "T" and REF[4] == "A" and REF[3:6] == "TAC"


def test_snp_het_counts_ad_dp_vaf_and_support():
    snp = "..........C..................."
    rows = [snp] * 4 + [MATCH] * 6
    (cand,) = call(rows)
    assert (cand.contig, cand.start, cand.end) == ("chr1", 10, 11)
    assert cand.ref == "T" and cand.alts == ("C",)
    assert cand.depth == 10
    assert cand.allele_depths == (6, 4)
    assert not cand.is_indel
    assert cand.support.tolist() == [0, 0, 0, 0, -1, -1, -1, -1, -1, -1]


def test_two_alt_reads_needed():
    snp = "..........C..................."
    assert call([snp] + [MATCH] * 3) == []  # 1/4 = 25 % but count 1 < 2
    assert len(call([snp] * 2 + [MATCH] * 2)) == 1


@pytest.mark.parametrize("n_alt, n_ref, found", [
    (3, 22, True),   # 3/25 = 0.12 exactly: accepted (rejected only when fraction < 0.12)
    (3, 23, False),  # 3/26 = 0.115
    (2, 14, True),   # 2/16 = 0.125
    (2, 15, False),  # 2/17 = 0.118
])
def test_snp_fraction_boundary(n_alt, n_ref, found):
    snp = "..........C..................."
    cands = call([snp] * n_alt + [MATCH] * n_ref)
    assert bool(cands) is found
    if found:
        assert cands[0].depth == n_alt + n_ref and cands[0].allele_depths == (n_ref, n_alt)


@pytest.mark.parametrize("n_alt, n_ref, found", [
    (3, 47, True),   # 3/50 = 0.06 exactly
    (3, 48, False),  # 3/51 = 0.0588
    (2, 31, True),   # 2/33 = 0.0606
    (2, 32, False),  # 2/34 = 0.0588
])
def test_indel_fraction_boundary(n_alt, n_ref, found):
    ins = ".....[GG]........................."
    cands = call([ins] * n_alt + [MATCH] * n_ref)
    assert bool(cands) is found
    if found:
        assert cands[0].allele_depths == (n_ref, n_alt) and cands[0].depth == n_alt + n_ref


def test_snp_thresholds_do_not_apply_to_indels():
    # 2/20 = 0.10 passes the 0.06 indel fraction but would fail the 0.12 SNP fraction.
    ins = ".....[GG]........................."
    snp = "..........C..................."
    assert [c.start for c in call([ins] * 2 + [MATCH] * 18)] == [4]
    assert call([snp] * 2 + [MATCH] * 18) == []


def test_custom_thresholds():
    snp = "..........C..................."
    rows = [snp] + [MATCH] * 3
    assert call(rows) == []
    (cand,) = call(rows, thresholds=CandidateThresholds(min_count_snps=1))
    assert cand.alts == ("C",)


def test_insertion_anchored_on_previous_base():
    #       ACA
    ins = "....A[GG]C........................"
    rows = [ins] * 3 + [MATCH] * 3
    (cand,) = call(rows)
    assert cand.start == 4 and cand.ref == "A" and cand.alts == ("AGG",)
    assert cand.is_indel and cand.end == 5
    assert cand.allele_depths == (3, 3) and cand.depth == 6
    assert cand.support.tolist() == [0, 0, 0, -1, -1, -1]


def test_deletion_ref_spans_deleted_bases():
    dele = "....--........................"  # deletes REF[4:6] = "AC", anchored on REF[3] = "T"
    rows = [dele] * 3 + [MATCH] * 5
    (cand,) = call(rows)
    assert cand.start == 3 and cand.ref == "TAC" and cand.alts == ("T",)
    assert cand.end == 6
    assert cand.allele_depths == (5, 3) and cand.depth == 8


def test_a_deletion_over_an_iupac_reference_base_is_a_candidate_with_n_in_ref():
    """A reference with an IUPAC code (R) inside a deletion's span: the deleted bases are the reference's, not the
    reads', so the deletion still counts (it used to be dropped as a non-ACGT allele, 29 reads and all); VCF
    REF takes N there (REF allows ACGTN only)."""
    iupac = REF[:5] + "R" + REF[6:]
    reads = pileup_reads(REF, ["....--........................"] * 3 + [MATCH] * 5)
    (cand,) = find_candidates(extract_events(reads, iupac, 0), "chr1", iupac, 0, 0, len(REF))
    assert (cand.start, cand.ref, cand.alts, cand.allele_depths) == (3, "TAN", ("T",), (5, 3))


def test_deletion_and_snp_at_same_position():
    # Position 10 (T): SNP T>C, a 2-bp deletion of REF[11:13] = "AG", a 1-bp deletion of REF[11] = "A".
    snp = "..........C..................."
    del2 = "...........--................."
    del1 = "...........-.................."
    rows = [snp] * 3 + [del2] * 4 + [del1] * 2 + [MATCH] * 5
    (cand,) = call(rows)
    assert cand.start == 10
    assert cand.ref == "TAG"  # extended by the longest deletion
    # SNP -> C + "AG"; 2-bp deletion -> "T"; 1-bp deletion -> "T" + "G"; then a plain string sort.
    assert cand.alts == ("CAG", "T", "TG")
    assert cand.allele_depths == (5, 3, 4, 2)
    assert cand.depth == 14
    assert cand.support.tolist() == [0] * 3 + [1] * 4 + [2] * 2 + [-1] * 5


def test_deletion_with_mismatching_anchor_keeps_the_read_base():
    snp_del = "..........C--................."  # read has C at 10 then deletes REF[11:13]
    rows = [snp_del] * 3 + [MATCH] * 5
    (cand,) = call(rows)
    assert cand.start == 10 and cand.ref == "TAG" and cand.alts == ("C",)
    assert cand.allele_depths == (5, 3)


def test_indel_replaces_anchor_base_observation():
    # The anchor base T at 9 is a mismatch (G) in the insertion reads; each read still counts once at 9.
    ins = ".........G[AA]...................."
    rows = [ins] * 3 + [MATCH] * 4
    (cand,) = call(rows)
    assert cand.start == 9 and cand.ref == "T"
    assert cand.alts == ("GAA",)  # one INSERTION allele, no SNP T>G
    assert cand.allele_depths == (4, 3) and cand.depth == 7
    # Matching anchors: the insertion reads must not be counted as reference too.
    (cand,) = call(["..........[AA]..................."] * 3 + [MATCH] * 4)
    assert cand.alts == ("TAA",) and cand.allele_depths == (4, 3) and cand.depth == 7


def test_trailing_soft_clip_counts_in_dp_but_is_never_a_candidate():
    snp9 = ".........G...................."
    clipped = ".........acgtacgt"  # aligned 0..8, soft clip from column 9: anchored on 8
    rows = [snp9] * 3 + [MATCH] * 4 + [clipped] * 6
    cands = call(rows)
    assert [c.start for c in cands] == [9]
    assert depth_at(rows, 8) == 13  # 7 aligned bases + 6 soft-clip alleles replacing the anchor
    # At 9 the clipped reads are absent.
    assert cands[0].depth == 7 and cands[0].allele_depths == (4, 3)
    # A mismatch on the anchor base is replaced by the soft-clip allele: no SNP candidate at 8.
    rows = [snp9] * 3 + [MATCH] * 4 + ["........Cacgtacgt"] * 6
    assert [c.start for c in call(rows)] == [9]


def test_soft_clip_is_denominator_for_snp_fraction():
    # 2 SNP reads out of 2 + 14 aligned would be 12.5 %; 2 more soft-clip alleles at the same anchor make it 11.1 %.
    snp8 = "........A....................."
    clipped = "........gggg"  # aligned 0..7, soft clip anchored on 7
    rows = [snp8] * 2 + [MATCH] * 14
    assert [c.start for c in call(rows)] == [8]
    snp7 = ".......A......................"
    rows = [snp7] * 2 + [MATCH] * 14 + [clipped] * 2
    assert depth_at(rows, 7) == 18
    assert call(rows) == []


def test_leading_soft_clip_anchored_before_alignment_start_and_never_candidate():
    clipped = "          ccgt................"  # clip drawn in columns 10-13, alignment starts at 14
    rows = [clipped] * 10 + [MATCH] * 2
    assert call(rows) == []
    assert depth_at(rows, 13) == 12  # 2 aligned + 10 soft-clip alleles at 14 - 1


def test_low_base_quality_excluded_from_counts_but_kept_in_support():
    snp = "..........C..................."
    rows = [snp] * 3 + [(snp, {"col_quals": {10: 9}})] + [MATCH] * 4 + [(MATCH, {"col_quals": {10: 5}})]
    (cand,) = call(rows)
    assert cand.allele_depths == (4, 3) and cand.depth == 7
    assert cand.support.tolist() == [0, 0, 0, 0, -1, -1, -1, -1, -1]
    # Q10 is usable (the rule is BQ < 10).
    rows = [snp] * 3 + [(snp, {"col_quals": {10: 10}})] + [MATCH] * 4
    (cand,) = call(rows)
    assert cand.allele_depths == (4, 4) and cand.depth == 8


def test_low_quality_alt_reads_cannot_make_a_candidate():
    snp = "..........C..................."
    rows = [snp] + [(snp, {"col_quals": {10: 2}})] * 5 + [MATCH] * 4
    assert call(rows) == []


def test_low_quality_insertion_uses_mean_quality():
    ins = ".....[GG]........................."
    # inserted bases are query 5 and 6; mean(2, 17) = 9.5 < 10 -> low quality; mean(3, 17) = 10 -> usable
    n_bases = len(parse_row(REF, ins)[2])

    def row(q5, q6):
        quals = [30] * 5 + [q5, q6] + [30] * (n_bases - 7)
        return (ins, {"quals": quals})
    low = call([row(2, 17)] * 3 + [MATCH] * 3)
    assert low == []
    (cand,) = call([row(3, 17)] * 3 + [MATCH] * 3)
    assert cand.allele_depths == (3, 3)
    # One low-quality insertion among good ones: out of the counts, still listed as support.
    (cand,) = call([row(30, 30)] * 2 + [row(2, 17)] + [MATCH] * 3)
    assert cand.allele_depths == (3, 2) and cand.depth == 5
    assert cand.support.tolist() == [0, 0, 0, -1, -1, -1]


def test_with_no_base_quality_floor_a_low_quality_insertion_counts():
    """ONT (--min-base-quality 0): a long homopolymer insertion whose bases all read Q2-5 was no candidate, and its
    reads dropped out of the depth too."""
    ins = ".....[TTTTTTTT]........................."
    n_bases = len(parse_row(REF, ins)[2])
    low = (ins, {"quals": [30] * 5 + [3] * 8 + [30] * (n_bases - 13)})
    assert call([low] * 4 + [MATCH] * 4) == []
    assert depth_at([low] * 4 + [MATCH] * 4, 4) == 4
    events = extract_events(pileup_reads(REF, [low] * 4 + [MATCH] * 4), REF, 0, 0)  # as make_examples extracts at 0
    (cand,) = find_candidates(events, "chr1", REF, 0, 0, len(REF), CandidateThresholds(min_base_quality=0))
    assert cand.alts == (REF[4] + "TTTTTTTT",) and cand.allele_depths == (4, 4) and cand.depth == 8


def test_reads_without_qualities():
    snp = "..........C..................."
    rows = [snp] * 3 + [MATCH] * 3
    (cand,) = call(rows, quals=None)
    assert cand.allele_depths == (3, 3) and cand.depth == 6
    reads = pileup_reads(REF, [".....[GG]........................."] * 2 + ["....--........................"] * 2, quals=None)
    assert all(r.query_qualities is None for r in reads)
    events = extract_events(reads, REF, 0)
    cands = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert [(c.start, c.ref, c.alts) for c in cands] == [(3, "TAC", ("T",)), (4, "A", ("AGG",))]


def test_support_values_alt_index_none_and_uncalled():
    snp_c = "..........C..................."
    snp_g = "..........G..................."  # one read only: rejected allele -> UNCALLED
    short = "     ....."  # ends before the site -> no allele there
    clipped = "..........ggg"  # soft clip anchored on 9, not at the site
    rows = [snp_c] * 3 + [snp_g] + [MATCH] * 3 + [short, clipped]
    (cand,) = call(rows)
    assert cand.alts == ("C",)
    assert cand.allele_depths == (3, 3) and cand.depth == 7
    assert cand.support.dtype == np.int8
    assert cand.support.tolist() == [0, 0, 0, UNCALLED, NO_ALT, NO_ALT, NO_ALT, NO_ALT, NO_ALT]
    assert (UNCALLED, NO_ALT) == (-2, -1)


def test_soft_clip_at_candidate_is_not_support():
    snp9 = ".........G...................."
    clipped = ".........cccc"  # aligned 0..8, clip anchored on 8: no allele at 9
    clipped_at9 = "..........cccc"  # aligned 0..9, clip anchored on 9: replaces the base observation at 9
    (cand,) = call([snp9] * 3 + [MATCH] * 3 + [clipped_at9])
    assert cand.start == 9 and cand.depth == 7 and cand.allele_depths == (3, 3)
    assert cand.support.tolist()[-1] == NO_ALT
    (cand,) = call([snp9] * 3 + [MATCH] * 3 + [clipped])
    assert cand.depth == 6


def test_candidates_restricted_to_interval_and_sorted():
    rows = ["..G.......C........T.........."] * 3 + [MATCH] * 3
    assert [c.start for c in call(rows)] == [2, 10, 19]
    assert [c.start for c in call(rows, start=3, end=19)] == [10]
    # partial reads still count inside the interval
    assert [c.start for c in call(["        ..C..."] * 2, start=10, end=11)] == [10]


def test_reference_offset():
    """Events and candidates use genome coordinates when the reference string starts at an offset."""
    offset = 5000
    reads = pileup_reads(REF, ["..........C..................."] * 2, offset=offset)
    events = extract_events(reads, REF, offset)
    (cand,) = find_candidates(events, "chr1", REF, offset, offset, offset + len(REF))
    assert cand.start == offset + 10 and cand.ref == "T" and cand.alts == ("C",)


def test_non_acgt_read_bases_are_skipped():
    n_row = "..........N..................."
    snp = "..........C..................."
    (cand,) = call([snp] * 2 + [n_row] * 4 + [MATCH] * 2)
    assert cand.depth == 4 and cand.allele_depths == (2, 2)


def test_make_read_reverse_and_mapq_do_not_change_counts():
    reads = [make_read(f"r{i}", 0, f"{len(REF)}M", REF[:10] + "C" + REF[11:], reverse=i % 2 == 0, mapq=7) for i in range(3)]
    events = extract_events(reads, REF, 0)
    (cand,) = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert cand.allele_depths == (0, 3)


def test_extended_cigar_ops_and_hard_clips():
    seq = REF[:10] + "C" + REF[11:20]
    reads = [make_read("eq", 0, "10=1X9=", seq), make_read("hard", 0, "3H20M2H", seq)]
    events = extract_events(reads, REF, 0)
    (cand,) = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    assert (cand.start, cand.alts, cand.allele_depths) == (10, ("C",), (0, 2))
    assert events.end.tolist() == [20, 20]


# --- the ASCII pileup builder itself ------------------------------------------------------------------

@pytest.mark.parametrize("row, start, cigar, seq", [
    ("ACGTACGTACGT", 0, "12M", "ACGTACGTACGT"),
    ("  GTTCGT", 2, "6M", "GTTCGT"),
    ("  GT.CGT", 2, "6M", "GTACGT"),
    ("ACG--CGTA", 0, "3M2D4M", "ACGCGTA"),
    ("ACG[TT]TACG", 0, "3M2I4M", "ACGTTTACG"),
    ("  ccACGTA", 4, "2S5M", "CCACGTA"),
    ("ACGTACgg", 0, "6M2S", "ACGTACGG"),
    ("ccAC[g]G-Tt  ", 2, "2S2M1I1M1D1M1S", "CCACGGTT"),
])
def test_parse_row(row, start, cigar, seq):
    assert parse_row("ACGTACGTACGT", row) == (start, cigar, seq)


@pytest.mark.parametrize("row", ["", "   ", "AC GT", "ACgtA", "ACGTACGTACGTA", "AC#", "cc[AA]GT"])
def test_parse_row_rejects(row):
    with pytest.raises(ValueError):
        parse_row("ACGTACGTACGT", row)


def test_make_read_fields():
    read = make_read("r", 7, "2S3M1I2M", "GGACGTTA", quals=[1, 2, 3, 4, 5, 6, 7, 8], mapq=33, reverse=True, hp=2)
    assert (read.reference_start, read.reference_end, read.cigarstring) == (7, 12, "2S3M1I2M")
    assert list(read.query_qualities) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert read.is_reverse and read.mapping_quality == 33 and read.get_tag("HP") == 2
    assert make_read("n", 0, "4M", "ACGT", quals=None).query_qualities is None
    assert list(make_read("i", 0, "4M", "ACGT", quals=12).query_qualities) == [12] * 4
    with pytest.raises(ValueError):
        make_read("bad", 0, "4M", "ACG")


def test_insertion_with_n_is_skipped_and_read_keeps_its_snp():
    """A non-ACGT insertion is no allele: the read's base at the anchor counts, and its support says so too."""
    snp = "..........C..................."
    rows = [snp] * 3 + ["..........C[N].................."] + [MATCH] * 3
    (cand,) = call(rows)
    assert cand.allele_depths == (3, 4) and cand.depth == 7
    assert cand.support.tolist() == [0, 0, 0, 0, -1, -1, -1]


def test_n_read_base_supports_nothing():
    snp = "..........C..................."
    (cand,) = call([snp] * 3 + ["..........N..................."] + [MATCH] * 3)
    assert cand.allele_depths == (3, 3)
    assert cand.support.tolist() == [0, 0, 0, NO_ALT, -1, -1, -1]


def test_insertion_deletion_and_snp_at_same_position():
    rows = (["..........C..................."] * 2 + ["...........--................."] * 2
            + ["...........[CC].................."] * 2 + [MATCH] * 2)
    (cand,) = call(rows)
    assert cand.ref == "TAG"
    # SNP C+AG, deletion T, insertion TCC+AG; string sort puts "CAG" < "T" < "TCCAG"
    assert cand.alts == ("CAG", "T", "TCCAG")
    assert cand.allele_depths == (2, 2, 2, 2) and cand.depth == 8
    assert cand.support.tolist() == [0, 0, 1, 1, 2, 2, -1, -1]


def test_anchor_lookup_matches_a_plain_set_test_on_random_reads():
    """anchor_overridden looks each event up in the sorted aligned-base keys; it must mark exactly what a
    set-membership test marks, for reads with insertions, deletions, soft clips and overlapping starts."""
    from deepvariant_py.read_events import anchor_overridden, valid_event_mask

    rng = np.random.default_rng(5)
    ref = "".join(rng.choice(list("ACGT"), 400))
    reads = []
    for i in range(60):
        ops = [f"{rng.integers(0, 4)}S"] if rng.random() < 0.3 else []
        for _ in range(rng.integers(1, 5)):
            ops.append(f"{rng.integers(5, 30)}M")
            ops.append(rng.choice([f"{rng.integers(1, 4)}I", f"{rng.integers(1, 4)}D"]))
        ops.append(f"{rng.integers(5, 30)}M")
        cigar = "".join(o for o in ops if not o.startswith("0"))
        reads.append(make_read(f"r{i}", int(rng.integers(1, 200)), cigar,
                               "".join(rng.choice(list("ACGT"), sum(int(o[:-1]) for o in ops if o[-1] in "MIS")))))
    events = extract_events(reads, ref, 0)
    valid = valid_event_mask(events)
    got = anchor_overridden(events, valid)
    want = np.array([(r, p) in set(zip(events.e_read[valid].tolist(), events.e_pos[valid].tolist()))
                     for r, p in zip(events.m_read.tolist(), events.m_pos.tolist())])
    assert got.any() and np.array_equal(got, want)


def test_bases_and_events_by_position_scanned_or_sorted_agree():
    """ByPosition scans for a few candidate positions and sorts for many: both give the same rows, in order."""
    from deepvariant_py.candidates import ByPosition

    rows = ["..C.......[AA]................", "....CC...........T.....", "..C.......AG..--.......",
            ".........-.......", "  ccC..........T..........", "ACGT.........................tt"]
    events = extract_events(pileup_reads(REF, rows), REF, 0)
    scan, bisect = ByPosition(events, 1), ByPosition(events, 100)
    for pos in range(-1, len(REF) + 1):
        assert scan.bases(pos).tolist() == bisect.bases(pos).tolist()
        assert scan.events(pos).tolist() == bisect.events(pos).tolist()
    assert any(len(scan.events(p)) for p in range(len(REF))) and len(scan.bases(2)) >= 3


# distinguishing_span: what a read must cover to tell an indel from the reference.
#          0         1         2
#          0123456789012345678901234
HP_REF = "CTTCAGGGAAAAAAAATTCCCTAAA"  # G at 7, A8 at 8..15, T at 16


@pytest.mark.parametrize("ref, alts, span", [
    ("GA", ("G",), (7, 15)),  # one A fewer: only a read reaching the last A (T against A) tells them apart
    ("G", ("GA",), (7, 16)),  # one A more: the read must reach the T after the run
    ("GAA", ("G", "GA"), (7, 15)),  # the furthest of its alts
    ("G", ("T",), (7, 7)),  # a substitution: its own base
    ("G", ("GC",), (7, 8)),  # an insertion that does not extend a repeat: the next base
])
def test_distinguishing_span_of_indels_in_a_homopolymer(ref, alts, span):
    from deepvariant_py.candidates import distinguishing_span
    from deepvariant_py.variant import VariantInfo
    assert distinguishing_span(VariantInfo("c", 7, ref, alts, 0, ()), HP_REF, 0) == span


def test_distinguishing_span_runs_from_the_left_end_of_a_repeat_and_stops_at_the_flank():
    from deepvariant_py.candidates import distinguishing_span
    from deepvariant_py.variant import VariantInfo
    ref = "CAG" + "CA" * 6 + "TTG"  # G at 2, (CA)6 at 3..14, T at 15
    # One CA fewer: the alt reads T where the reference has its last C (13).
    assert distinguishing_span(VariantInfo("c", 2, "GCA", ("G",), 0, ()), ref, 0) == (2, 13)
    # The reference handed over ends inside the run: the span stops at its last base.
    assert distinguishing_span(VariantInfo("c", 2, "GCA", ("G",), 0, ()), ref[:10], 0) == (2, 9)
    # Offsets: the same site in a window that starts 100 bases into the contig.
    assert distinguishing_span(VariantInfo("c", 102, "GCA", ("G",), 0, ()), ref, 100) == (102, 113)
