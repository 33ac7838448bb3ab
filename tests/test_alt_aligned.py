"""ALT-aligned pileups (docs/design.md §5): reads realigned to each alt haplotype, on hand-drawn insertions and deletions."""
from __future__ import annotations

import numpy as np
import pytest

from builders import make_read, pileup_reads
from deepvariant_py.alt_aligned import MIN_TRIMMED_LENGTH, _walk_trim, align_to_haplotype, trim_to_window
from deepvariant_py.candidates import find_candidates
from deepvariant_py.errors import DvcallError
from deepvariant_py.images import build_images
from deepvariant_py.pileup import Canvas, PileupOptions, channel_enums, select_rows
from deepvariant_py.read_events import extract_events

#          0         1         2         3         4         5
#          012345678901234567890123456789012345678901234567890123456789
REF = "GATTACACGTTAGCCATGCAGTCAAGTCGACCTGAACGTGCATGGTACCAGTTCAGGCAT"
SITE = 30  # REF[30] = 'C'
MATCH = "." * len(REF)
INS_GG = "." * 31 + "[GG]" + "." * 29  # C -> CGG
DEL_CT = "." * 31 + "--" + "." * 27  # CCT -> C
SNP_A = "." * 30 + "A" + "." * 29

HW = 20
CENTER = HW
DIFF = PileupOptions(width=2 * HW + 1, height=10, ref_rows=2, alt_aligned_pileup="diff_channels")
ROWS = PileupOptions(width=2 * HW + 1, height=10, ref_rows=2, alt_aligned_pileup="rows")
NONE = PileupOptions(width=2 * HW + 1, height=10, ref_rows=2)
BASE_CH, SUPPORT_CH, DIFF_CH, ALT1_CH, ALT2_CH = 0, 4, 5, 6, 7
MATCHES, DIFFERS = 50, 254


def setup(rows, opts=DIFF, ref=REF, site=SITE, canvas_ref=None, ref_fetch=None):
    """(candidate, shown canvas rows, images) for the candidate at `site`; row k of an image is read rows[k]
    when every read starts at column 0 (rows are sorted by start, stably)."""
    reads = pileup_reads(ref, rows)
    events = extract_events(reads, ref, 0)
    [cand] = [c for c in find_candidates(events, "chr1", ref, 0, 0, len(ref)) if c.start == site]
    canvas_ref = ref if canvas_ref is None else canvas_ref
    canvas = Canvas(events, canvas_ref, 0, 0, len(ref), reads=reads)
    return cand, select_rows(canvas, cand, opts), build_images(canvas, cand, opts, ref_fetch=ref_fetch)


def read_row(k, opts=DIFF):
    return opts.ref_rows + k


def test_insertion_alt_reads_match_the_alt_haplotype_and_ref_reads_do_not():
    cand, rows, [(subset, img)] = setup([INS_GG, MATCH, INS_GG, MATCH])
    assert (cand.ref, cand.alts, subset) == ("C", ("CGG",), (0,))
    assert img.shape == (10, 41, 8)
    for k in (0, 2):  # carry the insertion: '*' at the anchor against the reference, all matches against the alt
        assert img[read_row(k), CENTER, DIFF_CH] == DIFFERS
        assert (img[read_row(k), :, ALT1_CH] == MATCHES).all()
    for k in (1, 3):  # reference reads: the opposite; the inserted columns of the alt haplotype stay empty
        assert (img[read_row(k), :, DIFF_CH] == MATCHES).all()
        alt = img[read_row(k), :, ALT1_CH]
        assert alt[CENTER] == DIFFERS
        assert alt[CENTER + 1:CENTER + 3].tolist() == [0, 0]
        assert (np.delete(alt, [CENTER, CENTER + 1, CENTER + 2]) == MATCHES).all()
    assert (img[:2, :, ALT1_CH] == MATCHES).all()  # reference rows
    assert (img[read_row(4):, :, ALT1_CH] == 0).all()  # no read


def test_deletion_alt_reads_match_the_alt_haplotype_and_ref_reads_do_not():
    cand, rows, [(subset, img)] = setup([DEL_CT, MATCH, DEL_CT, MATCH])
    assert (cand.ref, cand.alts) == ("CCT", ("C",))
    for k in (0, 2):
        ref_view = img[read_row(k), :, DIFF_CH]
        assert ref_view[CENTER] == DIFFERS and ref_view[CENTER + 1:CENTER + 3].tolist() == [0, 0]
        assert (img[read_row(k), :, ALT1_CH] == MATCHES).all()
    for k in (1, 3):  # the deleted bases are an insertion against the alt haplotype: one '*' at the anchor
        assert (img[read_row(k), :, DIFF_CH] == MATCHES).all()
        alt = img[read_row(k), :, ALT1_CH]
        assert alt[CENTER] == DIFFERS
        assert (np.delete(alt, CENTER) == MATCHES).all()


def test_single_alt_image_is_used_twice():
    _, _, [(_, img)] = setup([INS_GG, MATCH, INS_GG, MATCH])
    assert np.array_equal(img[..., ALT1_CH], img[..., ALT2_CH])


