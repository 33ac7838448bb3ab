"""Pileup tensors (docs/design.md §4): exact pixel values, read selection and alt-subset images on hand-drawn reads."""
from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from builders import pileup_reads
from deepvariant_py.candidates import find_candidates
from deepvariant_py.images import build_images
from deepvariant_py.pileup import (CHANNELS, TECHNOLOGY_CHANNEL_ENUM, Canvas, PileupOptions, alt_subsets, channel_enums,
                                   select_rows)
from deepvariant_py.read_events import extract_events

#          0         1         2         3
#          0123456789012345678901234567890123456789
REF = "GATTACACGTTAGCCATGCAGTCAAGTCGACCTGAACGTG"
SITE = 15  # REF[15] = 'A'
MATCH = "." * len(REF)
SNP_C = "...............C........................"
SNP_G = "...............G........................"

SMALL = PileupOptions(width=21, height=10, ref_rows=2)  # half width 10: image column c <-> position 5 + c
CENTER = 10

BASE = {"A": 250, "G": 180, "T": 100, "C": 30, "*": 0}
BASE_CH, QUAL_CH, MAPQ_CH, STRAND_CH, SUPPORT_CH, DIFF_CH = range(6)


def bq(q):
    return int(254 * min(q, 40) / 40)


def mq(m):
    return int(254 * min(m, 60) / 60)


def pileup(rows, opts=SMALL, ref=REF, site=SITE, **defaults):
    """(candidate, canvas, images) for the single candidate at `site`."""
    reads = pileup_reads(ref, rows, **defaults)
    events = extract_events(reads, ref, 0)
    cands = [c for c in find_candidates(events, "chr1", ref, 0, 0, len(ref)) if c.start == site]
    assert len(cands) == 1, cands
    canvas = Canvas(events, ref, 0, 0, len(ref))
    return cands[0], canvas, build_images(canvas, cands[0], opts)


def pixel(img, row, col):
    return img[row, col].tolist()


def test_reference_layout():
    assert REF[SITE] == "A" and len(REF) == 40
    assert CHANNELS == ("read_base", "base_quality", "mapping_quality", "strand", "read_supports_variant", "base_differs_from_ref")


def test_single_snp_pixels():
    rows = [
        (MATCH, {"quals": 30, "mapq": 60}),
        (SNP_C, {"quals": 35, "mapq": 30, "reverse": True}),
        (SNP_C, {"quals": 45, "mapq": 70}),
        ("        ...............", {"quals": 20, "mapq": 10}),  # positions 8..22
    ]
    cand, _, images = pileup(rows)
    assert cand.alts == ("C",)
    ((subset, img),) = images
    assert subset == (0,)
    assert img.shape == (10, 21, 6) and img.dtype == np.uint8

    # Reference rows: the reference base, Q60, MAPQ 60, forward, "supports nothing", "matches".
    for r in range(2):
        for c in range(21):
            assert pixel(img, r, c) == [BASE[REF[5 + c]], 254, 254, 70, 152, 50]

    # Row 2: reference read, Q30 MAPQ60 forward.
    assert pixel(img, 2, CENTER) == [BASE["A"], bq(30), 254, 70, 152, 50] == [250, 190, 254, 70, 152, 50]
    assert pixel(img, 2, 0) == [BASE[REF[5]], 190, 254, 70, 152, 50]
    # Row 3: alt read on the reverse strand, Q35 MAPQ30.
    assert pixel(img, 3, CENTER) == [BASE["C"], bq(35), mq(30), 240, 254, 254] == [30, 222, 127, 240, 254, 254]
    # Support is a property of the read: the whole row says "supports", even where it matches.
    assert pixel(img, 3, CENTER - 1) == [BASE[REF[14]], 222, 127, 240, 254, 50]
    assert pixel(img, 3, 20) == [BASE[REF[25]], 222, 127, 240, 254, 50]
    # Row 4: BQ and MAPQ capped at 40 and 60.
    assert pixel(img, 4, CENTER) == [30, 254, 254, 70, 254, 254]
    # Row 5: starts at position 8 (column 3), ends at 22 (column 17); MAPQ 10, Q20.
    assert pixel(img, 5, CENTER) == [250, bq(20), mq(10), 70, 152, 50] == [250, 127, 42, 70, 152, 50]
    for c in (0, 1, 2, 18, 19, 20):
        assert pixel(img, 5, c) == [0] * 6
    assert pixel(img, 5, 3) == [BASE[REF[8]], 127, 42, 70, 152, 50]
    assert pixel(img, 5, 17) == [BASE[REF[22]], 127, 42, 70, 152, 50]
    # Rows 6-9: no read.
    assert not img[6:].any()


