"""Reading alignments (docs/design.md §1): index and contig checks, read filters, and the per-partition read cap."""
from __future__ import annotations

import os
import random

import numpy as np
import pysam
import pytest

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.alignment_files import open_alignments
from deepvariant_py.errors import InputError
from deepvariant_py.reads import (RESERVOIR_SEED, ReadCounts, ReadFilter, fetch_reads, reads_warning, reservoir_sample,
                                  sample_name)
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region

LENGTH = 2000
OTHER = 500


def _seq(n, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.fixture
def reference(tmp_path):
    ref = Reference(write_fasta(tmp_path / "ref.fa", {"chr20": _seq(LENGTH, 1), "chr21": _seq(OTHER, 2)}))
    yield ref
    ref.close()


def bam_header(names=("chr20", "chr21"), lengths=(LENGTH, OTHER), sample="NA12878"):
    return header_for(names[0], lengths[0], more=list(zip(names[1:], lengths[1:])), sample=sample)


def open_bam(tmp_path, reference, reads, header=None, name="reads.bam"):
    header = header or bam_header()
    path = write_bam(tmp_path / name, reads, header)
    return open_alignments(path, reference)


def names(reads):
    return sorted(r.query_name for r in reads)


def test_filters(tmp_path, reference):
    h = bam_header()
    reads = [
        make_read("good", 100, "50M", header=h),
        make_read("dup", 100, "50M", header=h, flag=0x400),
        make_read("secondary", 100, "50M", header=h, flag=0x100),
        make_read("supplementary", 100, "50M", header=h, flag=0x800),
        make_read("qcfail", 100, "50M", header=h, flag=0x200),
        make_read("mapq4", 100, "50M", header=h, mapq=4),
        make_read("mapq5", 100, "50M", header=h, mapq=5),
        make_read("unmapped", 100, "50M", header=h, flag=0x4),
    ]
    # Paired, not proper, mate on chr21: improperly placed -> dropped; the same on chr20 is kept.
    far = make_read("mate_elsewhere", 120, "50M", header=h, flag=0x1 | 0x40)
    far.next_reference_id, far.next_reference_start = 1, 10
    near = make_read("discordant_same_contig", 120, "50M", header=h, flag=0x1 | 0x40)
    near.next_reference_id, near.next_reference_start = 0, 1500
    proper = make_read("proper_mate_elsewhere", 120, "50M", header=h, flag=0x1 | 0x2 | 0x40)
    proper.next_reference_id, proper.next_reference_start = 1, 10
    # Paired with no mate contig at all (RNEXT '*', mate-unmapped flag missing): DeepVariant needs a mate contig to drop it.
    nocontig = make_read("mate_without_contig", 120, "50M", header=h, flag=0x1 | 0x40)
    # Mate flagged unmapped (placed on chr21 all the same): not improperly placed.
    lone = make_read("mate_unmapped", 120, "50M", header=h, flag=0x1 | 0x8 | 0x40)
    lone.next_reference_id, lone.next_reference_start = 1, 10
    bare = make_read("no_bases", 130, "50M", header=h, quals=None)
    bare.query_sequence = None  # SEQ '*'
    reads += [far, near, proper, nocontig, lone, bare]
    with open_bam(tmp_path, reference, reads, h) as handle:
        region = Region("chr20", 0, 1000)
        kept = fetch_reads(handle, region, ReadFilter())
        assert names(kept) == ["discordant_same_contig", "good", "mapq5", "mate_unmapped", "mate_without_contig",
                               "proper_mate_elsewhere"]
        kept = fetch_reads(handle, region, ReadFilter(keep_duplicates=True, keep_secondary=True, keep_supplementary=True,
                                                      min_mapping_quality=0))
        assert names(kept) == ["discordant_same_contig", "dup", "good", "mapq4", "mapq5", "mate_unmapped",
                               "mate_without_contig", "proper_mate_elsewhere", "secondary", "supplementary"]
        assert fetch_reads(handle, Region("chr20", 1000, 2000), ReadFilter()) == []
        assert fetch_reads(handle, Region("chrX", 0, 10), ReadFilter()) == []


def test_read_counts_tally_each_read_once_with_its_reason(tmp_path, reference):
    h = bam_header()
    reads = [make_read("good", 900, "200M", header=h),  # spans the partitions [0,1000) and [1000,2000)
             make_read("dup", 100, "50M", header=h, flag=0x400),
             make_read("mapq0", 1500, "50M", header=h, mapq=0),
             make_read("only_insertion", 1200, "20I", header=h),
             make_read("clipped_insertion", 1300, "10S10I", header=h),
             make_read("good2", 1600, "50M", header=h),
             make_read("secondary", 1700, "50M", header=h, flag=0x100),
             make_read("supplementary", 1700, "50M", header=h, flag=0x800),
             make_read("qcfail", 1700, "50M", header=h, flag=0x200)]
    counts = ReadCounts()
    with open_bam(tmp_path, reference, reads, h) as handle:
        first = fetch_reads(handle, Region("chr20", 0, 1000), ReadFilter(), counts, count_from=-1)
        second = fetch_reads(handle, Region("chr20", 1000, 2000), ReadFilter(), counts)
    assert names(first) == ["good"] and names(second) == ["good", "good2"]
    assert (counts.seen, counts.kept) == (9, 2)
    assert counts.dropped == {"duplicate": 1, "low_mapq": 1, "no_aligned_bases": 2, "secondary": 1, "supplementary": 1,
                              "qc_fail": 1}
    assert counts.seen == counts.kept + sum(counts.dropped.values())


def test_a_spliced_read_counts_only_where_it_aligns_bases(tmp_path, reference):
    """hostile14: RNA-seq reads (50M<intron>N50M) counted, capped and drawn over every site their intron crossed,
    which turned hom-alts het and made NoCalls, exit 0. Each piece is now a read of its own; a read that only skips
    a partition is not in it; counts stay one per read, and the run says the reads are spliced."""
    from deepvariant_py.reads import spliced_warning
    h = bam_header()
    reads = [make_read("rna", 100, "50M3000N50M", header=h), make_read("dna", 1500, "50M", header=h),
             make_read("rna2", 1980, "30M500N30M", header=h)]
    counts = ReadCounts()
    with open_bam(tmp_path, reference, reads, h) as handle:
        first = fetch_reads(handle, Region("chr20", 0, 1000), ReadFilter(), counts, count_from=-1)
        skipped = fetch_reads(handle, Region("chr20", 1000, 2000), ReadFilter(), counts)
        third = fetch_reads(handle, Region("chr20", 2000, 3000), ReadFilter(), counts)
        last = fetch_reads(handle, Region("chr20", 3000, 4000), ReadFilter(), counts)
        skips_only = fetch_reads(handle, Region("chr20", 500, 1000), ReadFilter(), ReadCounts(), count_from=-1)
    assert [(r.query_name, r.reference_start, r.cigarstring) for r in first] == [("rna", 100, "50M")]
    assert [(r.query_name, r.reference_start, r.cigarstring) for r in skipped] == [("dna", 1500, "50M"), ("rna2", 1980, "30M")]
    assert [(r.query_name, r.reference_start, r.cigarstring) for r in third] == [("rna2", 1980, "30M"), ("rna2", 2510, "30M")]
    assert [(r.query_name, r.reference_start) for r in last] == [("rna", 3150)]
    assert skips_only == []
    assert (counts.seen, counts.kept, counts.spliced) == (3, 3, 2) and counts.dropped == {}
    assert spliced_warning(counts).startswith("2 of 3 reads are spliced alignments (CIGAR N")
    assert spliced_warning(ReadCounts(seen=5, kept=5)) is None


def test_reference_contigs_the_reads_lack_are_named(tmp_path, reference):
    """hostile14: without --regions, contigs of the reference that the BAM's header lacks got no VCF or gVCF record
    and no word."""
    from deepvariant_py.reads import open_reads, uncalled_contigs_note
    h = bam_header(names=("chr20",), lengths=(LENGTH,))
    path = write_bam(tmp_path / "only20.bam", [make_read("a", 10, "50M", header=h)], h)
    with open_reads(path, reference) as sources:
        assert uncalled_contigs_note(sources, reference) == ("1 reference contig is not in the reads' header (chr21): "
                                                             "not called, and a gVCF has no records there")
    with open_reads(write_bam(tmp_path / "both.bam", [], bam_header()), reference) as sources:
        assert uncalled_contigs_note(sources, reference) is None


def test_many_supplementary_alignments_point_to_keep_supplementary():
    """hostile16: long reads split by the aligner lost their supplementary pieces without a word (INDEL F1 0.9855
    with --keep-supplementary, 0.9599 without, on simulated HiFi with half the reads split)."""
    from deepvariant_py.reads import supplementary_warning
    split = ReadCounts(seen=1327, kept=936, dropped={"supplementary": 391})
    assert supplementary_warning(split, ReadFilter()) == ("391 of the 1,327 reads (29%) are supplementary alignments "
                                                          "(pieces of reads the aligner split), which are not used: "
                                                          "--keep-supplementary uses them")
    assert supplementary_warning(split, ReadFilter(keep_supplementary=True)) is None
    assert supplementary_warning(ReadCounts(seen=1327, kept=1300, dropped={"supplementary": 27}), ReadFilter()) is None


def test_spliced_reads_are_counted_once_under_the_cap_and_downsampling(tmp_path, reference):
    """Review of 8a2cc13: the cap sampled pieces, so a read with one piece kept and one capped counted as both (40
    seen, 24 kept, 34 capped); a downsampled read that only skips the partition was dropped twice. seen = kept +
    dropped, each read once."""
    h = bam_header()
    capped, skipping = ReadCounts(), ReadCounts()
    with open_bam(tmp_path, reference, [make_read(f"r{i}", 100 + i, "50M100N50M", header=h) for i in range(40)], h) as handle:
        fetch_reads(handle, Region("chr20", 0, 1000), ReadFilter(max_reads_per_partition=30), capped)
    with open_bam(tmp_path, reference, [make_read(f"s{i}", 100, "50M3000N50M", header=h) for i in range(200)], h,
                  name="skip.bam") as handle:
        fetch_reads(handle, Region("chr20", 500, 1000), ReadFilter(downsample_fraction=0.5), skipping, count_from=-1)
    for counts in (capped, skipping):
        assert counts.seen == counts.kept + sum(counts.dropped.values()), counts
    assert capped.seen == 40 and capped.kept > 0 and capped.dropped.get("over_read_cap", 0) > 0
    assert skipping.seen == 200 and set(skipping.dropped) == {"downsampled"}


def test_reads_warning_names_the_main_cause_and_the_flag(tmp_path):
    assert reads_warning(ReadCounts(seen=10, kept=6, dropped={"low_mapq": 4}), ReadFilter()) is None
    assert reads_warning(ReadCounts(seen=10, kept=1, dropped={"over_read_cap": 9}), ReadFilter()) is None  # asked for
    assert reads_warning(ReadCounts(), ReadFilter()).startswith("no read overlaps the regions called")
    most = reads_warning(ReadCounts(seen=5552, kept=15, dropped={"mate_on_other_contig": 5462, "duplicate": 75}), ReadFilter())
    assert most.startswith("5,537 of the 5,552 reads in the regions were filtered out (99.7%), so calls rest on 15 reads: "
                           "5,462 are improperly paired with a mate on another contig") and "75 duplicates" in most
    text = reads_warning(ReadCounts(seen=10, kept=0, dropped={"low_mapq": 7, "duplicate": 3}), ReadFilter(min_mapping_quality=20))
    assert text.startswith("all 10 reads") and "7 are below --min-mapping-quality 20" in text and "3 duplicates" in text


def test_fetch_returns_reads_overlapping_region(tmp_path, reference):
    h = bam_header()
    reads = [make_read(f"r{s}", s, "50M", header=h) for s in (0, 949, 950, 951, 1000, 1100, LENGTH - 50)]
    with open_bam(tmp_path, reference, reads, h) as handle:  # a 50M read at s covers [s, s + 50)
        assert names(fetch_reads(handle, Region("chr20", 1000, 1100), ReadFilter())) == ["r1000", "r951"]
        assert names(fetch_reads(handle, Region("chr20", 999, 1000), ReadFilter())) == ["r950", "r951"]


def test_missing_index(tmp_path, reference):
    path = write_bam(tmp_path / "noindex.bam", [make_read("a", 10, header=bam_header())], bam_header(), index=False)
    with pytest.raises(InputError, match="samtools index"):
        open_alignments(path, reference)


def test_missing_file(tmp_path, reference):
    with pytest.raises(InputError, match="does not exist"):
        open_alignments(str(tmp_path / "nope.bam"), reference)


def test_not_a_bam(tmp_path, reference):
    path = tmp_path / "fake.bam"
    path.write_text("this is not a BAM\n")
    (tmp_path / "fake.bam.bai").write_text("")
    with pytest.raises(InputError, match="not a BAM or CRAM"):
        open_alignments(str(path), reference)


def test_an_unaligned_bam_says_to_align_it(tmp_path, reference):
    """hostile16: the unaligned BAM PacBio and ONT basecallers deliver got pysam's 'file has no sequences defined ...
    Consider opening with check_sq=False' and 'is the file truncated?'."""
    path = str(tmp_path / "ubam.bam")
    with pysam.AlignmentFile(path, "wb", header={"HD": {"VN": "1.6", "SO": "unknown"}, "RG": [{"ID": "x", "SM": "s"}]}) as out:
        read = pysam.AlignedSegment(out.header)
        read.query_name, read.query_sequence, read.flag = "r", "ACGT", 4
        out.write(read)
    with pytest.raises(InputError, match=r"ubam.bam is unaligned \(its header has no @SQ .*align it to --ref first"):
        open_alignments(path, reference)


def test_contig_name_mismatch(tmp_path, reference):
    h = bam_header(names=("20", "21"))
    with pytest.raises(InputError) as exc:
        open_bam(tmp_path, reference, [make_read("a", 10, header=h)], h)
    message = str(exc.value)
    assert "'20'" in message and "'chr20'" in message


def test_no_shared_contig(tmp_path, reference):
    h = bam_header(names=("chrZ",), lengths=(100,))
    with pytest.raises(InputError, match="shares no contig"):
        open_bam(tmp_path, reference, [make_read("a", 10, header=h)], h)


def test_contig_length_mismatch(tmp_path, reference):
    h = bam_header(lengths=(LENGTH + 1, OTHER))
    with pytest.raises(InputError) as exc:
        open_bam(tmp_path, reference, [make_read("a", 10, header=h)], h)
    message = str(exc.value)
    assert "chr20" in message and "2,001" in message and "2,000" in message


def test_sample_name(tmp_path, reference):
    with open_bam(tmp_path, reference, [make_read("a", 10, header=bam_header())]) as handle:
        assert sample_name(handle) == "NA12878"
    h = bam_header(sample=None)
    with open_bam(tmp_path, reference, [make_read("a", 10, header=h)], h, name="nosample.bam") as handle:
        assert sample_name(handle) == "SAMPLE"


def _many(h, n=200):
    rng = random.Random(5)
    return [make_read(f"r{i:03d}", rng.randrange(0, 900), "50M", header=h) for i in range(n)]


def test_reservoir_cap_deterministic(tmp_path, reference):
    h = bam_header()
    path = write_bam(tmp_path / "many.bam", _many(h), h)
    flt = ReadFilter(max_reads_per_partition=25)
    region = Region("chr20", 0, 1000)
    runs = []
    for _ in range(2):
        with open_alignments(path, reference) as handle:
            runs.append(fetch_reads(handle, region, flt))
    first, second = runs
    assert len(first) == 25 and len(set(names(first))) == 25
    assert [r.query_name for r in first] == [r.query_name for r in second]
    starts = [r.reference_start for r in first]
    assert starts == sorted(starts)
    with open_alignments(path, reference) as handle:
        assert len(fetch_reads(handle, region, ReadFilter())) == 200  # under the default cap of 1500
        assert len(fetch_reads(handle, region, ReadFilter(max_reads_per_partition=0))) == 200  # 0 = no cap


def test_reservoir_sample_algorithm_r():
    items = list(range(100))
    a = reservoir_sample(items, 10, np.random.RandomState(RESERVOIR_SEED))
    b = reservoir_sample(items, 10, np.random.RandomState(RESERVOIR_SEED))
    assert a == b and len(set(a)) == 10 and set(a) <= set(items)
    assert reservoir_sample(items, 10, np.random.RandomState(1)) != a
    assert reservoir_sample(items[:5], 10, np.random.RandomState(RESERVOIR_SEED)) == items[:5]
    # Uniform: every item is kept with probability k/n.
    rng = np.random.RandomState(0)
    counts = np.zeros(20)
    for _ in range(2000):
        counts[reservoir_sample(list(range(20)), 5, rng)] += 1
    assert np.all(np.abs(counts / 2000 - 0.25) < 0.05)


def test_downsample_fraction_is_deterministic(tmp_path, reference):
    h = bam_header()
    path = write_bam(tmp_path / "many.bam", _many(h), h)
    region = Region("chr20", 0, 1000)
    with open_alignments(path, reference) as handle:
        half = fetch_reads(handle, region, ReadFilter(downsample_fraction=0.5))
        again = fetch_reads(handle, region, ReadFilter(downsample_fraction=0.5))
        everything = fetch_reads(handle, region, ReadFilter(downsample_fraction=1.0))
    assert names(half) == names(again)
    assert 60 < len(half) < 140
    assert len(everything) == 200


def test_read_ahead_gives_each_partition_what_fetching_it_alone_gives(tmp_path, reference):
    """ReadAhead decodes a stretch once; every partition still gets the reads (and counts) of its own fetch, odd
    reads included: placed but unmapped, no reference bases (all insertion), spanning partitions, a deletion."""
    from deepvariant_py.reads import ReadAhead
    from deepvariant_py.regions import partition, stretches

    rng = random.Random(5)
    reads = [make_read(f"r{i}", rng.randrange(0, LENGTH - 150), "150M", header=bam_header()) for i in range(300)]
    reads += [make_read("unmapped", 999, "10M", flag=0x4, header=bam_header()),
              make_read("insertion", 1000, "8I", header=bam_header()),
              make_read("spanning", 950, "40M30D60M", header=bam_header()),
              make_read("low", 400, "50M", mapq=1, header=bam_header())]
    parts = partition([Region("chr20", 0, LENGTH)], 100)
    flt = ReadFilter()
    for most in (1, 3, 20):
        direct, ahead = open_bam(tmp_path, reference, reads), ReadAhead(open_bam(tmp_path, reference, reads))
        stretch_of = {p: Region(run[0].contig, run[0].start, run[-1].end) for run in stretches(parts, most) for p in run}
        counts_direct, counts_ahead = ReadCounts(), ReadCounts()
        for p in parts:
            ahead.plan(stretch_of[p])
            want = [r.query_name for r in fetch_reads(direct, p, flt, counts_direct)]
            assert [r.query_name for r in fetch_reads(ahead, p, flt, counts_ahead)] == want
            assert [r.query_name for r in ahead.fetch("chr20", p.start, p.end)] == [r.query_name for r in direct.fetch("chr20", p.start, p.end)]
        assert counts_ahead == counts_direct and counts_direct.dropped
        assert [r.query_name for r in ahead.fetch("chr21", 0, 100)] == []  # outside the plan: read from the file
        direct.close()
        ahead.close()


def test_long_read_count_counts_clipped_bases_and_stops_at_the_limit(tmp_path, reference):
    from deepvariant_py.reads import long_read_count

    h = bam_header()
    reads = [make_read("short", 10, "100M", header=h), make_read("clipped", 20, "400S200M", header=h),  # 600 bp read
             make_read("hard", 30, "300H250M", header=h), make_read("exact", 40, "500M", header=h),
             make_read("secondary", 50, "1000M", header=h, flag=0x100),
             make_read("other", 5, "100S500M", header=h, contig="chr21")]
    handle = open_bam(tmp_path, reference, reads, header=h)
    assert long_read_count(handle, [Region("chr20", 0, LENGTH)]) == (4, 2)  # not the secondary, not chr21
    assert long_read_count(handle, [Region("chr20", 0, LENGTH)], limit=2) == (2, 1)
    assert long_read_count(handle, []) == (5, 3)  # no regions: the whole file
    assert long_read_count(handle, [Region("chr20", 1500, LENGTH)]) == (0, 0)


def test_mapped_reads_come_from_a_bam_index_and_are_unknown_for_a_cram():
    """A .crai holds no per-contig counts (pysam answers zeros): a CRAM must not read as a file without reads."""
    import os

    from deepvariant_py.alignment_files import mapped_reads
    testdata = os.path.join(os.path.dirname(__file__), "..", "testdata")
    ref = Reference(os.path.join(testdata, "ucsc.hg19.chr20.unittest.fasta.gz"))
    try:
        for name, expect in (("NA12878.chr20_10.00-10.02Mb.bam", "counted"), ("NA12878.chr20_10.00-10.02Mb.cram", None)):
            handle = open_alignments(os.path.join(testdata, name), ref)
            try:
                n = mapped_reads(handle, {"chr20"})
                assert (n is None) if expect is None else n > 1000, (name, n)
            finally:
                handle.close()
    finally:
        ref.close()


@pytest.mark.parametrize("shuffled, fix", [(True, "samtools sort"), (False, "run `samtools index")])
def test_a_bam_without_index_or_sort_order_header_gets_the_fix_that_works(tmp_path, reference, shuffled, fix):
    """`bwa mem | samtools view -b` writes no @HD: an unsorted file must be told to sort (indexing it fails)."""
    import pysam

    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "chr20", "LN": LENGTH}, {"SN": "chr21", "LN": OTHER}]})
    reads = [make_read(f"r{i}", p, "50M", header=header) for i, p in enumerate((100, 900, 400, 1200))]
    if not shuffled:
        reads.sort(key=lambda r: r.reference_start)
    path = str(tmp_path / "noheader.bam")
    with pysam.AlignmentFile(path, "wb", header=header) as out:
        for r in reads:
            out.write(r)
    with pytest.raises(InputError, match=fix) as err:
        open_alignments(path, reference)
    assert ("not sorted by position" in str(err.value)) == shuffled


