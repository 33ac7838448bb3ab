"""Local realignment (docs/design.md §3): window selection, de Bruijn assembly, read realignment on hand-built reads."""
from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from builders import header_for, make_read, pileup_reads
from deepvariant_py.read_events import extract_events
from deepvariant_py.realigner import RealignerOptions, assemble_haplotypes, realign_reads, select_windows
from deepvariant_py.realigner.aligner import (M, I, D, S, compose, haplotype_to_reference, is_left_aligned, left_align,
                                             pad_haplotype)
from deepvariant_py.realigner.debruijn import assemble
from deepvariant_py.realigner.window_selector import supporting_counts

OPTS = RealignerOptions()


def random_ref(length: int, seed: int) -> str:
    """A reproducible reference without long repeats (short k-mers are unique, as in most real windows)."""
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


REF = random_ref(1500, 7)
HEADER = header_for(length=len(REF))


def fetch(start: int, end: int) -> str:
    return REF[max(0, start):min(len(REF), end)]


def read(name, start, cigar, seq, **kw):
    return make_read(name, start, cigar, seq, header=HEADER, **kw)


def ref_read(name, start, length=100, **kw):
    return read(name, start, f"{length}M", REF[start:start + length], **kw)


def snp_read(name, start, snps, length=100, **kw):
    """A read matching the reference except at `snps` (absolute positions), where the base is changed."""
    seq = list(REF[start:start + length])
    for p in snps:
        seq[p - start] = "ACGT"[("ACGT".index(REF[p]) + 1) % 4]
    return read(name, start, f"{length}M", "".join(seq), **kw)


def events_of(reads):
    """What make_examples hands window selection: the reads' events."""
    return extract_events(reads, REF, 0)


def substitute(pos: int) -> str:
    return "ACGT"[("ACGT".index(REF[pos]) + 1) % 4]


# ---------------------------------------------------------------- window selection

def test_snp_cluster_gives_one_padded_window():
    reads = [snp_read(f"s{i}", 150, [200, 205]) for i in range(3)] + [ref_read(f"r{i}", 150 + i) for i in range(5)]
    assert select_windows(events_of(reads), fetch, 0, 1000, OPTS, len(REF)) == [(120, 285)]


def test_single_supporting_read_or_low_quality_selects_nothing():
    one = [snp_read("s", 150, [200])] + [ref_read(f"r{i}", 150) for i in range(5)]
    assert select_windows(events_of(one), fetch, 0, 1000) == []
    low_bq = [snp_read(f"s{i}", 150, [200], quals=19) for i in range(3)]
    assert select_windows(events_of(low_bq), fetch, 0, 1000) == []
    low_mapq = [snp_read(f"s{i}", 150, [200], mapq=19) for i in range(3)]
    assert select_windows(events_of(low_mapq), fetch, 0, 1000) == []
    ok = [snp_read(f"s{i}", 150, [200], quals=20, mapq=20) for i in range(2)]
    assert select_windows(events_of(ok), fetch, 0, 1000) == [(120, 280)]


def test_insertion_spreads_over_twice_its_length():
    # 3-bp insertion anchored at 249: counted over [249 + 1 - 3, 249 + 1 + 3) = [247, 253)
    seq = REF[150:250] + "TTT" + REF[250:300]
    reads = [read(f"i{i}", 150, "100M3I50M", seq) for i in range(2)]
    counts = supporting_counts(events_of(reads), fetch, 150, 300, OPTS)
    assert np.flatnonzero(counts).tolist() == list(range(97, 103))
    assert set(counts[97:103].tolist()) == {2}
    assert select_windows(events_of(reads), fetch, 150, 300, OPTS) == [(247 - 80, 252 + 80)]


def test_deletion_counts_the_deleted_bases_and_soft_clip_spreads():
    seq = REF[150:250] + REF[254:300]
    dels = [read(f"d{i}", 150, "100M4D46M", seq) for i in range(2)]
    counts = supporting_counts(events_of(dels), fetch, 150, 300, OPTS)
    assert np.flatnonzero(counts).tolist() == list(range(100, 104))  # positions 250..253
    clipped = [read(f"c{i}", 200, "5S95M", "GGGGG" + REF[200:295]) for i in range(2)]
    counts = supporting_counts(events_of(clipped), fetch, 150, 300, OPTS)
    assert np.flatnonzero(counts).tolist() == list(range(195 - 150, 205 - 150))  # anchor 199, L=5