def test_reference_channels_unchanged_by_the_mode():
    rows = [INS_GG, MATCH, INS_GG, MATCH]
    _, _, [(_, plain)] = setup(rows, opts=NONE)
    _, _, [(_, diff)] = setup(rows, opts=DIFF)
    _, _, [(_, stacked)] = setup(rows, opts=ROWS)
    assert plain.shape == (10, 41, 6)
    assert np.array_equal(diff[..., :6], plain)
    assert np.array_equal(stacked[:10], plain)


def test_two_alts_give_two_different_alt_images():
    rows = [DEL_CT, INS_GG, MATCH, DEL_CT, INS_GG, MATCH]
    cand, _, images = setup(rows)
    assert (cand.ref, cand.alts) == ("CCT", ("C", "CGGCT"))
    by_subset = dict(images)
    assert list(by_subset) == [(0,), (1,), (0, 1)]
    deletion, insertion, both = by_subset[(0,)], by_subset[(1,)], by_subset[(0, 1)]
    assert np.array_equal(deletion[..., ALT1_CH], deletion[..., ALT2_CH])
    assert np.array_equal(insertion[..., ALT1_CH], insertion[..., ALT2_CH])
    assert not np.array_equal(both[..., ALT1_CH], both[..., ALT2_CH])
    assert np.array_equal(both[..., ALT1_CH], deletion[..., ALT1_CH])
    assert np.array_equal(both[..., ALT2_CH], insertion[..., ALT1_CH])
    for k in (0, 3):  # deletion reads match alt 1 only
        assert (both[read_row(k), :, ALT1_CH] == MATCHES).all()
        assert both[read_row(k), CENTER, ALT2_CH] == DIFFERS
    for k in (1, 4):  # insertion reads match alt 2 only
        assert (both[read_row(k), :, ALT2_CH] == MATCHES).all()
        assert both[read_row(k), CENTER, ALT1_CH] == DIFFERS


def test_snp_candidates_get_zero_alt_parts():
    rows = [SNP_A, MATCH, SNP_A, MATCH]
    cand, _, [(_, img)] = setup(rows)
    assert not cand.is_indel
    assert img.shape == DIFF.shape
    assert not img[..., 6:].any()
    _, _, [(_, stacked)] = setup(rows, opts=ROWS)
    assert stacked.shape == (30, 41, 6)
    assert stacked[:10].any() and not stacked[10:].any()


def test_shapes_and_channel_enums_per_mode():
    assert NONE.shape == (10, 41, 6) and channel_enums(NONE) == [1, 2, 3, 4, 5, 6]
    assert DIFF.shape == (10, 41, 8) and channel_enums(DIFF) == [1, 2, 3, 4, 5, 6, 9, 10]
    assert ROWS.shape == (30, 41, 6) and channel_enums(ROWS) == [1, 2, 3, 4, 5, 6]
    default = PileupOptions(alt_aligned_pileup="diff_channels")
    assert default.shape == (100, 221, 8)
    assert PileupOptions(alt_aligned_pileup="rows").shape == (300, 221, 6)
    with pytest.raises(DvcallError, match="diff_channels"):
        PileupOptions(alt_aligned_pileup="base_channels")


def test_rows_mode_stacks_alt_images_with_the_subset_support():
    rows = [DEL_CT, INS_GG, MATCH, DEL_CT, INS_GG, MATCH]
    _, _, images = setup(rows, opts=ROWS)
    _, _, diff_images = setup(rows, opts=DIFF)
    for (subset, img), (_, diff) in zip(images, diff_images):
        assert img.shape == (30, 41, 6)
        ref, alt1, alt2 = img[:10], img[10:20], img[20:]
        assert np.array_equal(alt1[..., DIFF_CH], diff[..., ALT1_CH])
        assert np.array_equal(alt2[..., DIFF_CH], diff[..., ALT2_CH])
        # same reads in the same rows: strand / mapping quality rows agree, support as in the reference image
        for alt in (alt1, alt2):
            drawn = alt[..., BASE_CH:DIFF_CH + 1].any(axis=2)
            assert np.array_equal(alt[..., SUPPORT_CH][drawn], np.broadcast_to(ref[:, :1, SUPPORT_CH], drawn.shape)[drawn])
        # the alt image's reference rows show the alt haplotype
        assert alt1[0, CENTER, BASE_CH] == 30  # 'C' anchor
    ins_img = dict(images)[(1,)]
    assert ins_img[10, CENTER + 1:CENTER + 3, BASE_CH].tolist() == [180, 180]  # 'GG' in the alt reference row


def test_reads_short_after_trimming_are_dropped_but_keep_their_row():
    short = " " * 24 + "." * 12  # 12 bp over the site: shown in the reference image, too short to realign
    assert len(short.strip()) < MIN_TRIMMED_LENGTH
    rows = [INS_GG, MATCH, INS_GG, MATCH, short]
    _, shown, [(_, img)] = setup(rows)
    assert len(shown) == 5
    k = 4  # starts last
    assert img[read_row(k), :, :6].any()
    assert not img[read_row(k), :, 6:].any()
    assert (img[read_row(0), :, ALT1_CH] == MATCHES).all()