def test_reads_on_contigs_the_reference_lacks_are_named(tmp_path):
    """A BAM aligned to GRCh38's analysis set (alts, decoys, HLA), called against a no-alt reference: the reads on
    the missing contigs are never called, and the warning says how many there are."""
    from deepvariant_py.reads import open_reads, unreferenced_reads_warning

    seq = "ACGT" * 250
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": seq})
    header = header_for("chr1", 1000, more=[("HLA-A*01:01:01:01", 1000), ("chrUn_KI270302v1", 1000)])
    reads = [make_read(f"r{i}", 100, "50M", seq[100:150], header=header) for i in range(3)]
    reads += [make_read(f"h{i}", 10, "50M", seq[:50], header=header, contig="HLA-A*01:01:01:01") for i in range(5)]
    bam = write_bam(tmp_path / "r.bam", reads, header)
    reference = Reference(fasta)
    with open_reads(bam, reference) as sources:
        line = unreferenced_reads_warning(sources, reference)
    assert line.startswith("2 contigs of the reads are not in the reference (HLA-A*01:01:01:01, chrUn_KI270302v1) and "
                           "hold 5 mapped reads, which are not called: to call them, use the reference")
    complete = write_fasta(tmp_path / "all.fa", {"chr1": seq, "HLA-A*01:01:01:01": seq, "chrUn_KI270302v1": seq})
    with open_reads(bam, Reference(complete)) as sources:
        assert unreferenced_reads_warning(sources, Reference(complete)) is None
    empty = write_bam(tmp_path / "e.bam", reads[:3], header)  # the extra contigs hold no read: nothing to say
    with open_reads(empty, reference) as sources:
        assert unreferenced_reads_warning(sources, reference) is None