@pytest.mark.parametrize("second, expected", [
    (360, [(120, 440)]),              # 160 apart: one window
    (361, [(120, 280), (281, 441)]),  # more than 2 x 80 apart: two windows
])
def test_windows_merge_or_split_by_distance(second, expected):
    reads = [snp_read(f"a{i}", 150, [200]) for i in range(2)] + [snp_read(f"b{i}", second - 50, [second]) for i in range(2)]
    assert select_windows(events_of(reads), fetch, 0, 1000, OPTS, len(REF)) == expected


def test_window_longer_than_max_size_is_skipped():
    snps = list(range(200, 1200, 100))  # one merged window [120, 1180): 1060 bp
    reads = [snp_read(f"s{p}_{i}", p - 50, [p]) for p in snps for i in range(2)]
    assert select_windows(events_of(reads), fetch, 0, 1500, OPTS, len(REF)) == []
    assert select_windows(events_of(reads), fetch, 0, 1500, RealignerOptions(max_window_size=1100), len(REF)) == [(120, 1180)]


def test_windows_stay_inside_the_expanded_partition():
    # SNP at 205 is 5 bp past a partition ending at 200, inside the 20-bp expansion; one at 230 is outside it
    reads = [snp_read(f"s{i}", 150, [205, 230]) for i in range(2)]
    assert select_windows(events_of(reads), fetch, 100, 200, OPTS, len(REF)) == [(125, 285)]


# ---------------------------------------------------------------- assembly

WIN = (300, 500)
WREF = REF[300:500]


def test_assembles_an_insertion_and_a_deletion():
    ins_hap = WREF[:100] + "GATTACA" + WREF[100:]
    del_hap = WREF[:60] + WREF[63:]
    reads = []
    for j, hap in enumerate((ins_hap, del_hap)):
        for s in range(0, len(hap) - 80, 20):
            reads.append(read(f"h{j}_{s}", 300 + s, "80M", hap[s:s + 80]))
    reads += [read(f"r{s}", 300 + s, "80M", WREF[s:s + 80]) for s in range(5, 120, 30)]
    haps = assemble_haplotypes(WREF, reads, OPTS)
    both = WREF[:60] + WREF[63:100] + "GATTACA" + WREF[100:]  # the graph also joins the two bubbles
    assert haps == sorted([WREF, ins_hap, del_hap, both])
    assert assemble_haplotypes(WREF, reads, OPTS, ref_start=300) == haps


def test_only_reference_or_weak_alt_gives_nothing():
    refs = [read(f"r{s}", 300 + s, "80M", WREF[s:s + 80]) for s in range(0, 120, 20)]
    assert assemble_haplotypes(WREF, refs) == []
    del_hap = WREF[:60] + WREF[63:]
    one = refs + [read("d", 320, "80M", del_hap[20:100])]  # alt edges of weight 1 are pruned
    assert assemble_haplotypes(WREF, one) == []
    low_mapq = refs + [read(f"d{i}", 320, "80M", del_hap[20:100], mapq=13) for i in range(3)]
    assert assemble_haplotypes(WREF, low_mapq) == []
    assert assemble_haplotypes(WREF, [read(f"d{i}", 320, "80M", del_hap[20:100]) for i in range(2)]) == sorted([WREF, del_hap])


def test_low_quality_bases_do_not_make_kmers():
    del_hap = WREF[:60] + WREF[63:]
    quals = [30] * 80
    quals[40] = 14  # the base right after the deletion junction
    reads = [read(f"d{i}", 320, "80M", del_hap[20:100], quals=quals) for i in range(3)]
    assert assemble_haplotypes(WREF, reads) == []
    quals[40] = 15
    reads = [read(f"d{i}", 320, "80M", del_hap[20:100], quals=quals) for i in range(3)]
    assert assemble_haplotypes(WREF, reads) == sorted([WREF, del_hap])


def test_repeated_reference_kmer_raises_k():
    unit = "ACGTTGCATG"  # 10-mer present twice: k must exceed 10
    ref = WREF[:50] + unit + WREF[50:100] + unit + WREF[100:150]
    alt = ref[:120] + ref[122:]
    reads = [read(f"a{i}", 0, f"{len(alt) - 40}M", alt[20:-20]) for i in range(2)]
    haps = assemble(ref, reads)
    assert sorted(h.sequence for h in haps) == sorted([ref, alt])
    assert [h.is_ref for h in haps] == [h.sequence == ref for h in haps]