@pytest.mark.parametrize("q", [0, 9, 10, 11, 19, 20, 29, 30, 33, 39, 40, 41, 60, 93])
def test_base_quality_channel(q):
    rows = [SNP_C] * 2 + [(MATCH, {"quals": 30, "col_quals": {14: q}})]
    _, _, [(_, img)] = pileup(rows)
    assert img[4, CENTER - 1, QUAL_CH] == bq(q)


@pytest.mark.parametrize("m", [5, 6, 7, 13, 20, 29, 30, 31, 45, 59, 60, 61, 255])
def test_mapping_quality_channel(m):
    rows = [SNP_C] * 2 + [(MATCH, {"mapq": m})]
    cand, canvas, [(_, img)] = pileup(rows)
    row = 2 + list(select_rows(canvas, cand, SMALL)).index(2)
    assert img[row, CENTER, MAPQ_CH] == mq(m)
    assert img[row, 0, MAPQ_CH] == mq(m)


def test_every_base_value():
    alts = ["...............T........................",
            "...............G........................"]
    rows = [alts[0]] * 2 + [alts[1]] * 2 + [MATCH]
    cand, _, images = pileup(rows)
    assert cand.alts == ("G", "T")
    img = images[0][1]
    assert sorted({int(v) for v in img[2:7, CENTER, BASE_CH]}) == [100, 180, 250]
    # Reference band: C at position 5 (column 0), G at 8 (column 3), T at 9 (column 4).
    assert img[0, 0, BASE_CH] == 30 and img[0, 3, BASE_CH] == 180 and img[0, 4, BASE_CH] == 100


def test_insertion_drawn_as_star_at_anchor_with_first_inserted_quality():
    ins = "...............[GT]........................."  # anchored on 14, inserted bases are query 15 and 16
    quals = [30] * 15 + [12, 38] + [30] * 25
    rows = [(ins, {"quals": quals})] * 2 + [MATCH]
    cand, _, [(_, img)] = pileup(rows, site=14)
    assert (cand.ref, cand.alts) == ("C", ("CGT",))
    # Site 14 -> image column c <-> position 4 + c; the anchor is the center column.
    assert pixel(img, 2, CENTER) == [0, bq(12), 254, 70, 254, 254]
    assert pixel(img, 2, CENTER + 1) == [BASE[REF[15]], 190, 254, 70, 254, 50]
    assert pixel(img, 2, CENTER - 1) == [BASE[REF[13]], 190, 254, 70, 254, 50]
    assert pixel(img, 4, CENTER) == [BASE[REF[14]], 190, 254, 70, 152, 50]


def test_deletion_drawn_at_anchor_and_deleted_columns_empty():
    dele = "................--......................"  # deletes 16, 17; anchored on 15
    rows = [(dele, {"col_quals": {15: 22}})] * 2 + [MATCH]
    cand, _, [(_, img)] = pileup(rows)
    assert (cand.ref, cand.alts) == ("ATG", ("A",))
    assert pixel(img, 2, CENTER) == [0, bq(22), 254, 70, 254, 254]
    assert pixel(img, 2, CENTER + 1) == [0] * 6
    assert pixel(img, 2, CENTER + 2) == [0] * 6
    assert pixel(img, 2, CENTER + 3) == [BASE[REF[18]], 190, 254, 70, 254, 50]
    assert pixel(img, 4, CENTER + 1) == [BASE[REF[16]], 190, 254, 70, 152, 50]


