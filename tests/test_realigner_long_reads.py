"""Long reads realigned beside short ones (docs/design.md §3.4): pieces cut, realigned and spliced back."""
from __future__ import annotations

import pytest

from test_realigner import DEL_AT, DEL_HAP, REF, deletion_reads, events_of, fetch, read
from deepvariant_py.realigner import RealignerOptions, realign_reads
from deepvariant_py.cigar import AlignedBases
from deepvariant_py.realigner.long_reads import cut_cigar, observed_haplotypes, query_offset

ON = RealignerOptions(long_reads=True)


def call(reads, opts=ON, lo=600, hi=800):
    return realign_reads(reads, fetch, len(REF), lo, hi, opts, events_of(reads))


@pytest.mark.parametrize("cigar, pos, expected", [
    ([(0, 10)], 3, 3),
    ([(4, 5), (0, 10)], 0, 5),  # soft clip before the first aligned base
    ([(5, 2), (0, 4), (2, 3), (0, 4)], 5, None),  # deleted in the read
    ([(0, 4), (2, 3), (0, 4)], 7, 4),
    ([(0, 4), (1, 3), (0, 4)], 5, 8),  # after an insertion
    ([(0, 4)], 9, None),  # past the alignment
])
def test_query_offset(cigar, pos, expected):
    assert query_offset(cigar, 0, pos) == expected


def test_cut_cigar_splits_the_aligned_operations_and_keeps_clips_and_deletions_on_their_left():
    cigar = [(5, 3), (4, 2), (0, 6), (1, 2), (0, 5), (2, 1), (0, 3), (5, 4)]

    def cut(q_lo, q_hi):
        return tuple([list(op) for op in part] for part in cut_cigar(cigar, AlignedBases(cigar, 100), q_lo, q_hi))
    assert cut(4, 15) == ([[5, 3], [4, 2], [0, 2]], [[0, 4], [1, 2], [0, 5], [2, 1]], [[0, 3], [5, 4]])
    assert cut(10, 15) == ([[5, 3], [4, 2], [0, 6], [1, 2]], [[0, 5], [2, 1]], [[0, 3], [5, 4]])
    assert cut(5, 7) == ([[5, 3], [4, 2], [0, 3]], [[0, 2]], [[0, 1], [1, 2], [0, 5], [2, 1], [0, 3], [5, 4]])
    assert cut(2, 16) == ([[5, 3], [4, 2]], [[0, 6], [1, 2], [0, 5], [2, 1], [0, 1]], [[0, 2], [5, 4]])


def test_long_read_piece_gets_the_short_reads_representation():
    """A 600-bp read whose mapper wrote the 2-bp deletion as two 1-bp ones around mismatches (the cuts are at
    aligned bases outside the window, so the mapper must have the piece's length right): only the piece over
    the window changes."""
    s = DEL_AT - 300
    long_mism = read("long", s, "300M1D3M1D297M", DEL_HAP[s:s + 600])
    out = call(deletion_reads() + [long_mism])
    assert out[-1] is not long_mism
    assert (out[-1].reference_start, out[-1].cigarstring) == (s, "300M2D300M")
    assert out[-1].query_sequence == long_mism.query_sequence
    off = realign_reads(deletion_reads() + [long_mism], fetch, len(REF), 600, 800, RealignerOptions(),
                        events_of(deletion_reads() + [long_mism]))
    assert off[-1] is long_mism  # off by default: long reads are never realigned


def test_edits_outside_the_piece_are_kept():
    """A long read with its own insertion 200 bp away from the window: only the window's piece is rewritten."""
    s = DEL_AT - 300
    seq = DEL_HAP[s:s + 100] + "GG" + DEL_HAP[s + 100:s + 600]
    long_read = read("long", s, "100M2I200M1D3M1D297M", seq)
    out = call(deletion_reads() + [long_read])
    assert out[-1].cigarstring == "100M2I200M2D300M"


def test_long_reads_that_do_not_span_the_window_or_fit_nothing_keep_their_alignment():
    starts_inside = read("inside", DEL_AT - 20, "600M", DEL_HAP[DEL_AT - 20:DEL_AT + 580])
    s = DEL_AT - 300
    # two more 3-bp deletions beside the 2-bp one, all drawn as mismatches: no haplotype fits with one gap
    seq = DEL_HAP[s:s + 310] + DEL_HAP[s + 313:s + 340] + DEL_HAP[s + 343:s + 606]
    noisy = read("noisy", s, "600M", seq)
    out = call(deletion_reads() + [starts_inside, noisy])
    assert out[-2] is starts_inside
    assert out[-1] is noisy


def test_long_reads_add_a_haplotype_short_reads_do_not_have():
    """Three long reads carry an insertion next to the short reads' deletion, drawn by the mapper as two
    insertions around a mismatch: with their bases in the window's graph there is a haplotype that explains
    them."""
    at = DEL_AT + 30
    hap = REF[:at] + "TTGCA" + REF[at:]
    s = at - 300
    longs = [read(f"long{i}", s, "300M2I1M3I294M", hap[s:s + 600]) for i in range(3)]
    out = call(deletion_reads() + longs)
    assert [r.cigarstring for r in out[-3:]] == ["300M5I295M"] * 3