def test_too_many_paths_gives_up():
    # 9 independent SNP bubbles -> 512 paths > 256
    alts = []
    for j in range(9):
        p = 15 + 20 * j
        alts.append(p)
    reads = []
    for p in alts:
        hap = WREF[:p] + ("A" if WREF[p] != "A" else "C") + WREF[p + 1:]
        reads += [read(f"s{p}_{i}", 300 + p - 12, "25M", hap[p - 12:p + 13]) for i in range(2)]
    assert assemble_haplotypes(WREF, reads) == []
    assert len(assemble_haplotypes(WREF, reads, RealignerOptions(dbg_max_num_paths=600))) == 512


# ---------------------------------------------------------------- CIGAR helpers

def test_left_align_moves_indels_to_the_start_of_repeats():
    ref = "GCAAAAATG"
    query = "GCAAAATG"
    assert left_align([[M, 6], [D, 1], [M, 2]], query, ref) == [[M, 2], [D, 1], [M, 6]]
    assert left_align([[M, 7], [I, 2], [M, 2]], "GCACACACATG", "GCACACATG") == [[M, 1], [I, 2], [M, 8]]
    assert not is_left_aligned([(M, 6), (D, 1), (M, 2)], query, ref, 0)
    assert is_left_aligned([(M, 2), (D, 1), (M, 6)], query, ref, 0)


def test_compose_read_to_haplotype_with_haplotype_to_reference():
    # haplotype = ref with 2 bases deleted after position 5 and "TT" inserted after position 12
    hap = pad_haplotype("x" * 16, False, [[M, 6], [D, 2], [M, 7], [I, 2], [M, 3]], "", "")
    assert compose([[M, 10]], 2, hap) == (2, [[M, 4], [D, 2], [M, 6]])
    assert compose([[M, 10]], 6, hap) == (8, [[M, 7], [I, 2], [M, 1]])
    assert compose([[M, 4]], 13, hap) == (15, [[S, 2], [M, 2]])  # read starting in the inserted bases
    assert compose([[M, 3], [D, 2], [M, 3]], 1, hap) == (1, [[M, 3], [D, 4], [M, 3]])


def test_a_unit_moved_inside_an_imperfect_repeat_aligns_as_two_unit_indels():
    """A haplotype that inserts GATA and deletes a GATA 28 bp on, inside an imperfect (GATA)n. With the read
    scores (4/6/8/2) it aligns to the reference as a 2-bp deletion and two 1-bp insertions no read carries,
    and every read realigned to it would inherit them; the haplotype scores write the two 4-bp events."""
    left, repeat, right = ("CCGACGATGCGGGTCTTGGTCCCTACTGGTCCCAGCAACC", "GATAGATAGAGATAGAGATGGATAGATAGATAGATAGAGATAGATAGA",
                           "TGGCTTTCGCTTTGCATAACCAAACCAGGTGAAGGAAGCA")
    ref = left + repeat + right
    hap = ref[:40] + "GATA" + ref[40:68] + ref[72:]
    assert haplotype_to_reference(hap, ref, OPTS) == [[M, 40], [I, 4], [M, 20], [D, 4], [M, 64]]
    read_scores = replace(OPTS, hap_match=OPTS.match, hap_mismatch=OPTS.mismatch, hap_gap_open=OPTS.gap_open,
                          hap_gap_extend=OPTS.gap_extend)
    gaps = [n for op, n in haplotype_to_reference(hap, ref, read_scores) if op in (I, D)]
    assert len(gaps) > 2 and 4 not in gaps


def test_an_insertion_and_a_deletion_in_a_repeat_stay_two_events():
    """A 12-bp insertion and a 4-bp deletion 25 bp apart inside a (CCTT)n repeat (one haplotype of
    two planted 1/2 indel sites of a simulated sample, hs37d5 chr20:971165). With GATK's 200 per aligned base
    it aligned as 6I, 1D, 3I and a mismatch: alleles nobody has."""
    ref = "TCCTCCCTCCCTCCCTCCTTCCTTCCTTTCTTTTTCTTTCTTCTTTCTTTCTCAGTCTCTCTCTC"
    hap = ref[:15] + "TCCTTCCTTCCT" + ref[15:40] + ref[44:]
    assert haplotype_to_reference(hap, ref, OPTS) == [[M, 15], [I, 12], [M, 25], [D, 4], [M, 21]]
    gatk = [op for op, _ in haplotype_to_reference(hap, ref, replace(OPTS, hap_match=200)) if op in (I, D)]
    assert len(gatk) == 3