def test_soft_clips_not_drawn():
    lead = "     ccc................................"  # clip in columns of 5..7, aligned from 8
    trail = "......................gggg"  # aligned to 21, clip drawn at 22..25
    rows = [SNP_C] * 2 + [lead, trail]
    cand, canvas, [(_, img)] = pileup(rows)
    order = list(select_rows(canvas, cand, SMALL))
    r_lead, r_trail = 2 + order.index(2), 2 + order.index(3)
    for c in range(0, 3):  # positions 5..7
        assert pixel(img, r_lead, c) == [0] * 6
    assert pixel(img, r_lead, 3) == [BASE[REF[8]], 190, 254, 70, 152, 50]
    assert pixel(img, r_trail, 16) == [BASE[REF[21]], 190, 254, 70, 152, 50]
    for c in range(17, 21):  # positions 22..25
        assert pixel(img, r_trail, c) == [0] * 6


def test_low_base_quality_at_candidate_start_removes_the_read():
    rows = [SNP_C] * 3 + [
        (MATCH, {"col_quals": {SITE: 9}}),   # removed
        (MATCH, {"col_quals": {SITE: 10}}),  # kept
        (MATCH, {"col_quals": {SITE - 1: 2, SITE + 1: 2}}),  # low elsewhere: kept
        (SNP_C, {"col_quals": {SITE: 5}}),  # an alt read, still removed
    ]
    cand, canvas, [(_, img)] = pileup(rows)
    assert cand.support[6] == 0
    assert select_rows(canvas, cand, SMALL).tolist() == [0, 1, 2, 4, 5]
    assert img[2:7].any(axis=(1, 2)).all() and not img[7:].any()


def test_rows_filtered_by_overlap_and_mapping_quality():
    rows = [SNP_C] * 2 + [
        "..........",                      # ends at 10 = start - 5: not shown
        "...........",                     # covers 10: shown
        "                     ......",     # starts at 21 = end + 5: not shown
        "                    .......",     # starts at 20: shown
        (MATCH, {"mapq": 4}),              # MAPQ < 5: not shown
        (MATCH, {"mapq": 5}),
    ]
    cand, canvas, _ = pileup(rows)
    assert select_rows(canvas, cand, SMALL).tolist() == [0, 1, 3, 7, 5]


def test_rows_sorted_by_start():
    rows = ["      .........C.....", "   ............C......", SNP_C, "          .....C..........", MATCH]
    cand, canvas, [(_, img)] = pileup(rows)
    rows_shown = select_rows(canvas, cand, SMALL)
    assert rows_shown.tolist() == [2, 4, 1, 0, 3]  # starts 0, 0 (input order kept), 3, 6, 10


def test_sort_by_haplotypes_groups_rows_by_hp():
    rows = [
        ("   ............C......", {"hp": 2}),
        (SNP_C, {"hp": 1}),
        (MATCH, {}),
        ("     ..........C.........", {"hp": 1}),
        ("  .............", {"hp": 2}),
        ("    ...........", {}),
    ]
    opts = PileupOptions(width=21, height=10, ref_rows=2, sort_by_haplotypes=True)
    cand, canvas, _ = pileup(rows, opts=opts)
    # HP=1 first, then HP=2, then untagged (the order; DeepVariant puts untagged first); by start within.
    assert select_rows(canvas, cand, opts).tolist() == [1, 3, 4, 0, 2, 5]
    assert select_rows(canvas, cand, SMALL).tolist() == [1, 2, 4, 0, 5, 3]


def test_hp_channel_carries_the_tag_after_the_six_and_before_alt_aligned():
    rows = [(SNP_C, {"hp": 2}), (MATCH, {"hp": 1}), (MATCH, {}), (SNP_C, {"hp": 3})]
    opts = PileupOptions(width=21, height=10, ref_rows=2, sort_by_haplotypes=True, hp_channel=True)
    assert opts.shape == (10, 21, 7) and channel_enums(opts) == [1, 2, 3, 4, 5, 6, 7]
    both = PileupOptions(width=21, height=10, ref_rows=2, hp_channel=True, alt_aligned_pileup="diff_channels")
    assert channel_enums(both) == [1, 2, 3, 4, 5, 6, 7, 9, 10] and both.shape[2] == 9
    cand, canvas, _ = pileup(rows, opts=opts)
    (_, img), = build_images(canvas, cand, opts)
    hp = img[..., 6]
    assert (hp[:2] == 0).all()  # reference rows
    drawn = img[2:6, :, 0] > 0
    # rows: HP1 read, HP2 read, then the untagged ones (no tag, and 3 which is not a haplotype)
    assert [set(hp[2 + i][drawn[i]].tolist()) for i in range(4)] == [{127}, {254}, {0}, {0}]
    assert (hp[2:6][~drawn] == 0).all() and (hp[6:] == 0).all()
    plain = build_images(canvas, cand, replace(opts, hp_channel=False))[0][1]
    assert np.array_equal(plain, img[..., :6])  # the HP channel changes nothing else


