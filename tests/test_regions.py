"""Region strings, BED files, merging, fixed partitions and sharding (docs/design.md §0)."""
from __future__ import annotations

import gzip

import pytest

from deepvariant_py.errors import InputError
from deepvariant_py.regions import (Region, merge_regions, nothing_to_call_warning, parse_region_string, parse_regions, partition,
                                    read_bed, subtract_regions)

LENGTHS = {"20": 64_444_167, "21": 46_709_983, "chrM": 16_571}


def test_parse_with_commas_is_one_based_inclusive():
    r = parse_region_string("20:1,000-2,000", LENGTHS)
    assert r == Region("20", 999, 2000)
    assert r.length == 1001 and str(r) == "20:1000-2000"
    assert parse_region_string(" 20:1000-2000 ", LENGTHS) == r


def test_parse_whole_contig_and_single_position():
    assert parse_region_string("21", LENGTHS) == Region("21", 0, 46_709_983)
    assert parse_region_string("20:100", LENGTHS) == Region("20", 99, 100)
    assert parse_region_string("chrM:1-16571", LENGTHS) == Region("chrM", 0, 16_571)


def test_unknown_contig_with_chr_prefix_hint():
    with pytest.raises(InputError) as exc:
        parse_region_string("chr20:1-100", LENGTHS)
    assert "'chr20'" in str(exc.value) and "'20'" in str(exc.value)
    with pytest.raises(InputError) as exc:
        parse_region_string("M:1-100", {"chrM": 16_571})
    assert "'chrM'" in str(exc.value)
    with pytest.raises(InputError) as exc:
        parse_region_string("22:1-100", LENGTHS)
    assert "not in the reference" in str(exc.value) and "calls it" not in str(exc.value)


@pytest.mark.parametrize("text", ["20:64,444,168", "20:1-64444168", "chrM:16000-20000"])
def test_out_of_bounds(text):
    with pytest.raises(InputError, match="past the end"):
        parse_region_string(text, LENGTHS)


def test_last_base_is_in_bounds():
    assert parse_region_string("20:64,444,167", LENGTHS) == Region("20", 64_444_166, 64_444_167)


@pytest.mark.parametrize("text", ["20:0-100", "20:2000-1000", "20:0"])
def test_empty_or_reversed(text):
    with pytest.raises(InputError, match="empty or reversed"):
        parse_region_string(text, LENGTHS)


@pytest.mark.parametrize("text", ["20:abc", "20:1-2-3", "", "20 21:5", "20:-5"])
def test_unparseable(text):
    with pytest.raises(InputError, match="cannot parse region"):
        parse_region_string(text, LENGTHS)


def test_read_bed(tmp_path):
    bed = tmp_path / "x.bed"
    bed.write_text(
        "# a comment\n"
        "track name=x\n"
        "browser position 20:1-10\n"
        "\n"
        "20\t100\t200\tname\t0\t+\n"
        "20 300 400\n"  # space separated
        "chrM\t16000\t16571\n"  # to the contig end
        "21\t50\t50\n"  # empty: dropped
    )
    assert read_bed(str(bed), LENGTHS) == [Region("20", 100, 200), Region("20", 300, 400), Region("chrM", 16000, 16571)]


@pytest.mark.parametrize("name", ["x.bed.gz", "x.bed.bgz", "x.bed"])  # gzipped whatever the name says
def test_read_bed_gz(tmp_path, name):
    bed = tmp_path / name
    with gzip.open(bed, "wt") as fh:
        fh.write("21\t0\t10\n")
    assert read_bed(str(bed), LENGTHS) == [Region("21", 0, 10)]


def test_read_bed_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_bed(str(tmp_path / "missing.bed"), LENGTHS)
    bad = tmp_path / "bad.bed"
    bad.write_text("20\t1\t5\n20\tone\t5\n")
    with pytest.raises(InputError, match="line 2"):
        read_bed(str(bad), LENGTHS)
    short = tmp_path / "short.bed"
    short.write_text("20\t1\n")
    with pytest.raises(InputError, match="line 1"):
        read_bed(str(short), LENGTHS)
    renamed = tmp_path / "renamed.bed"
    renamed.write_text("chr21\t1\t5\n")
    with pytest.raises(InputError) as exc:
        read_bed(str(renamed), LENGTHS)
    assert "'chr21'" in str(exc.value) and "'21'" in str(exc.value)