def test_two_one_base_insertions_are_not_merged_into_one_plus_a_mismatch():
    """Two 1-bp A insertions 10 bp apart before A runs (HG002, GRCh38 chr20:8645304 and 8645314): without
    enough reward per aligned base they become a 2-bp insertion and a substitution."""
    ref = "AACACCCAAGAATGATCAATAAAAAAAAATAAAAAAAATAAAGACATTAT"
    hap = ref[:20] + "A" + ref[20:30] + "A" + ref[30:]
    assert haplotype_to_reference(hap, ref, OPTS) == [[M, 20], [I, 1], [M, 10], [I, 1], [M, 20]]
    assert haplotype_to_reference(hap, ref, replace(OPTS, hap_match=99)) == [[M, 29], [I, 2], [M, 21]]


# ---------------------------------------------------------------- realignment

DEL_AT = 700  # 2-bp deletion of REF[700:702]
DEL_HAP = REF[:DEL_AT] + REF[DEL_AT + 2:]


def deletion_reads():
    """Reads of a het 2-bp deletion, some aligned with a D, plus reference reads."""
    reads = []
    for i, s in enumerate(range(605, 695, 12)):  # properly aligned deletion reads
        left = DEL_AT - s
        reads.append(read(f"good{i}", s, f"{left}M2D{100 - left}M", DEL_HAP[s:s + 100]))
    reads += [ref_read(f"ref{i}", s) for i, s in enumerate(range(580, 720, 20))]
    return reads


def test_deletion_shown_as_mismatches_or_soft_clip_gets_a_d():
    s = DEL_AT - 94  # 94 bases before the deletion, 6 after it
    mism = read("mism", s, "100M", DEL_HAP[s:s + 100])
    clip = read("clip", s, "94M6S", DEL_HAP[s:s + 100])
    s2 = DEL_AT - 5  # deletion 5 bases from the read start, shown as a leading soft clip
    lead = read("lead", s2 + 2 + 5, "5S95M", DEL_HAP[s2:s2 + 100])
    reads = deletion_reads() + [mism, clip, lead]
    out = realign_reads(reads, fetch, len(REF), 600, 800)
    by_name = {r.query_name: r for r in out}
    assert (by_name["mism"].reference_start, by_name["mism"].cigarstring) == (s, "94M2D6M")
    assert (by_name["clip"].reference_start, by_name["clip"].cigarstring) == (s, "94M2D6M")
    assert (by_name["lead"].reference_start, by_name["lead"].cigarstring) == (s2, "5M2D95M")
    for before in (mism, clip, lead):
        after = by_name[before.query_name]
        assert after is not before
        assert after.query_sequence == before.query_sequence
        assert list(after.query_qualities) == list(before.query_qualities)
    # order kept; reads already right come back as the same objects
    assert [r.query_name for r in out] == [r.query_name for r in reads]
    assert all(a is b for a, b in zip(out[:-3], reads[:-3]))


def test_reads_spanning_far_more_reference_than_bases_keep_their_alignment_and_do_not_stretch_the_window(monkeypatch):
    """A short read across a huge deletion or an intron (RNA) used to make every read of its window align to a
    haplotype as long as its span (minutes a window at 500 kb); it keeps its alignment, the others are as without it."""
    import deepvariant_py.realigner.aligner as aligner

    base = deletion_reads() + [read("mism", DEL_AT - 94, "100M", DEL_HAP[DEL_AT - 94:DEL_AT + 6])]
    far = [read("deleted", 300, "50M1100D50M", REF[300:350] + REF[1450:1500]),
           read("spliced", 380, "50M900N50M", REF[380:430] + REF[1330:1380])]
    want = [(r.reference_start, r.cigarstring) for r in realign_reads(base, fetch, len(REF), 600, 800)]
    longest = []
    for name in ("sg_dx_trace_scan_16", "sw_trace_scan_16"):
        real = getattr(aligner.parasail, name)
        monkeypatch.setattr(aligner.parasail, name, lambda s1, s2, *a, real=real: longest.append(len(s2)) or real(s1, s2, *a))
    out = realign_reads(base + far, fetch, len(REF), 600, 800)
    assert all(n < 500 for n in longest)  # the window's reads and margins, never the 1,200 bp under "deleted"
    assert [(r.reference_start, r.cigarstring) for r in out[:len(base)]] == want and want[-1][1] == "94M2D6M"
    assert out[-2] is far[0] and out[-1] is far[1]