def _many_reads(n, seed=7):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        start = rng.randrange(0, SITE)
        end = rng.randrange(SITE + 1, len(REF) + 1)
        row = " " * start + "." * (end - start)
        if i % 3 == 0:
            row = row[:SITE] + "C" + row[SITE + 1:]
        rows.append(row)
    return rows


def test_more_than_95_reads_gives_95_rows_deterministically():
    opts = PileupOptions()
    ref = "ACGT" * 60 + REF + "TGCA" * 60  # long enough for a 221-wide window
    offset = 240
    rows = [" " * offset + r for r in _many_reads(130)]
    reads = pileup_reads(ref, rows)
    events = extract_events(reads, ref, 0)
    (cand,) = [c for c in find_candidates(events, "chr1", ref, 0, 0, len(ref)) if c.start == offset + SITE]
    canvas = Canvas(events, ref, 0, 0, len(ref))
    first = select_rows(canvas, cand, opts)
    second = select_rows(canvas, cand, opts)
    assert len(first) == 95 and len(set(first.tolist())) == 95
    assert first.tolist() == second.tolist()
    starts = events.start[first]
    assert (np.diff(starts) >= 0).all()
    [(_, img1)] = build_images(canvas, cand, opts)
    [(_, img2)] = build_images(Canvas(events, ref, 0, 0, len(ref)), cand, opts)
    assert np.array_equal(img1, img2)
    assert img1[5:].any(axis=(1, 2)).all()  # all 95 read rows are drawn


def test_exactly_95_reads_keeps_input_rows():
    opts = PileupOptions()
    ref = "ACGT" * 60 + REF + "TGCA" * 60
    rows = [" " * 240 + r for r in _many_reads(95, seed=3)]
    reads = pileup_reads(ref, rows)
    events = extract_events(reads, ref, 0)
    (cand,) = [c for c in find_candidates(events, "chr1", ref, 0, 0, len(ref)) if c.start == 240 + SITE]
    shown = select_rows(Canvas(events, ref, 0, 0, len(ref)), cand, opts)
    assert sorted(shown.tolist()) == list(range(95))


def test_default_shape_and_reference_band():
    ref = "ACGT" * 60 + REF + "TGCA" * 60
    site = 240 + SITE
    rows = [" " * 240 + SNP_C] * 3 + [" " * 240 + MATCH] * 2
    cand, canvas, [(subset, img)] = pileup(rows, opts=PileupOptions(), ref=ref, site=site)
    assert img.shape == (100, 221, 6) and img.dtype == np.uint8
    assert PileupOptions().shape == (100, 221, 6) and PileupOptions().half_width == 110
    # 5 reference rows, then 5 reads, then 90 empty rows.
    for c in (0, 110, 220):
        for r in range(5):
            assert pixel(img, r, c) == [BASE[ref[site - 110 + c]], 254, 254, 70, 152, 50]
    assert pixel(img, 5, 110) == [30, 190, 254, 70, 254, 254]
    assert pixel(img, 8, 110) == [250, 190, 254, 70, 152, 50]
    assert not img[10:].any()
    # Reads cover positions 240..279: columns 240 - 145 = 95 .. 134.
    assert not img[5:10, :95].any() and img[5:10, 95:135].all(axis=(1, 2)).all() and not img[5:10, 135:].any()


def test_alt_subsets():
    assert alt_subsets(1) == [(0,)]
    assert alt_subsets(2) == [(0,), (1,), (0, 1)]
    assert alt_subsets(3) == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    assert len(alt_subsets(4)) == 4 + 6