def test_merge_regions_sorted_by_reference_order():
    order = ["20", "21", "chrM"]
    regions = [Region("chrM", 5, 10), Region("21", 10, 20), Region("20", 50, 60), Region("20", 0, 10),
               Region("20", 10, 15), Region("20", 55, 70), Region("21", 21, 30)]
    assert merge_regions(regions, order) == [
        Region("20", 0, 15),  # touching intervals merge
        Region("20", 50, 70),  # overlapping
        Region("21", 10, 20), Region("21", 21, 30),  # a 1-bp gap stays
        Region("chrM", 5, 10),
    ]
    # Reference order, not alphabetical.
    assert [r.contig for r in merge_regions(regions, ["chrM", "21", "20"])] == ["chrM", "21", "21", "20", "20"]
    assert merge_regions([Region("20", 0, 100), Region("20", 10, 20)], order) == [Region("20", 0, 100)]
    assert merge_regions([], order) == []


def test_parse_regions_mixes_strings_and_beds(tmp_path):
    bed = tmp_path / "targets.bed"
    bed.write_text("20\t1500\t2500\n21\t0\t100\n")
    regions = parse_regions(["20:1,001-2,000", str(bed), "chrM:1-10 21:51-200"], LENGTHS)
    assert regions == [Region("20", 1000, 2500), Region("21", 0, 200), Region("chrM", 0, 10)]