def test_a_padded_read_is_realigned_like_the_unpadded_one():
    """P consumes neither read nor reference (50M3P50M is 100M); padded reads used to be left out of realignment,
    which changed calls (a hom deletion called het) on a BAM that pads every read."""
    s = DEL_AT - 94
    seq = DEL_HAP[s:s + 100]
    out = realign_reads(deletion_reads() + [read("mism", s, "100M", seq), read("padded", s, "50M3P50M", seq)],
                        fetch, len(REF), 600, 800)
    assert [(r.reference_start, r.cigarstring) for r in out[-2:]] == [(s, "94M2D6M")] * 2


def test_unrelated_soft_clip_stays_clipped():
    s = 600
    junk = "GGGGGGGGGG"
    clipped = read("adapter", s, "90M10S", REF[s:s + 90] + junk)
    reads = deletion_reads() + [clipped]
    out = realign_reads(reads, fetch, len(REF), 600, 800)
    assert out[-1] is clipped


def test_insertion_shown_as_mismatches_gets_an_i():
    at = 1000
    hap = REF[:at] + "TGCA" + REF[at:]
    reads = [read(f"ins{i}", s, f"{at - s}M4I{96 - (at - s)}M", hap[s:s + 100]) for i, s in enumerate(range(910, 990, 20))]
    reads += [ref_read(f"ref{i}", s) for i, s in enumerate(range(920, 1000, 25))]
    s = at - 96  # 96 bases before the insertion, the last 4 are the inserted ones
    bad = read("bad", s, "100M", hap[s:s + 100])
    out = realign_reads(reads + [bad], fetch, len(REF), 900, 1100)
    assert (out[-1].reference_start, out[-1].cigarstring) == (s, "96M4S")  # insertion at the read end: soft clip
    s = at - 90
    bad = read("bad2", s, "100M", hap[s:s + 100])
    out = realign_reads(reads + [bad], fetch, len(REF), 900, 1100)
    assert (out[-1].reference_start, out[-1].cigarstring) == (s, "90M4I6M")


def test_a_window_with_scattered_low_qualities_is_assembled_again_with_qualities_down_to_8():
    """Every 9th base at Q12 leaves no run of 11 bases at Q >= 15: no k-mer at all. The retry at Q >= 8 finds the
    insertion (HiSeq 2000 reads in a tandem repeat, where k must be large, are the real case)."""
    at = 1000
    hap = REF[:at] + "TGCA" + REF[at:]
    quals = [12 if i % 9 == 4 else 35 for i in range(100)]
    reads = [read(f"ins{i}", s, f"{at - s}M4I{96 - (at - s)}M", hap[s:s + 100], quals=quals)
             for i, s in enumerate(range(910, 990, 20))]
    reads += [ref_read(f"ref{i}", s, quals=quals) for i, s in enumerate(range(920, 1000, 25))]
    s = at - 90
    bad = read("bad", s, "100M", hap[s:s + 100], quals=quals)
    out = realign_reads(reads + [bad], fetch, len(REF), 900, 1100)
    assert (out[-1].reference_start, out[-1].cigarstring) == (s, "90M4I6M")
    no_retry = realign_reads(reads + [bad], fetch, len(REF), 900, 1100, replace(OPTS, dbg_retry_base_quality=15))
    assert no_retry[-1].cigarstring == "100M"
    below_8 = [7 if q == 12 else q for q in quals]  # the retry keeps a floor
    low = [read(r.query_name, r.reference_start, r.cigarstring, r.query_sequence, quals=below_8) for r in reads + [bad]]
    assert realign_reads(low, fetch, len(REF), 900, 1100)[-1].cigarstring == "100M"