def test_two_alts_three_images_only_support_channel_differs():
    rows = [SNP_C] * 3 + [SNP_G] * 3 + [MATCH] * 2
    cand, canvas, images = pileup(rows)
    assert cand.alts == ("C", "G")
    assert [s for s, _ in images] == [(0,), (1,), (0, 1)]
    imgs = [img for _, img in images]
    for other in imgs[1:]:
        diff = np.argwhere(imgs[0] != other)
        assert set(diff[:, 2].tolist()) == {SUPPORT_CH}
    order = select_rows(canvas, cand, SMALL).tolist()
    c_row, g_row, ref_row = 2 + order.index(0), 2 + order.index(3), 2 + order.index(6)
    support = {s: (img[c_row, CENTER, SUPPORT_CH], img[g_row, CENTER, SUPPORT_CH], img[ref_row, CENTER, SUPPORT_CH])
               for s, img in images}
    assert support == {(0,): (254, 152, 152), (1,): (152, 254, 152), (0, 1): (254, 254, 152)}
    for _, img in images:
        assert (img[:2, :, SUPPORT_CH] == 152).all()
        assert not img[2 + len(order):].any()


def test_other_alts_support_channel_gives_the_other_alts_reads_their_own_value():
    rows = [SNP_C] * 3 + [SNP_G] * 3 + [MATCH] * 2
    other_alts = replace(SMALL, support_channel="other_alts")
    cand, canvas, images = pileup(rows, opts=other_alts)
    order = select_rows(canvas, cand, other_alts).tolist()
    c_row, g_row, ref_row = 2 + order.index(0), 2 + order.index(3), 2 + order.index(6)
    support = {s: (img[c_row, CENTER, SUPPORT_CH], img[g_row, CENTER, SUPPORT_CH], img[ref_row, CENTER, SUPPORT_CH])
               for s, img in images}
    assert support == {(0,): (254, 76, 152), (1,): (76, 254, 152), (0, 1): (254, 254, 152)}
    _, _, binary = pileup(rows)
    for (_, img), (_, plain) in zip(images, binary):  # only the other alt's reads differ from DeepVariant's images
        assert np.array_equal(np.delete(img, SUPPORT_CH, axis=2), np.delete(plain, SUPPORT_CH, axis=2))
        assert (img[:2, :, SUPPORT_CH] == 152).all() and not img[2 + len(order):].any()


def test_other_alts_support_channel_leaves_one_alt_candidates_and_uncalled_alleles_as_they_were():
    rows = [SNP_C] * 3 + [MATCH] * 3
    other_alts = replace(SMALL, support_channel="other_alts")
    (_, img), = pileup(rows, opts=other_alts)[2]
    (_, plain), = pileup(rows)[2]
    assert np.array_equal(img, plain)
    from deepvariant_py.candidates import NO_ALT, UNCALLED
    from deepvariant_py.pileup import with_support
    base, drawn = np.zeros((6, 3, 6), np.uint8), np.ones((4, 3), bool)
    support = np.array([0, 1, NO_ALT, UNCALLED])  # a read of an allele below the thresholds is no other alt
    assert with_support(base, drawn, support, (0,), replace(SMALL, ref_rows=2, support_channel="other_alts"))[2:, 0, 4].tolist() == \
        [254, 76, 152, 152]


def test_support_channel_must_be_a_known_mode():
    with pytest.raises(Exception, match="support_channel 'three' is not supported"):
        PileupOptions(support_channel="three")


def test_three_alts_six_images():
    rows = [SNP_C] * 3 + [SNP_G] * 3 + ["...............T........................"] * 3 + [MATCH]
    cand, _, images = pileup(rows)
    assert cand.alts == ("C", "G", "T")
    assert [s for s, _ in images] == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    base = images[0][1]
    for _, img in images[1:]:
        assert np.array_equal(np.delete(img, SUPPORT_CH, axis=2), np.delete(base, SUPPORT_CH, axis=2))