def test_homopolymer_deletion_ref_reads_anchor_left_aligned():
    ref = REF[:31] + "AAAA" + REF[35:]
    del_a = "." * 31 + "-" + "." * 28
    _, _, [(_, img)] = setup([del_a, MATCH, del_a, MATCH], ref=ref)
    for k in (1, 3):
        alt = img[read_row(k), :, ALT1_CH]
        assert alt[CENTER] == DIFFERS and (np.delete(alt, CENTER) == MATCHES).all()


def test_window_past_the_canvas_reference_uses_ref_fetch():
    rows = [DEL_CT, MATCH, DEL_CT, MATCH]
    _, _, [(_, full)] = setup(rows)
    short_ref = REF[:48]  # canvas reference ends before the window's end (33 + 20)
    _, _, [(_, fetched)] = setup(rows, canvas_ref=short_ref, ref_fetch=lambda s, e: REF[max(s, 0):e])
    assert np.array_equal(full[..., 6:], fetched[..., 6:])
    # without ref_fetch the window is clipped to the canvas's reference: the same reads match the same way
    _, _, [(_, clipped)] = setup([r[:48] for r in rows], canvas_ref=short_ref)
    assert (clipped[read_row(0), :CENTER + 15, ALT1_CH] == MATCHES).all()


def test_trim_to_window():
    read = make_read("r", 10, "3S20M2I10M4S", seq="A" * 39)
    assert trim_to_window(read, 0, 100) == (0, 39, 7)  # inside: clips kept, starts 3 before its first base
    assert trim_to_window(read, 15, 100) == (8, 39, 15)  # leading clip and 5 aligned bases cut
    assert trim_to_window(read, 0, 25) == (0, 18, 7)  # window ends inside the 20M: the rest is cut
    assert trim_to_window(read, 0, 30) == (0, 25, 7)  # an insertion right at the window's end stays (as DeepVariant)
    assert trim_to_window(read, 0, 40) == (0, 39, 7)  # ends exactly at the window end: trailing clip kept
    deletion = make_read("d", 10, "5M3D5M", seq="C" * 10)
    assert trim_to_window(deletion, 16, 100) == (5, 10, 16)  # window starts inside the deletion


def test_align_to_haplotype():
    hap = "ACGTTGCAGGCTAGCTTACGATCGGATCCATGCA"
    assert align_to_haplotype(hap[5:25], hap, 5) == (5, 0, [[0, 20]])
    h, q, ops = align_to_haplotype("GGGGG" + hap[5:15] + hap[17:30], hap, 0)  # junk start, 2-base deletion
    assert (h, q, ops) == (5, 5, [[0, 10], [2, 2], [0, 13]])
    assert align_to_haplotype("TTTTTTTT", "GGGGGGGGGG", 0) is None
    repeat = "ACGTACGTAC" * 2
    assert [align_to_haplotype("ACGTAC", repeat, e)[0] for e in (1, 3, 11, 13)] == [0, 4, 10, 14]  # nearest occurrence


def test_canvas_without_reads_is_refused():
    reads = pileup_reads(REF, [INS_GG, MATCH, INS_GG, MATCH])
    events = extract_events(reads, REF, 0)
    [cand] = find_candidates(events, "chr1", REF, 0, 0, len(REF))
    with pytest.raises(DvcallError, match="reads="):
        build_images(Canvas(events, REF, 0, 0, len(REF)), cand, DIFF)


def test_trim_on_arrays_equals_the_op_by_op_walk():
    """The bisection over cumulative arrays (long reads' CIGARs) against the op-by-op walk (short reads'), on
    random CIGARs with clips, insertions and deletions and windows the read crosses."""
    from deepvariant_py.alt_aligned import ReadLayout
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(3000):
        ops = [(5, 2)] if rng.random() < 0.2 else []
        ops += [(4, int(rng.integers(1, 8)))] if rng.random() < 0.4 else []
        ops += [(0, int(rng.integers(1, 10)))]
        for _ in range(int(rng.integers(0, 7))):
            ops += [(int(rng.choice([0, 0, 1, 2])), int(rng.integers(1, 10))), (0, int(rng.integers(1, 6)))]
        ops += [(4, int(rng.integers(1, 8)))] if rng.random() < 0.4 else []
        read = make_read("r", int(rng.integers(0, 30)), "".join(f"{n}{'MIDNSHP'[o]}" for o, n in ops))
        ws = int(rng.integers(0, 80))
        we = ws + int(rng.integers(1, 40))
        if we <= read.reference_start or ws >= read.reference_end:
            continue
        layout = ReadLayout(read)
        layout.cigar = layout.cigar + [(5, 1)] * ReadLayout.WALK_UP_TO  # trailing hard clips: forces the arrays
        assert layout.trim(ws, we) == _walk_trim(read.cigartuples, read.reference_start, ws, we), \
            (read.cigarstring, read.reference_start, ws, we)
        checked += 1
    assert checked > 1000