def test_deletion_at_the_right_end_of_a_homopolymer_comes_back_left_aligned():
    ref = "CGTAGCTTGACCGATGCAAAAAAGTCCTAGGCATTCGGATCCTAGCAGTTGCAACGGTCAATCGTACCGGTAACT"
    #     0         1         2
    #     01234567890123456789012345
    # homopolymer A at 17..22; reads delete one A, drawn at the right end (column 22)
    assert ref[16:24] == "CAAAAAAG"
    right = "." * 22 + "-" + "." * (len(ref) - 23)
    rows = [" " * k + right[k:] for k in (0, 2, 4, 6)] + ["." * len(ref)] * 3
    reads = pileup_reads(ref, rows, header=header_for(length=len(ref)))
    assert reads[0].cigarstring == "22M1D52M"
    out = realign_reads(reads, lambda a, b: ref[max(0, a):min(len(ref), b)], len(ref), 0, len(ref))
    assert [r.cigarstring for r in out[:4]] == ["17M1D57M", "15M1D57M", "13M1D57M", "11M1D57M"]
    assert [r.reference_start for r in out[:4]] == [0, 2, 4, 6]
    assert all(a is b for a, b in zip(out[4:], reads[4:]))


def test_long_reads_are_untouched():
    hap = DEL_HAP
    s = DEL_AT - 300
    long_mism = read("long", s, "600M", hap[s:s + 600])
    reads = deletion_reads() + [long_mism]
    out = realign_reads(reads, fetch, len(REF), 600, 800)
    assert out[-1] is long_mism
    short = realign_reads(reads[:-1] + [read("short", s + 220, "100M", hap[s + 220:s + 320])], fetch, len(REF), 600, 800)
    assert short[-1].cigarstring == "80M2D20M"


def test_no_windows_returns_the_same_objects():
    reads = [ref_read(f"r{i}", 600 + 10 * i) for i in range(10)] + [snp_read("s", 650, [700])]
    out = realign_reads(reads, fetch, len(REF), 600, 800)
    assert out == reads and all(a is b for a, b in zip(out, reads))
    assert realign_reads([], fetch, len(REF), 600, 800) == []


def test_hard_clips_and_missing_qualities_are_kept():
    s = DEL_AT - 94
    hard = read("hard", s, "5H94M6S", DEL_HAP[s:s + 100])
    noqual = read("noqual", s, "100M", DEL_HAP[s:s + 100], quals=None)
    out = realign_reads(deletion_reads() + [hard, noqual], fetch, len(REF), 600, 800)
    assert out[-2].cigarstring == "5H94M2D6M"
    assert out[-1].cigarstring == "94M2D6M" and out[-1].query_qualities is None


def test_read_not_explained_by_any_haplotype_keeps_its_alignment():
    # the deletion plus two 1-bp insertions that no haplotype has: more gaps than max_read_gaps (1), so the
    # read is left as the mapper aligned it; with one extra insertion it is realigned
    s = DEL_AT - 94
    one = DEL_HAP[s:s + 50] + "A" + DEL_HAP[s + 50:s + 99]
    two = DEL_HAP[s:s + 30] + "A" + DEL_HAP[s + 30:s + 50] + "A" + DEL_HAP[s + 50:s + 98]
    odd, odder = read("odd", s, "100M", one), read("odder", s, "100M", two)
    assert realign_reads(deletion_reads() + [odder], fetch, len(REF), 600, 800)[-1] is odder
    assert realign_reads(deletion_reads() + [odd], fetch, len(REF), 600, 800)[-1].cigarstring == "50M1I44M2D5M"
    strict = realign_reads(deletion_reads() + [odd], fetch, len(REF), 600, 800, RealignerOptions(max_read_gaps=0))
    assert strict[-1] is odd


def test_read_that_fits_reference_and_alt_equally_stays_on_the_reference():
    # in a 10-copy dinucleotide repeat with one copy deleted, a read ending inside the repeat matches both
    # haplotypes verbatim: it is no evidence for the deletion and must not be given one
    ref = REF[:700] + "CA" * 10 + REF[720:]
    alt = ref[:700] + ref[702:]
    get = lambda s, e: ref[max(0, s):min(len(ref), e)]
    reads = []
    for i, s in enumerate(range(630, 690, 6)):
        left = 700 - s
        reads.append(read(f"del{i}", s, f"{left}M2D{100 - left}M", alt[s:s + 100]))
    reads += [read(f"ref{i}", s, "100M", ref[s:s + 100]) for i, s in enumerate(range(640, 700, 10))]
    inside = read("inside", 612, "100M", ref[612:712])  # ends 6 bp into the repeat
    out = realign_reads(reads + [inside], get, len(ref), 600, 800)
    assert out[-1] is inside
    assert alt.find(inside.query_sequence) >= 0  # it would have fitted the deletion haplotype too