def test_odd_cigars_are_read_as_htslib_and_gatk_read_them(tmp_path, reference):
    """hostile18: 74M0D74M made an indel candidate with no alt allele (IndexError in make_examples), 74M0N74M a
    'spliced' read cut in two; zero-length operations are legal SAM and mean nothing."""
    h = bam_header()
    reads = [make_read("zero_del", 100, "30M0D20M", header=h), make_read("zero_skip", 110, "10M0N40M", header=h),
             make_read("zero_ins_first", 120, "0I5S0M45M0D", header=h), make_read("only_zero_m", 130, "0M50I", header=h),
             make_read("plain", 140, "50M", header=h),
             # hostile18: indels at an end (nothing aligned anchors them) became PASS indel calls; GATK strips them
             make_read("ends", 150, "2H3S4I2D40M3D5I", header=h), make_read("inner", 160, "20M2I20M3D10M", header=h)]
    with open_bam(tmp_path, reference, reads, h) as handle:
        counts = ReadCounts()
        kept = fetch_reads(handle, Region("chr20", 0, 1000), ReadFilter(), counts, count_from=-1)
    assert {r.query_name: (r.cigarstring, r.reference_start) for r in kept} == {
        "zero_del": ("50M", 100), "zero_skip": ("50M", 110), "zero_ins_first": ("5S45M", 120), "plain": ("50M", 140),
        "ends": ("2H7S40M5S", 152), "inner": ("20M2I20M3D10M", 160)}
    assert counts.dropped == {"no_aligned_bases": 1} and counts.spliced == 0  # 0M50I: nothing aligned once the empty M goes