def test_partition_aligned_to_multiples():
    assert partition([Region("20", 999, 2500)]) == [Region("20", 999, 1000), Region("20", 1000, 2000), Region("20", 2000, 2500)]
    assert partition([Region("20", 0, 3000)]) == [Region("20", 0, 1000), Region("20", 1000, 2000), Region("20", 2000, 3000)]
    assert partition([Region("20", 1200, 1300)]) == [Region("20", 1200, 1300)]
    assert partition([Region("20", 10, 25)], size=10) == [Region("20", 10, 20), Region("20", 20, 25)]
    assert partition([Region("20", 0, 0)]) == []
    # Partitions do not depend on how a region was split beforehand.
    whole = partition([Region("20", 500, 4200)])
    pieces = partition([Region("20", 500, 2100), Region("20", 2100, 4200)])
    assert {(p.start // 1000) for p in whole} == {(p.start // 1000) for p in pieces}
    assert all(p.length <= 1000 and p.start // 1000 == (p.end - 1) // 1000 for p in whole)


def test_shards_take_blocks_of_consecutive_partitions():
    from deepvariant_py.regions import SHARD_BLOCK, Shard, stretches

    regions = (Region("20", 0, 10_000), Region("21", 0, 2_500))
    parts = partition(list(regions))
    assert len(parts) == 13
    shards = [list(Shard(regions, i, 3)) for i in range(3)]  # too few partitions for blocks of 10: blocks of 13 // 3 = 4
    assert shards == [[parts[i] for i in (0, 1, 2, 3, 12)], [parts[i] for i in (4, 5, 6, 7)], [parts[i] for i in (8, 9, 10, 11)]]
    assert [len(Shard(regions, i, 3)) for i in range(3)] == [5, 4, 4]
    assert list(Shard(regions)) == parts
    assert list(Shard(regions, 20, 40)) == [] and len(Shard(regions, 20, 40)) == 0
    many = (Region("20", 0, 100_000),)
    two = [list(Shard(many, i, 2)) for i in range(2)]
    assert [p.start // 1000 for p in two[1][:SHARD_BLOCK + 1]] == list(range(10, 20)) + [30]
    assert sorted(two[0] + two[1]) == partition(list(many))
    # stretches: touching partitions, split at gaps, contigs and `most`
    runs = list(stretches(shards[0] + [Region("21", 2_600, 3_000)], most=3))
    assert [[(p.contig, p.start) for p in run] for run in runs] == [
        [("20", 0), ("20", 1000), ("20", 2000)], [("20", 3000)], [("21", 2000)], [("21", 2600)]]


def test_a_shard_deals_the_partitions_of_the_whole_run_without_building_them():
    """Shard against dealing the list of every partition (i // block) % count, on odd region sets; a genome's
    shard is counted and walked without the 3 million partitions ever being made."""
    import random
    import time

    from deepvariant_py.regions import SHARD_BLOCK, Shard

    rng = random.Random(3)
    for _ in range(200):
        size = rng.choice([7, 100, 1000])
        regions, pos = [], rng.randrange(0, 50)
        for contig in rng.sample(["a", "b", "c"], rng.randint(1, 3)):
            for _ in range(rng.randint(1, 4)):
                start = pos + rng.randrange(1, 3 * size)
                pos = start + rng.randrange(1, 15 * size)
                regions.append(Region(contig, start, pos))
        every = partition(regions, size)
        count = rng.randint(1, 5)
        block = max(1, min(SHARD_BLOCK, len(every) // count))
        for index in range(count):
            want = [p for i, p in enumerate(every) if (i // block) % count == index]
            got = Shard(tuple(regions), index, count, size)
            assert list(got) == want and len(got) == len(want)
        assert Shard(tuple(regions), 0, 1, size).run_starts() == {  # each counts reads from the stretch before's end
            (r.contig, r.start): regions[i - 1].end if i and regions[i - 1].contig == r.contig else -1
            for i, r in enumerate(regions)}
    genome = tuple(Region(f"chr{i}", 0, 150_000_000) for i in range(20))
    t0 = time.perf_counter()
    shard = Shard(genome, 1, 32)
    first = next(iter(shard))
    assert len(shard) == len(range(1, 3_000_000 // SHARD_BLOCK, 32)) * SHARD_BLOCK  # 93,750
    assert first == Region("chr0", 10_000, 11_000) and time.perf_counter() - t0 < 1.0


def test_region_set_merges_once_and_answers_by_bisection():
    from deepvariant_py.regions import Region, RegionSet

    rs = RegionSet([Region("c", 10, 20), Region("c", 15, 30), Region("c", 30, 35), Region("c", 50, 60),
                    Region("d", 0, 5), Region("c", 70, 70)])
    assert rs.by_contig() == {"c": [(10, 35), (50, 60)], "d": [(0, 5)]}  # overlapping and touching merged, empty dropped
    assert rs.size == 25 + 10 + 5
    assert [p for p in (9, 10, 34, 35, 49, 50, 59, 60) if rs.contains("c", p)] == [10, 34, 50, 59]
    assert not rs.contains("x", 1)
    assert rs.overlaps("c", 0, 11) and rs.overlaps("c", 34, 50) and rs.overlaps("c", 59, 100)
    assert not rs.overlaps("c", 0, 10) and not rs.overlaps("c", 35, 50) and not rs.overlaps("c", 60, 100)
    assert not RegionSet([]).overlaps("c", 0, 100)


HLA = {"chr6": 1_000_000, "HLA-A*01:01:01:01": 3_503, "chr1": 5_000, "chr1:100": 700}


@pytest.mark.parametrize("text, region", [
    ("HLA-A*01:01:01:01", Region("HLA-A*01:01:01:01", 0, 3_503)),  # a whole contig whose name holds ':'
    ("HLA-A*01:01:01:01:100-200", Region("HLA-A*01:01:01:01", 99, 200)),  # split at the last ':'
    ("{HLA-A*01:01:01:01}:1,000", Region("HLA-A*01:01:01:01", 999, 1000)),
    ("{HLA-A*01:01:01:01}", Region("HLA-A*01:01:01:01", 0, 3_503)),
    ("{chr1:100}", Region("chr1:100", 0, 700)),
    ("{chr1}:100", Region("chr1", 99, 100)),
    ("chr6:5-10", Region("chr6", 4, 10)),
])
def test_contig_names_with_colons_as_htslib_reads_them(text, region):
    assert parse_region_string(text, HLA) == region


def test_a_region_that_is_both_a_contig_and_a_range_asks_for_braces():
    with pytest.raises(InputError, match=r"write \{chr1:100\} for the contig or \{chr1\}:100"):
        parse_region_string("chr1:100", HLA)
    with pytest.raises(InputError, match="cannot parse region"):
        parse_region_string("{chr1", HLA)
    with pytest.raises(InputError, match="not in the reference"):
        parse_region_string("HLA-B*07:02:01:1-5", HLA)


def test_nearby_regions_are_one_window_and_a_region_set_clips_to_a_span():
    """A BED of many small nearby intervals is partitioned as windows (each a few partitions, not one per
    interval); make_examples keeps what lies in the intervals (RegionSet.clip)."""
    from deepvariant_py.regions import RegionSet, calling_windows
    regions = [Region("a", 10, 11), Region("a", 100, 150), Region("a", 349, 400), Region("a", 600, 601), Region("b", 5, 9)]
    assert calling_windows(regions, 200) == [Region("a", 10, 400), Region("a", 600, 601), Region("b", 5, 9)]
    assert calling_windows(regions, 1) == regions  # nothing closer than 1 bp: as they are
    inside = RegionSet(regions)
    assert inside.clip("a", 0, 1_000) == [(10, 11), (100, 150), (349, 400), (600, 601)]
    assert inside.clip("a", 120, 360) == [(120, 150), (349, 360)] and inside.clip("a", 11, 100) == []
    assert inside.clip("b", 0, 7) == [(5, 7)] and inside.clip("c", 0, 10) == []


def test_excluded_regions_cut_holes_and_drop_what_they_cover():
    """--exclude-regions: the pieces left of each calling region, in order; an exclusion on another contig, one
    touching a region's edge, and one covering a whole region."""
    regions = [Region("20", 100, 200), Region("20", 300, 400), Region("21", 0, 50)]
    exclude = [Region("20", 150, 160), Region("20", 190, 310), Region("21", 0, 50), Region("chrM", 0, 10),
               Region("20", 155, 158)]
    assert subtract_regions(regions, exclude) == [Region("20", 100, 150), Region("20", 160, 190), Region("20", 310, 400)]
    assert subtract_regions(regions, []) == regions
    assert subtract_regions(regions, [Region("20", 200, 300)]) == regions  # half-open: touching takes nothing
    assert subtract_regions([Region("20", 0, 10)], [Region("20", 9, 10)]) == [Region("20", 0, 9)]


def test_nothing_to_call_says_which_flag_emptied_the_regions():
    assert nothing_to_call_warning(["20:1-10"], [], 1) is None
    assert nothing_to_call_warning([], [], 0) is None  # no shared contig: said elsewhere
    assert "--regions empty.bed holds no interval" in nothing_to_call_warning(["empty.bed"], [], 0, 0)
    assert "--regions empty.bed holds no interval" in nothing_to_call_warning(["empty.bed"], ["20"], 0, 0)  # not the exclusion
    assert "cover all of --regions 20:1-10" in nothing_to_call_warning(["20:1-10"], ["20"], 0, 1)
    assert "cover every contig" in nothing_to_call_warning([], ["20", "21"], 0)


def test_an_exclusion_bed_may_name_contigs_the_reference_lacks_but_not_only_those(tmp_path):
    """review40: a whole-genome blacklist (chr21 lines) on a chr20-only reference stopped --exclude-regions; a BED
    whose every line misses the reference (20 vs chr20) is still the error with its hint, or it would exclude nothing."""
    from deepvariant_py.regions import absent_contigs_note
    bed = tmp_path / "black.bed"
    bed.write_text("20\t10\t20\nchr22\t0\t5\nchr22\t9\t12\n")
    absent: list[str] = []
    assert parse_regions([str(bed)], LENGTHS, absent) == [Region("20", 10, 20)] and absent == ["chr22", "chr22"]
    assert absent_contigs_note("--exclude-regions", absent) == ("--exclude-regions: 2 BED line(s) name contigs the "
                                                                "reference lacks (chr22): they leave nothing out")
    with pytest.raises(InputError, match="contig 'chr22' is not in the reference"):
        parse_regions([str(bed)], LENGTHS)  # --regions: every line must be on the reference
    only = tmp_path / "chr.bed"
    only.write_text("chr20\t0\t5\n")
    with pytest.raises(InputError, match="contig 'chr20' is not in the reference.*'20'"):
        parse_regions([str(only)], LENGTHS, [])


def test_region_file_inputs_name_each_flags_bed_files_and_skip_region_strings(tmp_path):
    from deepvariant_py.regions import region_file_inputs

    bed = tmp_path / "r.bed"
    bed.write_text("chr20\t0\t10\n")
    assert region_file_inputs({"--regions": ["chr20:1-100", str(bed)], "--par-regions": [None], "--exclude-regions": []}) \
        == {f"--regions {bed}": str(bed)}