def test_haplotype_cap_keeps_reference_and_best_supported():
    from deepvariant_py.realigner import _pick_haplotypes
    from deepvariant_py.realigner.debruijn import REF_SUPPORT, Haplotype
    haps = [Haplotype("A", 3, False), Haplotype("C", REF_SUPPORT, True), Haplotype("G", 9, False), Haplotype("T", 5, False)]
    assert [h.sequence for h in _pick_haplotypes(haps, 3)] == ["C", "G", "T"]
    assert _pick_haplotypes(haps, 4) == haps


def test_exact_match_in_a_repeat_stays_where_the_mapper_put_it():
    from deepvariant_py.realigner.aligner import WindowAligner
    from deepvariant_py.realigner.debruijn import REF_SUPPORT, Haplotype
    unit = "GATTACAGATCC"
    window = REF[0:30] + unit + REF[30:60] + unit + REF[60:90]
    alt = window[:5] + window[7:]  # a deletion far from both copies
    aligner = WindowAligner(window, [Haplotype(alt, 5, False), Haplotype(window, REF_SUPPORT, True)], 0, "", "", OPTS)
    second = window.index(unit, 50)
    r = make_read("rep", second, "12M", unit, header=header_for(length=len(window)))
    assert aligner.realign(r) is None
    first = make_read("rep1", 30, "12M", unit, header=header_for(length=len(window)))
    assert aligner.realign(first) is None


def test_an_ungapped_read_on_the_reference_stays_only_where_it_already_is():
    from deepvariant_py.realigner.aligner import WindowAligner
    from deepvariant_py.realigner.debruijn import REF_SUPPORT, Haplotype
    window = REF[0:200]
    alt = window[:100] + window[103:]  # a 3-bp deletion the read does not reach
    aligner = WindowAligner(window, [Haplotype(alt, 5, False), Haplotype(window, REF_SUPPORT, True)], 0, "", "", OPTS)
    seq = window[10:40] + substitute(40) + window[41:70]  # one mismatch: aligned by parasail, not found exactly
    header = header_for(length=len(window))
    assert aligner.realign(make_read("there", 10, "60M", seq, header=header)) is None
    moved = aligner.realign(make_read("shifted", 13, "60M", seq, header=header))  # the mapper put it 3 bp off
    assert (moved.reference_start, moved.cigarstring) == (10, "60M")
    split = aligner.realign(make_read("split", 10, "30M30M", seq, header=header))  # same place, another CIGAR
    assert (split.reference_start, split.cigarstring) == (10, "60M")


def test_reads_tied_between_haplotypes_follow_the_one_other_reads_prefer():
    from deepvariant_py.realigner.aligner import Hit, WindowAligner, haplotype_weights
    from deepvariant_py.realigner.debruijn import REF_SUPPORT, Haplotype
    # Haplotype 1 is the one reads reaching the difference fit; reads that stop short fit 0 and 1 equally.
    weights = haplotype_weights([[0, 1], [1], [1], [0, 1], [2], [1]], 3)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[1] > 0.75 and weights[0] < 0.05
    assert haplotype_weights([[0, 1], [0, 1]], 2).tolist() == [0.5, 0.5]  # nothing to tell them apart
    assert haplotype_weights([[], []], 2).tolist() == [0.0, 0.0]
    window = REF[0:120]
    haps = [Haplotype(window[:40] + "A" + window[40:], 4, False), Haplotype(window[:40] + "C" + window[40:], 9, False),
            Haplotype(window, REF_SUPPORT, True)]
    aligner = WindowAligner(window, haps, 0, "", "", OPTS)
    tied = [Hit(0, [[M, 50]], 0), Hit(1, [[M, 50]], 0)]
    assert aligner.choose(tied).hap == 0  # without weights: the first
    assert aligner.choose(tied, weights[:2]).hap == 1
    assert aligner.haps[aligner.choose(tied + [Hit(2, [[M, 50]], 0)], weights).hap].is_ref  # reference first