def _long_and_short_reads(n_long, n_short):
    """Reads over position 300: n_long of 600 bp (> LONG_READ_BASES: long reads), then n_short of 40 bp."""
    from builders import make_read

    return ([make_read(f"long{i}", 0, "600M") for i in range(n_long)]
            + [make_read(f"short{i}", 280 + i % 5, "40M") for i in range(n_short)])


def test_technology_channel_tells_short_from_long_reads_and_caps_each_kind_at_half():
    from deepvariant_py.candidates import Candidate

    reads = _long_and_short_reads(30, 200)
    ref = "A" * 2000
    events = extract_events(reads, ref, 0)
    assert events.is_long.tolist() == [True] * 30 + [False] * 200
    opts = PileupOptions(technology_channel=True)
    assert channel_enums(opts) == [1, 2, 3, 4, 5, 6, TECHNOLOGY_CHANNEL_ENUM]
    canvas = Canvas(events, ref, 0, 0, 2000)
    cand = Candidate("chr1", 300, "A", ("C",), 0, (0, 0), support=np.zeros(0, np.int8))
    rows = select_rows(canvas, cand, opts)
    # 95 rows: all 30 long reads (fewer than half) and 65 short ones
    assert len(rows) == 95 and int(events.is_long[rows].sum()) == 30
    rows = select_rows(canvas, cand, replace(opts, technology_channel=False))
    assert int(events.is_long[rows].sum()) < 30  # without the quota the short reads crowd them out
    many = _long_and_short_reads(120, 200)
    ev2 = extract_events(many, ref, 0)
    rows = select_rows(Canvas(ev2, ref, 0, 0, 2000), cand, opts)
    assert len(rows) == 95 and int(ev2.is_long[rows].sum()) == 47  # both kinds over half: half each (95 // 2 long)



#         0         1         2         3
#         0123456789012345678901234567890123456789
HP_REF = "GATTACACGTTAGCGAAAAAAATGCAGTCAAGTCGACCTG"  # G at 14, A7 at 15..21, T at 22
HP_DEL = "...............-........................"  # one A fewer, written at the run's start


def test_spanning_indel_reads_leave_out_reads_ending_inside_the_repeat():
    rows = [HP_DEL] * 3 + ["." * 40] * 2 + [
        "." * 19,                      # ends inside the run (at 18): spells both alleles alike
        " " * 19 + "." * 21,           # starts inside the run (at 19)
        " " * 10 + "." * 13,           # 10..22: covers the G, the run and the T
        " " * 10 + "." * 12,           # 10..21: reaches the last A, where the alt reads T: enough
        " " * 10 + "." * 11,           # 10..20: not enough
    ]
    opts = replace(SMALL, height=14)
    cand, canvas, _ = pileup(rows, opts, ref=HP_REF, site=14)
    assert (cand.ref, cand.alts) == ("GA", ("G",))
    assert sorted(select_rows(canvas, cand, opts).tolist()) == list(range(10))
    spanning = replace(opts, indel_reads="spanning")
    assert sorted(select_rows(canvas, cand, spanning).tolist()) == [0, 1, 2, 3, 4, 7, 8]
    [(_, img)] = build_images(canvas, cand, spanning)
    assert img[2:9].any(axis=(1, 2)).all() and not img[9:].any()  # seven reads drawn, the rest empty


def test_spanning_indel_reads_keep_reads_carrying_an_alt_and_every_read_of_a_snp():
    ends_early = "." * 19
    rows = [HP_DEL[:19]] * 2 + [HP_DEL] + [ends_early] * 2  # alt reads that end inside the run stay
    cand, canvas, _ = pileup(rows, ref=HP_REF, site=14)
    assert sorted(select_rows(canvas, cand, replace(SMALL, indel_reads="spanning")).tolist()) == [0, 1, 2]
    snp = "..........C" + "." * 29  # a SNP at 10: no repeat to span, every overlapping read shows
    cand, canvas, _ = pileup([snp] * 3 + ["." * 12] * 2, ref=HP_REF, site=10)
    assert select_rows(canvas, cand, replace(SMALL, indel_reads="spanning")).tolist() == [0, 1, 2, 3, 4]


def test_indel_reads_must_be_a_known_mode():
    with pytest.raises(Exception, match="indel_reads 'all' is not supported"):
        PileupOptions(indel_reads="all")