def test_haplotypes_long_reads_spell_identically_are_kept_when_assembly_gives_up():
    """Where the graph has no usable k (here: more paths than allowed), the window's haplotypes are the ones at
    least two long reads spell end to end; one read's spelling is an error, not a haplotype."""
    at = DEL_AT + 30
    hap = REF[:at] + "TTGCA" + REF[at:]
    s = at - 300
    longs = [read(f"long{i}", s, "300M2I1M3I294M", hap[s:s + 600]) for i in range(2)]
    lone = REF[:at + 60] + "GG" + REF[at + 60:]
    longs.append(read("lone", s, "360M2I238M", lone[s:s + 600]))
    reads = deletion_reads() + longs
    gives_up = RealignerOptions(long_reads=True, dbg_max_num_paths=1)
    out = realign_reads(reads, fetch, len(REF), 600, 800, gives_up, events_of(reads))
    assert [r.cigarstring for r in out[-3:-1]] == ["300M5I295M"] * 2
    assert "5I" not in out[-1].cigarstring  # its own insertion, left-normalised (one gap), and no other
    observed = observed_haplotypes(longs, 620, 781, REF[620:781], 2)
    assert [(h.sequence, h.support, h.is_ref) for h in observed] == [(hap[620:786], 2, False)]
    assert observed_haplotypes(longs, 620, 781, REF[620:781], 3) == []


INS_AT = DEL_AT + 30
INS_HAP = REF[:INS_AT] + "TTGCA" + REF[INS_AT:]  # a 5-bp insertion
INS_S = INS_AT - 300  # where the 600-bp long reads over it start


def messy_insertion_reads(n=4):
    """n long reads of INS_HAP whose mapper wrote the insertion as two insertions around a mismatch (as it does
    in tandem repeats), and n that spell the reference."""
    messy = [read(f"long{i}", INS_S, "300M2I1M3I294M", INS_HAP[INS_S:INS_S + 600]) for i in range(n)]
    plain = [read(f"ref{i}", INS_S, "600M", REF[INS_S:INS_S + 600]) for i in range(n)]
    return messy, plain


def test_long_reads_alone_pick_their_own_windows_and_get_one_representation():
    """A HiFi-only run: no short reads to find windows or assemble, so the long reads' own disagreements pick
    the window and their pieces give the haplotypes. Four reads carry a 5-bp insertion that the mapper wrote as
    two insertions around a mismatch, as it does in tandem repeats; all four come out as one 5-bp insertion."""
    messy, plain = messy_insertion_reads()
    out = call(messy + plain)
    assert [r.cigarstring for r in out[:4]] == ["300M5I295M"] * 4
    assert [r.query_sequence for r in out[:4]] == [r.query_sequence for r in messy]
    assert all(a is b for a, b in zip(out[4:], plain))  # reads that already spell the reference keep theirs
    off = realign_reads(messy + plain, fetch, len(REF), 600, 800, RealignerOptions(), events_of(messy + plain))
    assert all(a is b for a, b in zip(off, messy + plain))  # without long_reads nothing moves


def test_long_reads_alone_that_agree_with_the_reference_are_untouched():
    s = DEL_AT - 300
    plain = [read(f"ref{i}", s, "600M", REF[s:s + 600]) for i in range(5)]
    out = call(plain)
    assert all(a is b for a, b in zip(out, plain))


def test_identical_pieces_are_aligned_once(monkeypatch):
    """Pieces with the same bases and cuts get the same alignment: each distinct one is aligned to the
    haplotypes once per window (at 30x most of a window's pieces are copies), and every read still moves."""
    import deepvariant_py.realigner.long_reads as long_reads
    messy, plain = messy_insertion_reads()
    aligned = []
    real = long_reads._align_piece
    monkeypatch.setattr(long_reads, "_align_piece", lambda aligner, seq, lo, hi: aligned.append(seq) or real(aligner, seq, lo, hi))
    out = call(messy + plain)
    assert [r.cigarstring for r in out[:4]] == ["300M5I295M"] * 4
    assert sorted(aligned) == sorted(set(aligned)) and len(aligned) == 2  # the insertion's piece and the reference's


def test_long_reads_alone_take_the_haplotypes_they_spell_without_assembly(monkeypatch):
    """Long reads alone: where two reads spell a non-reference sequence identically, those sequences are the
    window's haplotypes and no graph is built; where no two agree (each read here has an error of its own),
    the window is assembled and the reads still get one representation."""
    import deepvariant_py.realigner as realigner
    assembled = []
    real = realigner.assemble_segments
    monkeypatch.setattr(realigner, "assemble_segments", lambda ref, segments, opts: assembled.append(ref) or real(ref, segments, opts))
    messy, plain = messy_insertion_reads()
    out = call(messy + plain)
    assert [r.cigarstring for r in out[:4]] == ["300M5I295M"] * 4
    assert assembled == []

    def with_error(i):  # a mismatch of its own, inside the window, in each read
        seq = list(INS_HAP[INS_S:INS_S + 600])
        seq[310 + 7 * i] = "A" if seq[310 + 7 * i] != "A" else "C"
        return read(f"err{i}", INS_S, "300M2I1M3I294M", "".join(seq))
    out = call([with_error(i) for i in range(4)] + plain)
    assert len(assembled) == 1
    assert [r.cigarstring for r in out[:4]] == ["300M5I295M"] * 4