def test_an_index_older_than_its_bam_is_refused(tmp_path, reference):
    """hostile18: a BAM written again with more reads kept its old .bai; htslib served regions from the old bins
    and the reads after them were left out (32 PASS calls of 50 kb lost, exit 0)."""
    import shutil
    h = bam_header()
    # blocks of the first BAM's reads are the same bytes in the second, so the old index reads them fine: only
    # the reads after them are missing (as when a BAM is rewritten with one more lane's reads at its end)
    early = [make_read(f"r{i:05d}", i // 2, "50M", header=h) for i in range(3000)]
    later = [make_read(f"s{i:05d}", 1600 + i // 2, "50M", header=h) for i in range(200)]
    def written(name, reads):  # in order, straight from pysam: the same reads give the same bytes
        path = str(tmp_path / name)
        with pysam.AlignmentFile(path, "wb", header=h) as out:
            for r in reads:
                out.write(r)
        pysam.index(path)
        return path

    old, new = written("old.bam", early), written("new.bam", early + later)
    open_alignments(new, reference).close()
    shutil.copy(old + ".bai", new + ".bai")  # the index of the BAM before the later reads were added
    with pytest.raises(InputError, match=r"holds mapped reads its index .*new\.bam\.bai does not know of .*`samtools index .*new\.bam`"):
        open_alignments(new, reference)
    # review42: htslib takes a .csi before a .bai (a fresh .bai beside a stale .csi lost reads), and an index made
    # while the BAM had no read lists none (the whole BAM unseen)
    pysam.index(new)
    pysam.index("-c", old, old + ".csi")
    shutil.copy(old + ".csi", new + ".csi")
    with pytest.raises(InputError, match=r"its index .*new\.bam\.csi does not know of .*`samtools index -c .*new\.bam -o "
                                         r".*new\.bam\.csi`"):  # a fresh .bai beside it is never read
        open_alignments(new, reference)
    os.rename(new + ".csi", str(tmp_path / "new.csi"))  # x.csi is read before x.bam.bai too
    with pytest.raises(InputError, match=r"its index .*/new\.csi does not know of"):
        open_alignments(new, reference)
    os.remove(tmp_path / "new.csi")
    open_alignments(new, reference).close()  # the fresh .bai
    pysam.index("-c", new, str(tmp_path / "new.csi"))
    os.rename(new + ".bai", str(tmp_path / "new.bai.moved"))
    open_alignments(new, reference).close()  # verify44: an x.csi alone was "no index"
    os.remove(tmp_path / "new.csi")
    os.rename(str(tmp_path / "new.bai.moved"), new + ".bai")
    empty = written("empty.bam", [])
    shutil.copy(empty + ".bai", new + ".bai")
    with pytest.raises(InputError, match="holds mapped reads its index .* does not know of"):
        open_alignments(new, reference)
    unplaced = pysam.AlignedSegment(h)  # reads without a contig follow the indexed ones in a matching BAM
    unplaced.query_name, unplaced.flag, unplaced.reference_id, unplaced.query_sequence = "u", 0x4, -1, "ACGT"
    with_unplaced = write_bam(tmp_path / "unplaced.bam", early + [unplaced], h)
    open_alignments(with_unplaced, reference).close()


def test_a_file_that_stores_every_read_twice_is_refused(tmp_path, reference):
    """hostile18: a BAM merged with itself counted every read twice without a word (genotypes moved); mates and
    R1/R2 aligned apart as single-end reads share names, but not place and strand."""
    from deepvariant_py.reads import open_reads
    h = bam_header()
    once = [make_read(f"r{i}", 10 * i, "50M", header=h) for i in range(100)]
    twice = once + [make_read(f"r{i}", 10 * i, "50M", header=h) for i in range(100)]
    with pytest.raises(InputError, match=r"holds its reads twice \(\d+ of its first 200 primary reads are copies"):
        open_reads([write_bam(tmp_path / "twice.bam", twice, h)], reference)
    pairs = once + [make_read(f"r{i}", 10 * i + 300, "50M", header=h, reverse=True) for i in range(100)]  # same names
    open_reads([write_bam(tmp_path / "single_end_mates.bam", pairs, h)], reference).close()


def test_a_crai_older_than_its_cram_is_refused(tmp_path, reference):
    """verify43: a CRAM written again with more reads kept its old .crai: 20 PASS calls of 50 kb lost, exit 0."""
    import shutil
    h = bam_header()
    early = [make_read(f"r{i:05d}", i // 2, "50M", header=h) for i in range(3000)]
    later = [make_read(f"s{i:05d}", 1600 + i // 2, "50M", header=h) for i in range(200)]
    crams = []
    for name, reads in (("old", early), ("new", early + later)):
        bam = write_bam(tmp_path / f"{name}.bam", reads, h)
        crams.append(str(tmp_path / f"{name}.cram"))
        pysam.view("-C", "-T", reference.path, "-o", crams[-1], bam, catch_stdout=False)
        pysam.index(crams[-1])
    open_alignments(crams[1], reference).close()  # a matching .crai: only the EOF container follows its last slice
    shutil.copy(crams[0] + ".crai", crams[1] + ".crai")
    with pytest.raises(InputError, match=r"holds reads its index .*new\.cram\.crai does not list .*`samtools index .*new\.cram`"):
        open_alignments(crams[1], reference)


def test_a_bam_whatshap_haplotag_wrote_is_known_by_its_header(tmp_path):
    from deepvariant_py.reads import haplotagged_by_whatshap
    plain = header_for("chr1", 1000)
    tagged = pysam.AlignmentHeader.from_dict({**plain.to_dict(), "PG": [
        {"ID": "bwa", "PN": "bwa", "CL": "bwa mem ref.fa r1.fq"},
        {"ID": "whatshap", "PN": "whatshap", "VN": "2.8", "CL": "whatshap haplotag -o out.bam calls.vcf.gz in.bam"}]})
    phased_only = pysam.AlignmentHeader.from_dict({**plain.to_dict(), "PG": [
        {"ID": "whatshap", "PN": "whatshap", "CL": "whatshap phase -o phased.vcf calls.vcf in.bam"}]})
    paths = {}
    for name, header in (("plain", plain), ("tagged", tagged), ("phased_only", phased_only)):
        paths[name] = write_bam(tmp_path / f"{name}.bam", [make_read("r", 10, header=header)], header)
    assert haplotagged_by_whatshap([paths["tagged"]])
    assert not haplotagged_by_whatshap([paths["plain"]]) and not haplotagged_by_whatshap([paths["phased_only"]])
    assert not haplotagged_by_whatshap([paths["tagged"], paths["plain"]]) and not haplotagged_by_whatshap([])
    assert not haplotagged_by_whatshap([str(tmp_path / "missing.bam")])