def test_windows_whose_haplotypes_only_substitute_bases_are_left_alone():
    """A window whose haplotypes differ from the reference by a few substituted bases needs no new gaps: its
    reads keep their alignments, even one the mapper clipped at the SNPs (realignment would align it)."""
    snp_hap = list(REF)
    for p in (200, 205):
        snp_hap[p] = substitute(p)
    snp_hap = "".join(snp_hap)
    reads = [snp_read(f"s{i}", 150 + i, [200, 205]) for i in range(4)] + [ref_read(f"r{i}", 150 + i) for i in range(5)]
    clip = read("clip", 150, "50M50S", snp_hap[150:250])
    out = realign_reads(reads + [clip], fetch, len(REF), 100, 400)
    assert all(a is b for a, b in zip(out, reads + [clip]))


def test_windows_without_indels_or_clips_are_not_assembled(monkeypatch):
    """A window whose reads only mismatch the reference is not assembled (min_gap_events); one gapped read in it
    is enough, and min_gap_events=0 assembles every window as DeepVariant does."""
    import deepvariant_py.realigner as realigner
    seen = []
    real = realigner.assemble_segments
    monkeypatch.setattr(realigner, "assemble_segments", lambda ref, segments, opts: seen.append(opts.dbg_min_base_quality)
                        or real(ref, segments, opts))
    snps = [snp_read(f"s{i}", 150 + i, [200, 205]) for i in range(4)] + [ref_read(f"r{i}", 150 + i) for i in range(5)]
    realign_reads(snps, fetch, len(REF), 100, 400)
    assert seen == []
    realign_reads(snps, fetch, len(REF), 100, 400, RealignerOptions(min_gap_events=0))
    assert seen == [15]
    seen.clear()
    deleted = REF[150:210] + REF[212:252]
    realign_reads(snps + [read("d", 150, "60M2D40M", deleted)], fetch, len(REF), 100, 400)
    assert seen == [15]  # a one-read deletion gives no haplotype; no base under Q15, so no second try
    seen.clear()
    realign_reads(snps + [read("d", 150, "60M2D40M", deleted, quals=12)], fetch, len(REF), 100, 400)
    assert seen == [15, 8]  # its bases are Q12: assembled again with them (Q >= 8), and no more


def test_window_selection_from_the_callers_events_equals_its_own():
    """make_examples hands realignment the events it extracted (at its own base-quality threshold, long and
    low-MAPQ reads included): windows and realigned reads are the same as when realignment extracts them."""
    seq = REF[150:250] + "TTT" + REF[250:300]
    lowq_ins = [read(f"q{i}", 150, "100M3I50M", seq, quals=12) for i in range(2)]
    long_read = read("long", 100, "600M", REF[100:700])
    mism = read("mism", DEL_AT - 94, "100M", DEL_HAP[DEL_AT - 94:DEL_AT + 6])
    reads = deletion_reads() + lowq_ins + [long_read, mism, snp_read("m", 150, [200], mapq=10), snp_read("n", 150, [200])]
    events = extract_events(reads, REF, 0, 10)
    movable = [r for r in reads if r.mapping_quality >= OPTS.ws_min_mapq and r.query_length <= OPTS.max_read_length]
    for lo, hi in ((0, 1000), (600, 800)):  # long and low-MAPQ reads, and the threshold, change nothing
        assert select_windows(events, fetch, lo, hi, OPTS, len(REF)) == select_windows(
            extract_events(movable, REF, 0, OPTS.ws_min_base_quality), fetch, lo, hi, OPTS, len(REF))
    mine = realign_reads(reads, fetch, len(REF), 600, 800, OPTS, events)
    theirs = realign_reads(reads, fetch, len(REF), 600, 800, OPTS)
    assert [(r.reference_start, r.cigarstring) for r in mine] == [(r.reference_start, r.cigarstring) for r in theirs]
    assert mine[-3].cigarstring == "94M2D6M"


def test_packed_kmer_counts_equal_string_counts():
    from collections import Counter

    from deepvariant_py.realigner.debruijn import _read_edges

    rng = random.Random(3)
    segments = [REF[s:s + rng.randrange(11, 150)] for s in (rng.randrange(0, 1300) for _ in range(80))] + ["ACGTACGTACGT" * 3]
    for k in (10, 15, 31, 32, 40):  # packed up to 32 bases per (k+1)-mer, strings beyond
        want = Counter(s[i:i + k + 1] for s in segments for i in range(len(s) - k))
        assert _read_edges(segments, k) == want
    assert _read_edges(["ACGT"], 10) == Counter() and _read_edges([], 10) == Counter()
